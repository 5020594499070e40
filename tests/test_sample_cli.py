"""sample.py and evaluate.py on real-world inputs: rates, lengths, odd files and clear errors."""

import json

import numpy as np
import pytest
import soundfile

from configs import tiny
import evaluate
from nuwave_jax import checkpoints
from nuwave_jax import configuration
from nuwave_jax import metrics
from nuwave_jax.nuwave import conditioning
import sample
from tests import conftest


@pytest.fixture
def checkpoint(tiny_checkpoint):
  return tiny_checkpoint


def _write(path, audio, rate, **kwargs):
  soundfile.write(path, np.asarray(audio, np.float32), rate, **kwargs)
  return str(path)


def test_upsamples_real_24k_files_and_reports_bad_ones_without_stopping(checkpoint, tmp_path, capsys):
  rng = np.random.default_rng(0)
  t = np.arange(6000) / 24000
  inputs = {
      'speech': _write(tmp_path / 'speech.wav', 0.5 * np.sin(2 * np.pi * 300 * t), 24000),
      'stereo': _write(tmp_path / 'stereo.flac', rng.uniform(-0.3, 0.3, (5000, 2)), 24000),
      'silent': _write(tmp_path / 'silent.wav', np.zeros(3000), 24000),
      'clipped': _write(tmp_path / 'clipped.wav', np.clip(3 * np.sin(t * 900), -1, 1), 24000),
      'short': _write(tmp_path / 'short.wav', [0.1, -0.2, 0.3], 24000),
      'long': _write(tmp_path / 'long.ogg', 0.3 * np.sin(np.arange(30000) / 7), 24000),
  }
  bad = {
      'nan': _write(tmp_path / 'nan.wav', [0.1, np.nan], 24000, subtype='FLOAT'),
      'empty': _write(tmp_path / 'empty.wav', np.zeros(0), 24000),
      'rate': _write(tmp_path / 'rate.wav', np.zeros(1000), 22050),
      'hq': _write(tmp_path / 'hq.wav', np.zeros(1000), 48000),
  }
  (tmp_path / 'corrupt.wav').write_bytes(b'garbage')
  bad['corrupt'] = str(tmp_path / 'corrupt.wav')
  out = tmp_path / 'out'
  code = sample.main([*inputs.values(), *bad.values(), '--checkpoint', str(checkpoint),
                      '--output', str(out)])
  captured = capsys.readouterr()
  assert code == 1
  errors = [line for line in captured.err.splitlines() if line.startswith('error:')]
  assert len(errors) == 5 and 'Traceback' not in captured.err
  for key, problem in (('nan', 'NaN'), ('empty', 'no samples'), ('rate', '22050 Hz.*--resample'),
                       ('hq', 'already 48000 Hz.*--simulate'), ('corrupt', 'cannot be read')):
    assert any(bad[key] in e and __import__('re').search(problem, e) for e in errors), key
  for key, path in inputs.items():
    audio, rate = soundfile.read(out / (key + '.wav'), always_2d=True)
    assert rate == 48000 and len(audio) == 2 * soundfile.info(path).frames, key
    assert audio.shape[1] == soundfile.info(path).channels and np.all(np.isfinite(audio)), key
  assert np.all(soundfile.read(out / 'silent.wav')[0] == 0)  # silence in, silence out


def test_outputs_are_reproducible_and_long_files_are_chunked(checkpoint, tmp_path):
  path = _write(tmp_path / 'x.wav', 0.4 * np.sin(np.arange(20000) / 3), 24000)
  runs = []
  for name, chunk in (('a', '0.1'), ('b', '0.1'), ('c', '2.0')):
    assert sample.main([path, '--checkpoint', str(checkpoint), '--output', str(tmp_path / name),
                        '--seed', '3', '--chunk-seconds', chunk, '--overlap-seconds', '0.05']) == 0
    runs.append(soundfile.read(tmp_path / name / 'x.wav')[0])
  np.testing.assert_array_equal(runs[0], runs[1])
  # 0.1 s chunks (8 of them) against one 0.83 s chunk: the tiny network's context is tiny, the joins
  # are exact up to float error and 16-bit output quantisation.
  np.testing.assert_allclose(runs[0][:-64], runs[2][:-64], atol=1e-3)


