"""The low-resolution condition y_c, made from 48 kHz audio: NU-Wave's (docs/reference.md §4) and,
at the end, NU-Wave 2's any-rate condition with its band mask (§8).

This numpy version is the single definition; the TF version in `nuwave_jax.data` (built on the fly in
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
from nuwave_jax.configuration import SAMPLE_RATE_HZ

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


# NU-Wave 2 (docs/reference.md §8): any input rate, a Chebyshev low-pass and polyphase resampling.
BAND_BINS = 513  # the STFT bins of NU-Wave 2's spectral transform (n_fft 1024)


def band_mask(input_rate_hz: int, bins: int = BAND_BINS, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
  """[bins] int32, 1 for the bins below the input's cutoff (rate // 2): int(cutoff / (sr / 2) * bins)."""
  mask = np.zeros(bins, np.int32)
  mask[:int((input_rate_hz // 2) / (sample_rate_hz / 2) * bins)] = 1
  return mask


def band_limited(audio: np.ndarray, input_rate_hz: int, order: int = 8, ripple_db: float = 0.05,
                 sample_rate_hz: int = SAMPLE_RATE_HZ) -> tuple[np.ndarray, np.ndarray]:
  """NU-Wave 2's test-time condition for 48 kHz ground truth: (cond [batch, time] float32, band
  [batch, 513] int32). Chebyshev type I low-pass (order 8, ripple 0.05 dB) at the input's cutoff
  (rate // 2), zero-phase (sosfiltfilt), polyphase resampling to 2 x cutoff and back, cut to the
  input's length; a 48 kHz input rate is its own condition. audio: [batch, time], time a multiple
  of 256 for the network."""
  import scipy.signal  # here: only NU-Wave 2 needs it
  audio = np.asarray(audio, np.float64)
  if audio.ndim != 2:
    raise ValueError(f'band_limited takes [batch, time] audio, got shape {audio.shape}')
  cutoff = input_rate_hz // 2
  band = np.broadcast_to(band_mask(input_rate_hz, sample_rate_hz=sample_rate_hz), (len(audio), BAND_BINS))
  if 2 * cutoff >= sample_rate_hz:
    return audio.astype(np.float32), band.copy()
  sos = scipy.signal.cheby1(order, ripple_db, cutoff / (sample_rate_hz / 2), btype='lowpass', output='sos')
  low = scipy.signal.sosfiltfilt(sos, audio, axis=-1)
  low = scipy.signal.resample_poly(low, 2 * cutoff, sample_rate_hz, axis=-1)
  up = scipy.signal.resample_poly(low, sample_rate_hz, 2 * cutoff, axis=-1)
  cond = np.zeros_like(audio)
  cond[:, :min(up.shape[1], audio.shape[1])] = up[:, :audio.shape[1]]
  return cond.astype(np.float32), band.copy()


def from_low_rate(audio: np.ndarray, rate_hz: int,
                  sample_rate_hz: int = SAMPLE_RATE_HZ) -> tuple[np.ndarray, np.ndarray]:
  """NU-Wave 2's condition for a real recording at rate_hz: polyphase resampling to 48 kHz, cut to
  a multiple of 256 samples, and the band of its rate. audio [batch, n] -> (cond [batch, time]
  float32, band [batch, 513] int32)."""
  import scipy.signal
  up = scipy.signal.resample_poly(np.asarray(audio, np.float64), sample_rate_hz, rate_hz, axis=-1)
  up = up[:, :up.shape[1] // 256 * 256]
  band = np.broadcast_to(band_mask(min(rate_hz, sample_rate_hz), sample_rate_hz=sample_rate_hz),
                         (len(up), BAND_BINS))
  return up.astype(np.float32), band.copy()
