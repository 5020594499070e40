"""A NU-Wave 2 checkpoint through the tools: converted from the original's layout, then upsampling real
files whose own rate sets their band, and 48 kHz ground truth simulated at a rate."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from configs import nuwave2_tiny
import evaluate
from nuwave_jax import checkpoints
from nuwave_jax import convert
from nuwave_jax import evaluation
from nuwave_jax import inference
from nuwave_jax import metrics
from nuwave_jax.data import audio as audio_io
from nuwave_jax.nuwave2 import conditioning
import sample
from tests import conftest
from tests import reference_nuwave2


@pytest.fixture(scope='module')
def nuwave2_checkpoint(tmp_path_factory):
  """The tiny NU-Wave 2 of random weights in the original's layout, converted as `convert` writes it."""
  config = nuwave2_tiny.get_config()
  m = config.model
  state_dict = reference_nuwave2.random_state_dict(np.random.default_rng(0), m.residual_channels, m.residual_layers,
                                                   m.embedding_channels, m.embedding_dim, m.bsft_channels)
  directory = tmp_path_factory.mktemp('nuwave2')
  checkpoints.save_params(directory, config, {'params': convert.params_from_torch(state_dict, config)})
  return directory


def _tone(seconds, rate, hz):
  return 0.5 * np.sin(2 * np.pi * hz * np.arange(int(seconds * rate)) / rate)


