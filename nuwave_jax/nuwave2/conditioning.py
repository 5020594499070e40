"""NU-Wave 2's condition in numpy (docs/reference.md §8): the input at 48 kHz and its band mask.

Made from 48 kHz ground truth as the original's test does (`band_limited`: a Chebyshev low-pass and
polyphase resampling down and back), or from a real recording at its own rate (`from_low_rate`). The
training condition draws the filter per example (`band_limit.py`, in TF, held to `band_limited`).
"""

import numpy as np
import scipy.signal

from nuwave_jax.configuration import SAMPLE_RATE_HZ
from nuwave_jax.nuwave2.stft import BINS
from nuwave_jax.nuwave2.stft import HOP


def band_mask(input_rate_hz: int, bins: int = BINS, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
  """[bins] int32, 1 for the bins below the input's cutoff (rate // 2): int(cutoff / (sr / 2) * bins)."""
  mask = np.zeros(bins, np.int32)
  mask[:int((input_rate_hz // 2) / (sample_rate_hz / 2) * bins)] = 1
  return mask


def band_limited(audio: np.ndarray, input_rate_hz: int, order: int = 8, ripple_db: float = 0.05,
                 sample_rate_hz: int = SAMPLE_RATE_HZ) -> tuple[np.ndarray, np.ndarray]:
  """The test-time condition of 48 kHz ground truth: (cond [batch, time] float32, band mask
  [batch, 513] int32). Chebyshev type I low-pass (order 8, ripple 0.05 dB) at the input's cutoff
  (rate // 2), zero-phase (sosfiltfilt), polyphase resampling to 2 x cutoff and back, cut to the
  input's length; a 48 kHz input rate is its own condition. audio: [batch, time], time a multiple
  of 256 for the network."""
  audio = np.asarray(audio, np.float64)
  if audio.ndim != 2:
    raise ValueError(f'band_limited takes [batch, time] audio, got shape {audio.shape}')
  cutoff = input_rate_hz // 2
  mask = np.broadcast_to(band_mask(input_rate_hz, sample_rate_hz=sample_rate_hz), (len(audio), BINS))
  if 2 * cutoff >= sample_rate_hz:
    return audio.astype(np.float32), mask.copy()
  sos = scipy.signal.cheby1(order, ripple_db, cutoff / (sample_rate_hz / 2), btype='lowpass', output='sos')
  low = scipy.signal.sosfiltfilt(sos, audio, axis=-1)
  low = scipy.signal.resample_poly(low, 2 * cutoff, sample_rate_hz, axis=-1)
  up = scipy.signal.resample_poly(low, sample_rate_hz, 2 * cutoff, axis=-1)
  cond = np.zeros_like(audio)
  cond[:, :min(up.shape[1], audio.shape[1])] = up[:, :audio.shape[1]]
  return cond.astype(np.float32), mask.copy()


def from_low_rate(audio: np.ndarray, rate_hz: int,
                  sample_rate_hz: int = SAMPLE_RATE_HZ) -> tuple[np.ndarray, np.ndarray]:
  """The condition of a real recording at rate_hz: polyphase resampling to 48 kHz, cut to a multiple
  of the STFT hop (256 samples), and the band mask of its rate. audio [batch, n] -> (cond [batch,
  time] float32, band mask [batch, 513] int32)."""
  up = scipy.signal.resample_poly(np.asarray(audio, np.float64), sample_rate_hz, rate_hz, axis=-1)
  up = up[:, :up.shape[1] // HOP * HOP]
  mask = np.broadcast_to(band_mask(min(rate_hz, sample_rate_hz), sample_rate_hz=sample_rate_hz),
                         (len(up), BINS))
  return up.astype(np.float32), mask.copy()