def test_noise_scale_option(checkpoint, tmp_path, capsys):
  path = _write(tmp_path / 'x.wav', 0.4 * np.sin(np.arange(4800) / 3), 24000)
  outs = {}
  for scale in ('1', '0'):
    assert sample.main([path, '--checkpoint', str(checkpoint), '--output', str(tmp_path / scale),
                        '--noise-scale', scale]) == 0
    outs[scale] = soundfile.read(tmp_path / scale / 'x.wav')[0]
  assert np.max(np.abs(outs['1'] - outs['0'])) > 1e-3
  assert sample.main([path, '--checkpoint', str(checkpoint), '--output', str(tmp_path / 'o'),
                      '--noise-scale', '2']) == 2
  assert 'sample.noise_scale must be in [0, 1], got 2.0' in capsys.readouterr().err


def test_simulate_and_resample_options(checkpoint, tmp_path, capsys):
  hq = _write(tmp_path / 'hq.wav', 0.5 * np.sin(np.arange(9600) / 4), 48000)
  odd = _write(tmp_path / 'odd.wav', 0.5 * np.sin(np.arange(4410) / 4), 22050)
  assert sample.main([hq, odd, '--simulate', '--resample', '--checkpoint', str(checkpoint),
                      '--output', str(tmp_path / 'out')]) == 0
  out = capsys.readouterr().out
  assert 'SNR' in out and 'input: ' in out  # a simulated input is scored against its ground truth
  assert len(soundfile.read(tmp_path / 'out' / 'hq.wav')[0]) == 9600
  assert len(soundfile.read(tmp_path / 'out' / 'odd.wav')[0]) == 9600  # 22.05 -> 24 -> 48 kHz
  assert sample.main([odd, '--simulate', '--checkpoint', str(checkpoint), '--output',
                      str(tmp_path / 'again')]) == 1
  assert '--simulate takes only 48000 Hz files as ground truth' in capsys.readouterr().err


def test_never_overwrites_the_input_and_rejects_missing_checkpoints(checkpoint, tmp_path, capsys):
  path = _write(tmp_path / 'x.wav', np.zeros(100), 24000)
  assert sample.main([path, '--checkpoint', str(checkpoint), '--output', str(tmp_path)]) == 1
  assert 'would overwrite an input' in capsys.readouterr().err
  assert len(soundfile.read(path)[0]) == 100
  assert sample.main([path, '--checkpoint', str(tmp_path / 'none'), '--output', str(tmp_path / 'o')]) == 2
  assert 'none: no such checkpoint directory, and no bundled model of that name' in capsys.readouterr().err


def test_no_output_overwrites_another_input(checkpoint, tmp_path, capsys):
  # out/x.wav is an input; a.flac's output would be out/x.wav too: neither may be written.
  (tmp_path / 'out').mkdir()
  first = _write(tmp_path / 'out' / 'x.wav', 0.1 * np.ones(100), 24000)
  (tmp_path / 'a').mkdir()
  second = _write(tmp_path / 'a' / 'x.flac', 0.2 * np.ones(100), 24000)
  before = (tmp_path / 'out' / 'x.wav').read_bytes()
  assert sample.main([first, second, '--checkpoint', str(checkpoint), '--output',
                      str(tmp_path / 'out')]) == 1
  errors = capsys.readouterr().err
  assert errors.count('would overwrite an input') == 2 and second in errors
  assert (tmp_path / 'out' / 'x.wav').read_bytes() == before


def test_bad_options_and_unwritable_outputs_get_clear_errors(checkpoint, tmp_path, capsys):
  path = _write(tmp_path / 'x.wav', 0.3 * np.sin(np.arange(500) / 3), 24000)
  for batch in ('0', '-1'):
    assert sample.main([path, '--checkpoint', str(checkpoint), '--output', str(tmp_path / 'o'),
                        '--batch-size', batch]) == 2
    assert f'sample.batch_size must be an integer >= 1, got {batch}' in capsys.readouterr().err
  tiny = _write(tmp_path / 'tiny.wav', [0.5], 96000)  # no sample left at 24 kHz
  assert sample.main([tiny, '--resample', '--checkpoint', str(checkpoint), '--output',
                      str(tmp_path / 'o')]) == 1
  assert 'tiny.wav: too short to resample' in capsys.readouterr().err
  (tmp_path / 'afile').write_text('')
  assert sample.main([path, '--checkpoint', str(checkpoint), '--output', str(tmp_path / 'afile')]) == 2
  assert 'exists and is not a folder' in capsys.readouterr().err
  # One output that cannot be written (a folder in its place) fails alone; the next file is written.
  other = _write(tmp_path / 'y.wav', 0.3 * np.sin(np.arange(500) / 5), 24000)
  (tmp_path / 'out' / 'x.wav').mkdir(parents=True)
  assert sample.main([path, other, '--checkpoint', str(checkpoint), '--output', str(tmp_path / 'out')]) == 1
  captured = capsys.readouterr()
  assert 'cannot be written' in captured.err and 'Traceback' not in captured.err
  assert len(soundfile.read(tmp_path / 'out' / 'y.wav')[0]) == 1000


