"""The Python API (`nuwave_jax.load`, `Upsampler.upsample`): what `nuwave-jax upsample` writes for the
same file and seed, for both families, mono and stereo, in the caller's layout; bad arrays refused."""

import numpy as np
import pytest
import soundfile

from configs import nuwave2_tiny
from configs import tiny
import nuwave_jax
from nuwave_jax import checkpoints
from nuwave_jax import inference
import sample
from tests import conftest

RATES = {'nuwave': 24000, 'nuwave2': 11025}


@pytest.fixture(scope='module', params=['nuwave', 'nuwave2'])
def checkpoint(request, tmp_path_factory):
  config = {'nuwave': tiny, 'nuwave2': nuwave2_tiny}[request.param].get_config()
  directory = tmp_path_factory.mktemp(request.param)
  checkpoints.save_params(directory, config, {'params': conftest.init_params(config, seed=3)})
  return request.param, directory


def speech(rate: int, channels: int, seconds: float = 0.6) -> np.ndarray:
  t = np.arange(int(seconds * rate)) / rate
  rng = np.random.default_rng(channels)
  return np.stack([0.4 * np.sin(2 * np.pi * (220 + 110 * c) * t) * np.sin(2 * np.pi * 2 * t) ** 2
                   + 0.02 * rng.normal(size=t.size) for c in range(channels)], axis=1).astype(np.float32)


@pytest.mark.parametrize('channels', [1, 2])
def test_the_api_gives_what_the_command_writes(checkpoint, channels, tmp_path, capsys):
  family, directory = checkpoint
  rate = RATES[family]
  audio = speech(rate, channels)
  soundfile.write(tmp_path / 'clip.wav', audio, rate, subtype='FLOAT')
  assert sample.main([str(tmp_path / 'clip.wav'), '--checkpoint', str(directory), '--output', str(tmp_path / 'out'),
                      '--seed', '5']) == 0
  written, written_rate = soundfile.read(tmp_path / 'out' / 'clip.wav', always_2d=True)
  up = nuwave_jax.load(directory)
  layout = audio[:, 0] if channels == 1 else audio  # [T] for mono, [T, C] for several
  out = up.upsample(layout, rate, seed=inference.seed_for('clip.wav', 5))
  assert out.shape == ((written.shape[0],) if channels == 1 else written.shape) and out.dtype == np.float32
  assert written_rate == up.sample_rate_hz == 48000
  # The command writes 16-bit PCM (clipped to full scale) of what it sampled (batched with nothing else).
  np.testing.assert_allclose(np.clip(out, -1, 1).reshape(written.shape), written, rtol=0, atol=1.01 / 32767)
  assert np.abs(out).max() > 1e-3
  if channels == 2:  # each channel is sampled as a signal of its own, with the same seed
    alone = up.upsample(layout[:, 1], rate, seed=inference.seed_for('clip.wav', 5))
    np.testing.assert_allclose(out[:, 1], alone, atol=1e-5)


def test_keep_input_band_integer_pcm_and_full_band_input(checkpoint):
  family, directory = checkpoint
  up = nuwave_jax.load(directory)
  rate = RATES[family]
  audio = speech(rate, 1)[:, 0]
  pcm = np.round(audio * 32767).astype(np.int16)
  np.testing.assert_allclose(up.upsample(pcm, rate, seed=1), up.upsample(pcm / 32768.0, rate, seed=1), atol=1e-6)
  kept = up.upsample(audio, rate, seed=1, keep_input_band=True)
  assert kept.shape == up.upsample(audio, rate, seed=1).shape
  if family == 'nuwave2':  # a band that already reaches 24 kHz: nothing to add
    full = speech(48000, 2)
    np.testing.assert_array_equal(up.upsample(full, 48000), full)
  else:
    with pytest.raises(nuwave_jax.families.InputError, match='already 48000 Hz'):
      up.upsample(speech(48000, 1), 48000)


@pytest.mark.parametrize('audio, message', [
    (np.zeros((2, 3, 4), np.float32), r'expected a non-empty \[time\] or \[time, channels\] array'),
    (np.zeros(0, np.float32), 'non-empty'),
    (np.array([0.1, np.nan] * 2000, np.float32), 'NaN or infinite'),
    (np.array(['a'] * 4000), 'expected float or integer samples'),
])
def test_arrays_that_are_not_audio_are_refused_in_one_line(checkpoint, audio, message):
  _, directory = checkpoint
  with pytest.raises(nuwave_jax.families.InputError, match=message) as error:
    nuwave_jax.load(directory).upsample(audio, 24000)
  assert '\n' not in str(error.value)


def test_a_rate_or_band_the_checkpoint_does_not_take_is_named(checkpoint):
  family, directory = checkpoint
  up = nuwave_jax.load(directory)
  if family == 'nuwave':
    with pytest.raises(nuwave_jax.families.InputError, match='audio: 16000 Hz, but this checkpoint upsamples 24000 Hz'):
      up.upsample(speech(16000, 1), 16000)
    assert up.upsample(speech(16000, 1), 16000, resample=True).shape == (28800, 1)
    with pytest.raises(ValueError, match='--bandwidth is for NU-Wave 2'):
      up.upsample(speech(24000, 1), 24000, bandwidth='auto')
  else:
    with pytest.raises(nuwave_jax.families.InputError, match='audio: 4000 Hz; NU-Wave 2 takes inputs from 6000 Hz'):
      up.upsample(speech(4000, 1), 4000)
    with pytest.raises(ValueError, match='below 3000 Hz'):
      up.upsample(speech(16000, 1), 16000, bandwidth=2000)
