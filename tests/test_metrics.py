"""SNR and LSD against librosa's STFT and closed cases."""

import librosa
import numpy as np
import pytest

from nuwave_jax import metrics


def _lsd_librosa(reference, estimate, bins=slice(None)):
  spec = lambda x: np.abs(librosa.stft(x, n_fft=2048, hop_length=512, window='hann', center=True,
                                       pad_mode='reflect'))**2
  log = lambda x: np.log10(np.maximum(spec(x), 1e-8))
  diff = (log(estimate) - log(reference))[bins]  # [bins, frames]
  return float(np.mean(np.sqrt(np.mean(diff**2, axis=0))))


@pytest.fixture
def speechlike():
  rng = np.random.default_rng(0)
  t = np.arange(24000) / 48000
  clean = np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.05 * rng.normal(size=t.size)
  return clean, clean + 0.1 * rng.normal(size=t.size)


def test_lsd_matches_librosa(speechlike):
  reference, estimate = speechlike
  np.testing.assert_allclose(metrics.lsd(reference, estimate), _lsd_librosa(reference, estimate),
                             rtol=1e-6)
  split = metrics.lsd_split_bin(16000)
  assert split == 341
  np.testing.assert_allclose(metrics.lsd_high(reference, estimate, 16000),
                             _lsd_librosa(reference, estimate, slice(split, None)), rtol=1e-6)
  np.testing.assert_allclose(metrics.lsd_low(reference, estimate, 16000),
                             _lsd_librosa(reference, estimate, slice(None, split)), rtol=1e-6)


def test_lsd_of_a_gain_is_twice_its_log(speechlike):
  reference, _ = speechlike
  assert metrics.lsd(reference, reference) == 0.0
  # |log10(g^2 S) - log10(S)| = 2 |log10 g| wherever S stays above the 1e-8 floor.
  np.testing.assert_allclose(metrics.lsd(reference, 0.5 * reference), 2 * np.log10(2), rtol=1e-6)


def test_snr_closed_cases(speechlike):
  reference, estimate = speechlike
  np.testing.assert_allclose(metrics.snr(reference, 0.9 * reference), 20.0, rtol=1e-9)
  expected = 20 * np.log10(np.linalg.norm(reference) / np.linalg.norm(estimate - reference))
  np.testing.assert_allclose(metrics.snr(reference, estimate), expected, rtol=1e-9)
  # Identical signals: the error is clamped at 1e-8.
  np.testing.assert_allclose(metrics.snr(reference, reference),
                             20 * np.log10(np.linalg.norm(reference) / 1e-8), rtol=1e-9)
  # Silence against silence: 20 log10(0) is -inf, as the formula says; it must not be NaN.
  assert metrics.snr(np.zeros(100), np.zeros(100)) == -np.inf


def test_batch_metrics_are_the_mean_of_per_utterance_metrics(speechlike):
  reference, estimate = speechlike
  batch_ref = np.stack([reference, 2 * reference])
  batch_est = np.stack([estimate, 2 * reference + 0.3])
  np.testing.assert_allclose(
      metrics.snr(batch_ref, batch_est),
      np.mean([metrics.snr(r, e) for r, e in zip(batch_ref, batch_est)]), rtol=1e-12)
  np.testing.assert_allclose(
      metrics.lsd(batch_ref, batch_est),
      np.mean([metrics.lsd(r, e) for r, e in zip(batch_ref, batch_est)]), rtol=1e-12)


def test_shape_mismatch_is_an_error():
  with pytest.raises(ValueError, match='differ in shape'):
    metrics.snr(np.zeros(10), np.zeros(11))