def test_an_input_beyond_full_scale_keeps_its_level_in_a_float_wav(checkpoint, tmp_path, capsys):
  quiet = 0.4 * np.sin(np.arange(2000) / 4)
  outputs = {}
  for name, scale in (('hot', 25.0), ('plain', 1.0)):
    (tmp_path / name).mkdir()
    path = _write(tmp_path / name / 'x.wav', scale * quiet, 24000, subtype='FLOAT')  # same name, seed
    assert sample.main([path, '--checkpoint', str(checkpoint), '--output', str(tmp_path / name / 'o'),
                        '--seed', '1']) == 0
    assert ('32-bit float WAV' in capsys.readouterr().out) == (scale > 1)
    info = soundfile.info(tmp_path / name / 'o' / 'x.wav')
    assert info.subtype == ('FLOAT' if scale > 1 else 'PCM_16')
    outputs[name] = soundfile.read(tmp_path / name / 'o' / 'x.wav')[0]
  # Inputs are peak-normalised before sampling, so the hot output is the plain one x 25, unclipped
  # (where the untrained network's plain output was not clipped to full scale itself).
  unclipped = np.abs(outputs['plain']) < 0.99
  assert np.max(np.abs(outputs['hot'])) > 25 and unclipped.mean() > 0.3
  np.testing.assert_allclose(outputs['hot'][unclipped], 25 * outputs['plain'][unclipped], atol=25 * 1e-4)


def test_a_checkpoint_whose_params_do_not_fit_its_config_is_refused(checkpoint, tmp_path, capsys):
  import shutil
  broken = tmp_path / 'broken'
  shutil.copytree(checkpoint, broken)
  config = configuration.load_saved_config(broken)
  config.model.residual_layers = 6
  configuration.save_config(broken, config)
  path = _write(tmp_path / 'x.wav', np.zeros(100), 24000)
  assert sample.main([path, '--checkpoint', str(broken), '--output', str(tmp_path / 'o')]) == 2
  assert 'missing layer_4' in capsys.readouterr().err


