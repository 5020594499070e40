"""NU-Wave's low-resolution condition y_c, made from 48 kHz audio (docs/reference.md §4).

This numpy version is the single definition; the TF version (`conditioning_tf.py`, made on the fly in
the input pipeline) is held to it by tests. Three steps, as the original trains:
  1. brick-wall low-pass: STFT (n_fft 1024, hop 256, periodic Hann, centered, reflect padding) of the
     signal with n_fft zeros appended, zero bins >= int((n_fft/2 + 1) / ratio), inverse STFT, crop;
  2. decimate: y[::ratio] (the 24 or 16 kHz signal);
  3. back to 48 kHz length by linear interpolation with half-pixel centers
     (PyTorch `Upsample(mode='linear', align_corners=False)`), cropped to the input length.
A real low-rate recording enters at step 3 (`upsample_linear`).
"""

import numpy as np

from nuwave_jax import stft

DEFAULT_N_FFT = 1024
DEFAULT_HOP = 256


def cutoff_bin(n_fft: int, ratio: int) -> int:
  """First zeroed STFT bin: int(513 / 2) = 256 (12.0 kHz), int(513 / 3) = 171 (8.016 kHz)."""
  return int((n_fft // 2 + 1) / ratio)


def lowpass(audio: np.ndarray, ratio: int, n_fft: int = DEFAULT_N_FFT,
            hop: int = DEFAULT_HOP) -> np.ndarray:
  """STFT brick-wall low-pass. audio: [batch, time] -> [batch, time] float32."""
  audio = np.asarray(audio, np.float64)
  spectrum = stft.stft(np.pad(audio, ((0, 0), (0, n_fft))), n_fft, hop)
  spectrum[..., cutoff_bin(n_fft, ratio):] = 0.0
  return stft.istft(spectrum, n_fft, hop, audio.shape[1]).astype(np.float32)


def upsample_linear(low: np.ndarray, ratio: int, length: int | None = None) -> np.ndarray:
  """Half-pixel linear interpolation by an integer ratio. low: [batch, n] -> [batch, length].

  Output sample i reads source coordinate (i + 0.5) / ratio - 0.5, clamped to [0, n - 1].
  length defaults to n * ratio; a shorter length crops the end.
  """
  low = np.asarray(low, np.float64)
  n = low.shape[-1]
  length = n * ratio if length is None else length
  source = np.clip((np.arange(length) + 0.5) / ratio - 0.5, 0.0, None)
  left = np.minimum(np.floor(source).astype(np.int64), n - 1)
  right = np.minimum(left + 1, n - 1)
  frac = source - left
  return (low[..., left] * (1.0 - frac) + low[..., right] * frac).astype(np.float32)


def low_rate_signal(audio: np.ndarray, ratio: int, n_fft: int = DEFAULT_N_FFT,
                    hop: int = DEFAULT_HOP) -> np.ndarray:
  """Steps 1-2: the simulated low-rate recording, 48 kHz / ratio. [batch, time] -> [batch, ceil(time / ratio)]."""
  audio = np.asarray(audio, np.float32)
  if audio.ndim != 2:
    raise ValueError(f'the condition takes [batch, time] audio, got shape {audio.shape}')
  return lowpass(audio, ratio, n_fft, hop)[:, ::ratio]


def make_condition(audio: np.ndarray, ratio: int, n_fft: int = DEFAULT_N_FFT,
                   hop: int = DEFAULT_HOP) -> np.ndarray:
  """The condition y_c for 48 kHz audio. audio: [batch, time] float32 -> [batch, time] float32."""
  audio = np.asarray(audio, np.float32)
  return upsample_linear(low_rate_signal(audio, ratio, n_fft, hop), ratio, audio.shape[-1])
