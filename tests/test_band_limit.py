"""NU-Wave 2's training condition in TF (`nuwave2/band_limit.py`) against scipy (`conditioning.band_limited`),
and the pipeline that draws it."""

import numpy as np
import pytest
import scipy.signal
import tensorflow as tf

from nuwave_jax.data import pipeline
from nuwave_jax.nuwave2 import band_limit
from nuwave_jax.nuwave2 import conditioning


def _speech_like(n, seed=0):
  """Harmonics of a wandering pitch plus pink noise, peak 0.9: spectrum falling with frequency as speech."""
  rng = np.random.default_rng(seed)
  t = np.arange(n) / 48000
  pitch = 140 + 30 * np.sin(2 * np.pi * 1.3 * t)
  phase = 2 * np.pi * np.cumsum(pitch) / 48000
  voiced = sum(np.sin(k * phase) / k for k in range(1, 40))
  freqs = np.fft.rfftfreq(n, 1 / 48000)
  pink = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) / np.sqrt(np.maximum(freqs, 50.0)), n)
  audio = voiced / np.abs(voiced).max() + 0.3 * pink / np.abs(pink).max()
  return 0.9 * audio / np.abs(audio).max()


def _tf_band_limited(audio, cutoff, order, ripple):
  return band_limit.band_limited(tf.constant(audio, tf.float32), tf.constant(cutoff, tf.int64),
                                 tf.constant(order), tf.constant(ripple, tf.float64),
                                 band_limit.fft_size_for(len(audio), 11)).numpy()


# Corners of the draws (orders 1 and 11, every ripple, the lowest and near-highest cutoffs, cutoffs
# with a gcd of 1 with 48 kHz) and the test-time filter (order 8, 0.05 dB).
DRAWS = [(3000, 1, 1e-9), (3000, 11, 5.0), (3001, 6, 1e-6), (4321, 7, 1e-3), (6000, 8, 0.05),
         (11999, 2, 1.0), (16000, 9, 5.0), (20011, 11, 1e-9), (23900, 3, 1e-3), (23900, 11, 1.0)]


@pytest.mark.parametrize('cutoff, order, ripple', DRAWS)
def test_the_tf_condition_equals_scipy_for_fixed_draws(cutoff, order, ripple):
  audio = _speech_like(8192).astype(np.float32)
  expected = conditioning.band_limited(audio[None], 2 * cutoff, order, ripple)[0][0]
  got = _tf_band_limited(audio, cutoff, order, ripple)
  np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_a_24_khz_cutoff_is_the_segment_itself():
  audio = _speech_like(2048).astype(np.float32)
  np.testing.assert_array_equal(_tf_band_limited(audio, 24000, 5, 1.0), audio)


@pytest.mark.parametrize('up, down', [(6000, 48000), (6002, 48000), (47998, 48000), (48000, 8642), (160, 441)])
def test_resample_poly_equals_scipy(up, down):
  x = np.random.default_rng(0).standard_normal(3000)
  expected = scipy.signal.resample_poly(x, up, down)
  got = band_limit.resample_poly(tf.constant(x), tf.constant(up, tf.int64), tf.constant(down, tf.int64)).numpy()
  assert got.shape == expected.shape
  np.testing.assert_allclose(got, expected, rtol=0, atol=3e-6)  # float32 taps, float64 sums


@pytest.mark.parametrize('order, ripple, cutoff', [(1, 5.0, 0.125), (4, 1e-3, 0.3), (11, 5.0, 0.125),
                                                   (11, 1e-9, 0.9)])
def test_the_zero_phase_filter_equals_sosfiltfilt(order, ripple, cutoff):
  """On white noise, the worst case: every frequency present, edges included."""
  x = np.random.default_rng(1).standard_normal(4096)
  expected = scipy.signal.sosfiltfilt(scipy.signal.cheby1(order, ripple, cutoff, output='sos'), x)
  got = band_limit.zero_phase_lowpass(tf.constant(x), tf.constant(order), tf.constant(ripple, tf.float64),
                                      tf.constant(cutoff, tf.float64), band_limit.fft_size_for(4096, 11)).numpy()
  np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize('signal, cutoff, order, ripple', [('white', 23542, 1, 1e-9), ('speech', 23999, 11, 1.0)])
def test_the_known_limit_poles_next_to_the_unit_circle(signal, cutoff, order, ripple):
  """Order 1 with a tiny ripple, or any order with a cutoff within ~50 Hz of 24 kHz, puts a pole
  within 1e-5 of z = -1: its ringing outlasts the FFT grid and wraps around. The error stays small
  and lies at 24 kHz, where the resampling to 2 f_c removes most of it (docs/reference.md §8)."""
  x = np.random.default_rng(2).standard_normal(8192) if signal == 'white' else _speech_like(8192)
  x = (0.9 * x / np.abs(x).max()).astype(np.float32)
  expected = conditioning.band_limited(x[None], 2 * cutoff, order, ripple)[0][0]
  error = np.abs(_tf_band_limited(x, cutoff, order, ripple) - expected).max()
  assert 1e-5 < error < 2e-3


def test_train_batches_carry_the_condition_and_band_of_their_draw(nuwave2_tiny_folder_config):
  config = nuwave2_tiny_folder_config
  config.data.cutoff_range_hz = (5000, 5000)
  config.data.filter_orders = (8, 8)
  config.data.filter_ripples_db = (0.05,)
  batch = next(pipeline.train_dataset(config).as_numpy_iterator())
  assert set(batch) == {'audio', 'condition', 'band_mask'}
  assert batch['audio'].shape == batch['condition'].shape == (4, 2048)
  assert batch['band_mask'].dtype == np.int32
  np.testing.assert_array_equal(batch['band_mask'], np.broadcast_to(conditioning.band_mask(10000), (4, 513)))
  expected, _ = conditioning.band_limited(batch['audio'], 10000)
  np.testing.assert_allclose(batch['condition'], expected, rtol=0, atol=1e-5)


def test_the_draws_cover_their_ranges_and_resume_exactly(nuwave2_tiny_folder_config):
  config = nuwave2_tiny_folder_config
  batches = list(pipeline.train_dataset(config).take(12).as_numpy_iterator())
  kept_bins = np.concatenate([b['band_mask'].sum(axis=1) for b in batches])
  # cutoffs 3-24 kHz: 64 to 513 bins kept (int(f_c / 24000 * 513)), spread over the range
  assert kept_bins.min() >= 64 and kept_bins.max() <= 513 and np.ptp(kept_bins) > 200
  for b in batches:
    cutoff_bins = b['band_mask'].sum(axis=1)
    spectrum = np.abs(np.fft.rfft(b['condition'] * np.hanning(b['condition'].shape[1]), axis=1)) ** 2
    for row, bins in zip(spectrum, cutoff_bins):  # nothing of the condition lies 1.4 kHz above its band
      edge = int(len(row) * min(bins + 30, 513) / 513)
      assert row[edge:].sum() <= 1e-4 * row.sum()  # the resampler's stopband is -57 dB
  resumed = next(pipeline.train_dataset(config, start_step=7).as_numpy_iterator())
  for key in ('audio', 'condition', 'band_mask'):
    np.testing.assert_array_equal(resumed[key], batches[7][key])