def test_each_file_is_upsampled_with_the_band_of_its_own_rate(nuwave2_checkpoint, tmp_path, capsys):
  inputs = {}
  for name, rate, channels in (('phone', 8000, 1), ('radio', 22050, 1), ('cd', 44100, 2), ('odd', 11025, 1)):
    audio = np.stack([_tone(0.3, rate, 440 * (c + 1)) for c in range(channels)], axis=1)
    soundfile.write(tmp_path / f'{name}.wav', audio.astype(np.float32), rate)
    inputs[name] = (rate, channels)
  soundfile.write(tmp_path / 'hq.wav', _tone(0.3, 48000, 440).astype(np.float32), 48000)
  soundfile.write(tmp_path / 'low.wav', _tone(0.3, 4000, 440).astype(np.float32), 4000)
  code = sample.main([str(tmp_path / f'{n}.wav') for n in (*inputs, 'hq', 'low')] +
                     ['--checkpoint', str(nuwave2_checkpoint), '--output', str(tmp_path / 'out')])
  assert code == 1
  out, err = capsys.readouterr()
  assert 'low.wav: 4000 Hz; NU-Wave 2 takes inputs from 6000 Hz' in err
  assert 'hq.wav -> ' in out and 'already full band at 48000 Hz: copied' in out
  copied, _ = soundfile.read(tmp_path / 'out' / 'hq.wav')
  np.testing.assert_allclose(copied, _tone(0.3, 48000, 440), atol=1 / 32767)  # as it was, in 16-bit
  for name, (rate, channels) in inputs.items():
    audio, out_rate = soundfile.read(tmp_path / 'out' / f'{name}.wav', always_2d=True)
    assert out_rate == 48000 and audio.shape == (int(0.3 * rate) * 48000 // rate // 256 * 256, channels), name
    assert np.all(np.isfinite(audio)) and np.abs(audio).max() > 0


def _band_limited_noise(seconds, rate, cutoff_hz, seed=0):
  """Pink noise brick-wall low-passed at cutoff_hz with a -100 dB white floor: a file whose rate
  exceeds its content."""
  rng = np.random.default_rng(seed)
  n = int(seconds * rate)
  spectrum = np.fft.rfft(rng.standard_normal(n))
  freqs = np.fft.rfftfreq(n, 1 / rate)
  spectrum = spectrum / np.sqrt(np.maximum(freqs, freqs[1])) * (freqs <= cutoff_hz)
  audio = np.fft.irfft(spectrum, n)
  return 0.9 * audio / np.abs(audio).max() + 1e-5 * rng.standard_normal(n)


def test_bandwidth_auto_finds_the_content_cutoff_and_gives_the_network_its_band(nuwave2_checkpoint, tmp_path,
                                                                             capsys):
  soundfile.write(tmp_path / 'phone_in_cd.wav', _band_limited_noise(1.0, 44100, 4000), 44100, subtype='PCM_16')
  soundfile.write(tmp_path / 'full.wav', _band_limited_noise(1.0, 48000, 24000), 48000, subtype='PCM_16')
  soundfile.write(tmp_path / 'mp3like.wav', _band_limited_noise(1.0, 48000, 16000), 48000, subtype='PCM_16')
  assert sample.main([str(tmp_path / n) for n in ('phone_in_cd.wav', 'full.wav', 'mp3like.wav')] +
                     ['--checkpoint', str(nuwave2_checkpoint), '--output', str(tmp_path / 'out'),
                      '--bandwidth', 'auto']) == 0
  out = capsys.readouterr().out
  assert 'phone_in_cd.wav  (44100 Hz, content up to 4.05 kHz (detected))' in out
  assert 'mp3like.wav  (48000 Hz, content up to 16 kHz (detected))' in out
  assert 'full.wav -> ' in out and 'already full band at 48000 Hz: copied' in out
  for name in ('phone_in_cd', 'mp3like'):
    audio, rate = soundfile.read(tmp_path / 'out' / f'{name}.wav')
    assert rate == 48000 and np.all(np.isfinite(audio)) and len(audio) == 48000 // 256 * 256

  upsampler = inference.Upsampler.from_checkpoint(nuwave2_checkpoint)
  audio = _band_limited_noise(0.5, 44100, 4000)[None].astype(np.float32)
  condition, note = upsampler.condition_from_file(audio, 44100, 'x.wav', bandwidth=4050.0)
  assert note == 'band up to 4.05 kHz (--bandwidth)' and condition.cutoff_hz == 4050.0
  np.testing.assert_array_equal(condition.extras['band_mask'], conditioning.band_mask(8100)[None])
  resampled, _ = conditioning.from_low_rate(audio, 44100)
  np.testing.assert_array_equal(condition.signal, conditioning.band_limited(resampled, 8100)[0])
  assert sample.main([str(tmp_path / 'full.wav'), '--checkpoint', str(nuwave2_checkpoint), '--output',
                      str(tmp_path / 'forced'), '--bandwidth', '12000']) == 0
  assert 'full.wav  (48000 Hz, band up to 12 kHz (--bandwidth))' in capsys.readouterr().out


@pytest.mark.parametrize('flag, message', [('abc', "--bandwidth 'abc': give 'auto' or a cutoff in Hz"),
                                           ('2000', '--bandwidth 2000: below 3000 Hz')])
def test_a_bad_bandwidth_is_named(nuwave2_checkpoint, tmp_path, capsys, flag, message):
  soundfile.write(tmp_path / 'a.wav', _tone(0.3, 16000, 440).astype(np.float32), 16000)
  assert sample.main([str(tmp_path / 'a.wav'), '--checkpoint', str(nuwave2_checkpoint), '--output',
                      str(tmp_path / 'out'), '--bandwidth', flag]) == 2
  assert message in capsys.readouterr().err


def test_the_upsampler_gives_a_files_band_to_the_network(nuwave2_checkpoint):
  upsampler = inference.Upsampler.from_checkpoint(nuwave2_checkpoint)
  audio = _tone(0.2, 16000, 300)[None].astype(np.float32)
  condition, note = upsampler.condition_from_file(audio, 16000, 'x.wav')
  assert note == ''
  np.testing.assert_array_equal(condition.extras['band_mask'], conditioning.band_mask(16000)[None])
  np.testing.assert_array_equal(condition.input_48k, condition.signal)
  outputs = {}
  for rate in (8000, 16000):
    outputs[rate] = upsampler.upsample_signals([condition.signal[0]], [1],
                                               extras={'band_mask': [conditioning.band_mask(rate)]})[0]
  assert np.abs(outputs[8000] - outputs[16000]).max() > 1e-4


def test_simulate_takes_the_input_rate_and_scores_as_the_eval_loop(nuwave2_checkpoint, tmp_path, capsys):
  soundfile.write(tmp_path / 'clean.wav', (_tone(0.4, 48000, 700) + _tone(0.4, 48000, 9000) / 4).astype(np.float32),
                  48000)
  assert sample.main([str(tmp_path / 'clean.wav'), '--simulate', '--checkpoint', str(nuwave2_checkpoint), '--output',
                      str(tmp_path / 'a')]) == 1
  assert 'give it, as in --simulate 16000' in capsys.readouterr().err
  assert sample.main([str(tmp_path / 'clean.wav'), '--simulate', '12000', '--steps', '4', '--checkpoint',
                      str(nuwave2_checkpoint), '--output', str(tmp_path / 'b')]) == 0
  printed = re.search(r'SNR (-?[\d.]+) dB, LSD ([\d.]+) \(input: (-?[\d.]+) dB, ([\d.]+)\)', capsys.readouterr().out)
  upsampler = inference.Upsampler.from_checkpoint(nuwave2_checkpoint, overrides=['sample.steps=4'])
  reference = audio_io.utterance_to_float(audio_io.prepare_utterance(tmp_path / 'clean.wav', 15.0))
  result = evaluation.evaluate(upsampler, [(str(tmp_path / 'clean.wav'), reference)], 1, 0, input_rate_hz=12000)
  scores = result.report['per_utterance'][0]
  assert [float(x) for x in printed.groups()] == [round(scores['model']['snr'], 2), round(scores['model']['lsd'], 3),
                                                  round(scores['input']['snr'], 2), round(scores['input']['lsd'], 3)]
  assert result.report['input_rate_hz'] == 12000 and 'ratio' not in result.report
  assert sample.main([str(tmp_path / 'clean.wav'), '--schedule', 'training', '--checkpoint',
                      str(nuwave2_checkpoint), '--output', str(tmp_path / 'c')]) == 2
  assert '--schedule: not for a NU-Wave 2 checkpoint (use --steps)' in capsys.readouterr().err


def test_the_chunk_overlap_benchmark_runs_a_nuwave2_checkpoint(nuwave2_checkpoint):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
  env.pop('XLA_FLAGS', None)
  result = subprocess.run([sys.executable, 'benchmarks/chunk_overlap.py', '--checkpoint', str(nuwave2_checkpoint),
                           '--seconds', '0.2', '--chunk-seconds', '0.1', '--overlaps', '0.02', '0.05',
                           '--input-rate', '11025'], cwd=conftest.REPO, capture_output=True, text=True, timeout=600,
                          env=env)
  assert result.returncode == 0, result.stderr[-3000:]
  rows = [line for line in result.stdout.splitlines() if line.startswith('| 0.0')]
  assert [row.split(' | ')[1] for row in rows] == ['1024', '2048']


def test_evaluate_scores_nuwave2_at_each_rate_beside_its_input(nuwave2_checkpoint, tmp_path, capsys):
  data = tmp_path / 'data'
  data.mkdir()
  for i, hz in enumerate((500, 900)):
    clip = _tone(0.3, 48000, hz) + _tone(0.3, 48000, 7000 + 3000 * i) / 5 + 0.01
    soundfile.write(data / f'clip{i}.wav', clip.astype(np.float32), 48000)
  out = tmp_path / 'report'
  code = evaluate.main(['--checkpoint', str(nuwave2_checkpoint), '--data', str(data), '--output', str(out),
                        '--rates', '8000', '16000', '--runs', '2', '--plots', '1', '--config.sample.steps=2'])
  assert code == 0
  printed = capsys.readouterr().out
  report = json.loads((out / 'report.json').read_text())
  assert sorted(report['per_rate']) == ['16000', '8000'] and report['runs'] == 2
  references = [evaluation.prepare_reference(a, 256)
                for _, a in audio_io.read_utterances(data, nuwave2_tiny.get_config().data.trim_top_db)]
  for rate in (8000, 16000):
    scores = report['per_rate'][str(rate)]
    assert scores['input_rate_hz'] == rate and 'ratio' not in scores
    # The baseline is the simulated input itself, scored as the paper's script scores it.
    inputs = [conditioning.band_limited(r[None], rate)[0][0] for r in references]
    np.testing.assert_allclose(scores['input']['lsd_hf'],
                               np.mean([metrics.lsd_high(r, x, rate) for r, x in zip(references, inputs)]), rtol=1e-6)
    assert scores['model']['lsd']['std'] > 0  # two runs, two seeds
    assert f'| {rate // 1000:g} kHz, NU-Wave 2 |' in printed and f'| {rate // 1000:g} kHz, input |' in printed
    assert (out / 'spectrograms' / f'000_clip0_{rate}hz.png').is_file()
  assert report['per_rate']['8000']['input']['lsd'] > report['per_rate']['16000']['input']['lsd']
  for flags, message in ((['--rates', '4000'], '--rates: 4000 Hz: NU-Wave 2 takes inputs from 6000'),
                         (['--data', 'config'], "config.data.dir='' is not a folder of audio files")):
    argv = ['--checkpoint', str(nuwave2_checkpoint), '--data', str(data), '--output', str(out), *flags]
    assert evaluate.main(argv) == 2 and message in capsys.readouterr().err


def test_a_lightning_file_converts_to_the_checkpoint_the_tools_use(nuwave2_checkpoint, tmp_path, capsys):
  torch = pytest.importorskip('torch', reason='torch (the optional convert extra) is not installed')
  config = nuwave2_tiny.get_config()
  m = config.model
  state_dict = reference_nuwave2.random_state_dict(np.random.default_rng(0), m.residual_channels, m.residual_layers,
                                                   m.embedding_channels, m.embedding_dim, m.bsft_channels)
  hparams = {'audio': {'sampling_rate': 48000, 'filter_length': 1024, 'hop_length': 256},
             'logsnr': {'logsnr_min': -20.0, 'logsnr_max': 20.0}, 'dpm': {'pos_emb_scale': 50000}}
  path = tmp_path / 'nuwave2.ckpt'
  torch.save({'state_dict': {k: torch.from_numpy(v) for k, v in state_dict.items()}, 'global_step': 10,
              'hyper_parameters': {'hparams': hparams}}, path)
  out = tmp_path / 'converted'
  assert convert.main([str(path), '--config', 'configs/nuwave2_tiny.py', '--out', str(out)]) == 0
  ours = inference.Upsampler.from_checkpoint(out)
  fixture = inference.Upsampler.from_checkpoint(nuwave2_checkpoint)  # the same weights, converted in-process
  cond = _tone(0.1, 48000, 440)[None, :4096].astype(np.float32)
  band = {'band_mask': [conditioning.band_mask(16000)]}
  np.testing.assert_array_equal(ours.upsample_signals([cond[0]], [3], extras=band)[0],
                                fixture.upsample_signals([cond[0]], [3], extras=band)[0])
  # The authors' other model writes 16 kHz: its file is refused by name.
  hparams['audio']['sampling_rate'] = 16000
  torch.save({'state_dict': {k: torch.from_numpy(v) for k, v in state_dict.items()},
              'hyper_parameters': {'hparams': hparams}}, tmp_path / 'nuwave2_16k.ckpt')
  capsys.readouterr()
  assert convert.main([str(tmp_path / 'nuwave2_16k.ckpt'), '--config', 'configs/nuwave2_tiny.py', '--out',
                       str(tmp_path / 'b')]) == 1
  assert 'audio.sampling_rate = 16000' in capsys.readouterr().err
