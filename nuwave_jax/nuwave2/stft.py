"""NU-Wave 2's short-time Fourier transform in JAX, as the original's torch.stft and torch.istft compute
it (n_fft 1024, hop 256, periodic Hann, centered with reflect padding, normalized, onesided): the
spectra of its Fourier units, and the bins that its band mask, `sample.keep_band` and its inputs'
lengths (a multiple of the hop) refer to.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from nuwave_jax.stft import hann_window

N_FFT = 1024
HOP = 256
BINS = N_FFT // 2 + 1
QUARTERS = N_FFT // HOP  # a frame spans 4 hops


def stft(x: jax.Array) -> jax.Array:
  """torch.stft(n_fft 1024, hop 256, Hann, center=True with reflect padding, normalized=True,
  onesided) along the last axis: float32 [..., time] -> complex64 [..., time / 256 + 1 frames, 513].
  time must be a multiple of 256."""
  *lead, time = x.shape
  frames = time // HOP + 1
  pad = [(0, 0)] * len(lead) + [(N_FFT // 2, N_FFT // 2)]
  blocks = jnp.pad(x, pad, mode='reflect').reshape(*lead, -1, HOP)  # a frame is 4 consecutive blocks
  window = jnp.asarray((hann_window(N_FFT) / math.sqrt(N_FFT)).reshape(QUARTERS, HOP), jnp.float32)
  framed = jnp.stack([blocks[..., k:k + frames, :] for k in range(QUARTERS)], axis=-2) * window
  return jnp.fft.rfft(framed.reshape(*lead, frames, N_FFT), axis=-1)


def _overlap_add_envelope(frames: int) -> np.ndarray:
  """The sum of the squared windows over the kept output samples (see `istft`), float64."""
  squares = (hann_window(N_FFT)**2).reshape(QUARTERS, HOP)
  envelope = np.zeros((frames + QUARTERS - 1, HOP))
  for k in range(QUARTERS):
    envelope[k:k + frames] += squares[k]
  return envelope[2:frames + 1].reshape(-1)


def istft(spectrum: jax.Array) -> jax.Array:
  """torch.istft with the settings of `stft` and no length: complex [..., frames, 513] -> float32
  [..., 256 (frames - 1)]. Output block j (256 samples) is the overlap-add of quarter k of frame
  j - k; the first and last half frame are cut (blocks 2 .. frames are kept), so the window's zeros
  never divide."""
  *lead, frames, _ = spectrum.shape
  framed = jnp.fft.irfft(spectrum, n=N_FFT, axis=-1).reshape(*lead, frames, QUARTERS, HOP)
  window = hann_window(N_FFT).reshape(QUARTERS, HOP)
  none = jnp.zeros((*lead, 1, HOP), framed.dtype)  # a frame before the first or after the last
  blocks = (jnp.concatenate([framed[..., 2:, 0, :], none], axis=-2) * window[0] +
            framed[..., 1:, 1, :] * window[1] + framed[..., :-1, 2, :] * window[2] +
            jnp.concatenate([none, framed[..., :-2, 3, :]], axis=-2) * window[3])
  scale = jnp.asarray(math.sqrt(N_FFT) / _overlap_add_envelope(frames), jnp.float32)
  return blocks.reshape(*lead, -1) * scale
