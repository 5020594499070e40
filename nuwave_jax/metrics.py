"""The paper's metrics (docs/reference.md §5), pure numpy on [time] or [batch, time] float arrays.

A [batch, time] input is a batch of equal-length utterances: the metric is computed per utterance and
averaged over the batch. Utterances of different lengths are scored one at a time and averaged.
"""

import numpy as np

from nuwave_jax import stft

LSD_N_FFT = 2048
LSD_HOP = 512


def _as_batch(reference, estimate):
  reference = np.asarray(reference, np.float64)
  estimate = np.asarray(estimate, np.float64)
  if reference.shape != estimate.shape:
    raise ValueError(f'reference {reference.shape} and estimate {estimate.shape} differ in shape')
  return np.atleast_2d(reference), np.atleast_2d(estimate)


def snr(reference, estimate) -> float:
  """20 log10(||y|| / max(||y_hat - y||, 1e-8)) in dB, averaged over the batch (-inf for silent y)."""
  reference, estimate = _as_batch(reference, estimate)
  error = np.maximum(np.linalg.norm(estimate - reference, axis=-1), 1e-8)
  with np.errstate(divide='ignore'):
    return float(np.mean(20.0 * np.log10(np.linalg.norm(reference, axis=-1) / error)))


def log_power_spectrogram(audio: np.ndarray, n_fft: int = LSD_N_FFT, hop: int = LSD_HOP) -> np.ndarray:
  """log10(max(|STFT|^2, 1e-8)) (`stft.stft`). audio: [batch, time] -> [batch, frames, n_fft // 2 + 1]."""
  return np.log10(np.maximum(np.abs(stft.stft(audio, n_fft, hop))**2, 1e-8))


def _lsd_bins(reference, estimate, bins: slice) -> float:
  reference, estimate = _as_batch(reference, estimate)
  diff = log_power_spectrogram(estimate)[..., bins] - log_power_spectrogram(reference)[..., bins]
  per_frame = np.sqrt(np.mean(diff**2, axis=-1))  # [batch, frames]
  return float(np.mean(per_frame.mean(axis=-1)))


def lsd(reference, estimate) -> float:
  """Log-spectral distance over all 1025 bins: mean over frames of the RMS over bins, batch mean."""
  return _lsd_bins(reference, estimate, slice(None))


def lsd_split_bin(input_rate_hz: int, sample_rate_hz: int = 48000) -> int:
  """NU-Wave 2's split between LSD-LF and LSD-HF: int(1025 * sr_in / 48000)."""
  return int((LSD_N_FFT // 2 + 1) * input_rate_hz / sample_rate_hz)


def lsd_high(reference, estimate, input_rate_hz: int) -> float:
  """LSD-HF: LSD over the bins the low-rate input lacks (>= lsd_split_bin)."""
  return _lsd_bins(reference, estimate, slice(lsd_split_bin(input_rate_hz), None))


def lsd_low(reference, estimate, input_rate_hz: int) -> float:
  """LSD-LF: LSD over the bins the low-rate input has (< lsd_split_bin)."""
  return _lsd_bins(reference, estimate, slice(None, lsd_split_bin(input_rate_hz)))