def test_evaluate_writes_a_report_with_the_linear_interpolation_of_the_input_beside(checkpoint, tmp_path, capsys):
  data = tmp_path / 'data'
  data.mkdir()
  rng = np.random.default_rng(1)
  clips = [0.5 * np.sin(np.arange(n) / 3) + 0.05 * rng.normal(size=n) for n in (4801, 6000)]
  for i, clip in enumerate(clips):
    _write(data / f'{i}.wav', clip, 48000, subtype='FLOAT')
  out = tmp_path / 'report'
  assert evaluate.main(['--checkpoint', str(checkpoint), '--data', str(data), '--runs', '2',
                        '--output', str(out), '--plots', '1']) == 0
  report = json.loads((out / 'report.json').read_text())
  assert report['runs'] == 2 and report['utterances'] == 2 and report['input'] == 'linear interpolation'
  assert list(report['per_rate']) == ['24000']  # NU-Wave x2: its one input rate
  scores = report['per_rate']['24000']
  assert set(scores['model']['lsd']) == {'mean', 'std'} and scores['model']['snr']['std'] > 0
  # The baseline, recomputed independently: trimmed at 15 dB as the data are, 16-bit, peak-normalised,
  # cut to an even length, linear interpolation.
  import librosa
  expected = []
  for clip in clips:
    clip, _ = librosa.effects.trim(clip.astype(np.float32), top_db=15)
    clip = np.round(clip / np.abs(clip).max() * 32767) / 32767
    ref = clip[:len(clip) // 2 * 2] / np.abs(clip[:len(clip) // 2 * 2]).max()
    expected.append(metrics.snr(ref, conditioning.make_condition(ref[None].astype(np.float32), 2)[0]))
  np.testing.assert_allclose(scores['input']['snr'], np.mean(expected), rtol=1e-4)
  assert len(list((out / 'spectrograms').glob('*.png'))) == 1
  assert '| 24 kHz, input |' in capsys.readouterr().out


def test_evaluate_scores_an_earlier_step_of_a_run(tmp_path, capsys):
  config = tiny.get_config()
  run = tmp_path / 'run'
  for step, seed in ((100, 0), (200, 1)):  # two steps of a run, with different weights
    params = conftest.init_params(config, seed)
    checkpoints.save_params(run, config, {'params': params, 'ema_params': params}, step=step)
  data = tmp_path / 'data'
  data.mkdir()
  _write(data / 'a.wav', 0.5 * np.sin(np.arange(4800) / 3), 48000, subtype='FLOAT')
  lsd = {}
  for step in (100, 200, None):
    out = tmp_path / f'report{step}'
    flags = ['--step', str(step)] if step else []
    assert evaluate.main(['--checkpoint', str(run), '--data', str(data), '--runs', '1', '--output', str(out),
                          '--plots', '0', *flags]) == 0
    report = json.loads((out / 'report.json').read_text())
    assert report['step'] == step
    lsd[step] = report['per_rate']['24000']['model']['lsd']['mean']
  assert lsd[100] != lsd[200] == lsd[None]  # the latest by default
  capsys.readouterr()
  assert evaluate.main(['--checkpoint', str(run), '--data', str(data), '--output', str(tmp_path / 'r'),
                        '--step', '150']) == 2
  assert 'holds no checkpoint of step 150 (it holds 100, 200)' in capsys.readouterr().err


def test_evaluate_leaves_out_what_cannot_be_scored_and_refuses_zero_runs(checkpoint, tmp_path, capsys):
  data = tmp_path / 'data'
  data.mkdir()
  _write(data / 'speech.wav', 0.5 * np.sin(np.arange(4800) / 3), 48000)
  _write(data / 'silent.wav', np.zeros(4800), 48000)
  _write(data / 'one.wav', [0.5], 48000)  # nothing left once trimmed to a multiple of 2
  out = tmp_path / 'report'
  assert evaluate.main(['--checkpoint', str(checkpoint), '--data', str(data), '--runs', '1',
                        '--output', str(out), '--plots', '0']) == 0
  err = capsys.readouterr().err
  assert 'not scored: silent.wav: silent' in err and 'not scored: one.wav: shorter than 2 samples' in err

  def refuse(constant):
    raise ValueError(f'{constant} in report.json')

  report = json.loads((out / 'report.json').read_text(), parse_constant=refuse)  # strict JSON
  assert report['utterances'] == 1 and len(report['not_scored']) == 2
  assert np.isfinite(report['per_rate']['24000']['model']['snr']['mean'])
  for runs in ('0', '-1'):
    assert evaluate.main(['--checkpoint', str(checkpoint), '--data', str(data), '--runs', runs,
                          '--output', str(out)]) == 2
    assert f'--runs {runs}: must be at least 1' in capsys.readouterr().err
  (data / 'speech.wav').unlink()
  assert evaluate.main(['--checkpoint', str(checkpoint), '--data', str(data), '--output', str(out)]) == 2
  assert 'no utterance can be scored' in capsys.readouterr().err


def _tone(seconds, rate, hz, amplitude=0.5):
  return amplitude * np.sin(2 * np.pi * hz * np.arange(int(seconds * rate)) / rate)


def test_stereo_comes_back_in_place_and_mono_stays_mono(checkpoint, tmp_path):
  left = _tone(0.2, 24000, 300)
  _write(tmp_path / 'stereo.wav', np.stack([left, np.zeros_like(left)], axis=1), 24000)  # right silent
  _write(tmp_path / 'same.wav', np.stack([left, left], axis=1), 24000)
  _write(tmp_path / 'mono.wav', left, 24000)
  out = tmp_path / 'out'
  assert sample.main([str(tmp_path / n) for n in ('stereo.wav', 'same.wav', 'mono.wav')] +
                     ['--checkpoint', str(checkpoint), '--output', str(out)]) == 0
  stereo = soundfile.read(out / 'stereo.wav', always_2d=True)[0]
  assert stereo.shape == (9600, 2) and np.abs(stereo[:, 0]).max() > 0.1 and np.all(stereo[:, 1] == 0)
  same = soundfile.read(out / 'same.wav', always_2d=True)[0]
  np.testing.assert_array_equal(same[:, 0], same[:, 1])  # one seed for every channel of a file
  mono = soundfile.read(out / 'mono.wav', always_2d=True)[0]
  assert mono.shape == (9600, 1)
  assert sample.main([str(tmp_path / 'stereo.wav'), '--mono', '--checkpoint', str(checkpoint), '--output',
                      str(tmp_path / 'mixed')]) == 0
  assert soundfile.read(tmp_path / 'mixed' / 'stereo.wav', always_2d=True)[0].shape == (9600, 1)


def test_a_nested_folder_is_mirrored(checkpoint, tmp_path, capsys):
  root = tmp_path / 'in'
  (root / 'a' / 'b').mkdir(parents=True)
  (root / '.hidden').mkdir()
  _write(root / 'a' / 'b' / 'c.wav', _tone(0.1, 24000, 200), 24000)
  _write(root / 'd.flac', _tone(0.1, 24000, 400), 24000)
  _write(root / '.hidden' / 'e.wav', _tone(0.1, 24000, 400), 24000)
  (root / 'notes.txt').write_text('not audio')
  single = _write(tmp_path / 'f.ogg', _tone(0.1, 24000, 500), 24000)
  assert sample.main([str(root), single, '--checkpoint', str(checkpoint), '--output', str(tmp_path / 'out')]) == 0
  written = sorted(str(p.relative_to(tmp_path / 'out')) for p in (tmp_path / 'out').rglob('*.wav'))
  assert written == ['a/b/c.wav', 'd.wav', 'f.wav']
  assert sample.main([str(tmp_path / 'out'), '--checkpoint', str(checkpoint), '--output', str(tmp_path / 'out')]) == 1
  assert capsys.readouterr().err.count('would overwrite an input') == 3
  assert sample.main([str(tmp_path / 'missing'), '--checkpoint', str(checkpoint), '--output', str(tmp_path)]) == 2


def test_keep_input_band_leaves_the_input_band_as_it_was(checkpoint, tmp_path):
  from nuwave_jax import input_band
  rng = np.random.default_rng(5)
  # Beyond full scale, so that the outputs are float WAVs: the untrained network's loud high band
  # would clip a 16-bit file, and clipping spreads over every band.
  low = 2 * (_tone(0.5, 24000, 1000) + _tone(0.5, 24000, 9000, 0.2) + 0.01 * rng.normal(size=12000))
  path = _write(tmp_path / 'x.wav', low, 24000, subtype='FLOAT')
  for flag, name in (([], 'plain'), (['--keep-input-band'], 'kept')):
    assert sample.main([path, *flag, '--checkpoint', str(checkpoint), '--output', str(tmp_path / name),
                        '--config.sample.noise_scale=1.0']) == 0
  reference = input_band.to_48k(low[None], 24000, 24000)[0]  # the input, band-limited to 48 kHz
  # Hann-windowed spectra: a rectangular window would leak the loud high band into the low one.
  band = lambda x, lo, hi: np.fft.rfft(x * np.hanning(len(x)))[int(lo * len(x) / 48000):int(hi * len(x) / 48000)]
  error = lambda name, lo, hi: (np.linalg.norm(band(soundfile.read(tmp_path / name / 'x.wav')[0], lo, hi)
                                               - band(reference, lo, hi)) / np.linalg.norm(band(reference, lo, hi)))
  # Below the cutoff (12 kHz) minus the crossfade, the kept output is the input;
  # the untrained model's own output there is not.
  assert error('kept', 100, 12000 - input_band.TRANSITION_HZ) < 1e-5 < 0.1 < error('plain', 100, 11000)
  above = lambda name: np.abs(band(soundfile.read(tmp_path / name / 'x.wav')[0], 12500, 24000))
  np.testing.assert_allclose(above('kept'), above('plain'), rtol=1e-4, atol=1e-4 * above('plain').max())


def test_simulate_scores_a_file_as_evaluate_does(checkpoint, tmp_path, capsys):
  import re
  data = tmp_path / 'data'
  data.mkdir()
  rng = np.random.default_rng(2)
  _write(data / 'clean.wav', np.concatenate([np.zeros(2400), _tone(0.3, 48000, 700) + 0.05 * rng.normal(size=14400),
                                             np.zeros(2400)]), 48000)
  assert sample.main([str(data / 'clean.wav'), '--simulate', '--seed', '4', '--checkpoint', str(checkpoint),
                      '--output', str(tmp_path / 'out')]) == 0
  printed = re.search(r'SNR (-?[\d.]+) dB, LSD ([\d.]+) \(input: (-?[\d.]+) dB, ([\d.]+)\)', capsys.readouterr().out)
  assert evaluate.main(['--checkpoint', str(checkpoint), '--data', str(data), '--runs', '1', '--seed', '4',
                        '--output', str(tmp_path / 'report'), '--plots', '0']) == 0
  report = json.loads((tmp_path / 'report' / 'report.json').read_text())
  scores = report['per_rate']['24000']['per_utterance'][0]
  assert [float(x) for x in printed.groups()] == [round(scores['model']['snr'], 2), round(scores['model']['lsd'], 3),
                                                  round(scores['input']['snr'], 2), round(scores['input']['lsd'], 3)]
  # Both score the file trimmed of its leading and trailing silence, as the data are prepared.
  assert len(soundfile.read(tmp_path / 'out' / 'clean.wav')[0]) < 19200
