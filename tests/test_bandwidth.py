"""The effective-bandwidth detector: band-limited content in a wider file, full band, natural roll-off."""

import numpy as np
import pytest
import scipy.signal

from nuwave_jax import bandwidth


def _noise(seconds, rate, cutoff_hz=None, slope=1.0, floor=1e-5, seed=0):
  """Noise with a 1 / f^slope power spectrum, brick-wall low-passed at cutoff_hz (an FFT mask), with
  a white floor `floor` below the peak; quantised to 16 bits."""
  rng = np.random.default_rng(seed)
  n = int(seconds * rate)
  freqs = np.fft.rfftfreq(n, 1 / rate)
  spectrum = np.fft.rfft(rng.standard_normal(n)) / np.maximum(freqs, freqs[1]) ** (slope / 2)
  if cutoff_hz is not None:
    spectrum[freqs > cutoff_hz] = 0
  audio = np.fft.irfft(spectrum, n)
  audio = 0.9 * audio / np.abs(audio).max() + floor * rng.standard_normal(n)
  return (np.round(audio * 32767) / 32767)[None]


@pytest.mark.parametrize('rate, cutoff', [(44100, 4000), (44100, 8000), (44100, 16000), (48000, 11025),
                                          (48000, 19000), (96000, 24000)])
def test_a_cutoff_below_the_files_nyquist_is_found_within_100_hz(rate, cutoff):
  found = bandwidth.effective_bandwidth(_noise(2.0, rate, cutoff), rate)
  assert cutoff - 100 <= found <= cutoff + 100, found
  assert found % bandwidth.ROUND_HZ == 0


@pytest.mark.parametrize('rate, cutoff', [(44100, 4000), (48000, 8000)])
def test_a_low_rate_recording_resampled_up_is_found_by_its_resampler_stopband(rate, cutoff):
  """Telephone audio brought to a CD rate by a polyphase resampler: the stopband (-57 dB for scipy's
  Kaiser window) is not a floor but falls steeply; found within the resampler's transition band."""
  low = _noise(2.0, 2 * cutoff)[0]
  audio = scipy.signal.resample_poly(low, rate, 2 * cutoff)
  found = bandwidth.effective_bandwidth((np.round(audio * 32767) / 32767)[None], rate)
  assert cutoff - 100 <= found <= 1.15 * cutoff, found


@pytest.mark.parametrize('slope', [1.0, 2.0])  # pink, and a steeper natural roll-off
@pytest.mark.parametrize('rate', [16000, 44100, 48000])
def test_full_band_content_and_natural_roll_off_are_full_band(rate, slope):
  assert bandwidth.effective_bandwidth(_noise(2.0, rate, slope=slope), rate) == rate / 2


def test_stereo_silence_and_short_files_are_handled():
  stereo = np.concatenate([_noise(1.0, 44100, 8000, seed=1), _noise(1.0, 44100, 8000, seed=2)])
  assert abs(bandwidth.effective_bandwidth(stereo, 44100) - 8000) <= 100
  assert bandwidth.effective_bandwidth(np.zeros((2, 44100)), 44100) == 22050
  assert bandwidth.effective_bandwidth(_noise(0.05, 44100, 4000), 44100) == 22050  # too short to tell
