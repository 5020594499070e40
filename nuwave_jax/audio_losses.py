"""Losses of an output waveform against the ground truth, in JAX: what a few-step sampler is
fine-tuned with (the audio students that match their teachers add such a loss; docs/reference.md §9).

- `log_spectral_l1`: the mean absolute difference of log10 power spectra (periodic Hann, centered
  frames with reflect padding), over several resolutions. The power is floored at 1e-8 as the LSD
  metric floors it (docs/reference.md §5), so a pause filled with noise above that floor costs as
  many log units as it misses by, however quiet in absolute terms.
- `waveform_l1`: the mean absolute sample difference, which keeps phase and level.
"""

import jax
import jax.numpy as jnp
import numpy as np

from nuwave_jax import stft as numpy_stft

POWER_FLOOR = 1e-8


def log_power_spectrum(audio: jax.Array, n_fft: int) -> jax.Array:
  """log10(max(|STFT|^2, 1e-8)) with hop n_fft / 4: [batch, time] -> [batch, frames, n_fft / 2 + 1].
  time must be at least n_fft / 2 + 1 (the reflect padding)."""
  hop = n_fft // 4
  padded = jnp.pad(audio, ((0, 0), (n_fft // 2, n_fft // 2)), mode='reflect')
  frames = 1 + (padded.shape[1] - n_fft) // hop
  index = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
  window = jnp.asarray(numpy_stft.hann_window(n_fft), jnp.float32)
  spectrum = jnp.fft.rfft(padded[:, index] * window, axis=-1)
  return jnp.log10(jnp.maximum(jnp.abs(spectrum) ** 2, POWER_FLOOR))


def log_spectral_l1(estimate: jax.Array, reference: jax.Array, n_ffts=(512, 1024, 2048)) -> jax.Array:
  """Mean over resolutions of mean |log power(estimate) - log power(reference)|: a scalar.
  estimate, reference: [batch, time]."""
  return jnp.mean(jnp.stack([jnp.mean(jnp.abs(log_power_spectrum(estimate, n) - log_power_spectrum(reference, n)))
                             for n in n_ffts]))


def waveform_l1(estimate: jax.Array, reference: jax.Array) -> jax.Array:
  """mean |estimate - reference| over every sample: a scalar."""
  return jnp.mean(jnp.abs(estimate - reference))
