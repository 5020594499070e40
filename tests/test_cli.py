"""The nuwave-jax command: its subcommands run the tools' code, its help fits a screen, and a second
run loads its compiled programs from the persistent cache instead of compiling them."""

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from tests import conftest


def _run(*args, env=None, timeout=600):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', **(env or {}))
  env.pop('XLA_FLAGS', None)
  return subprocess.run([sys.executable, '-m', 'nuwave_jax', *args], cwd=conftest.REPO, capture_output=True,
                        text=True, timeout=timeout, env=env)


def test_the_command_lists_its_subcommands_and_each_help_fits_a_screen():
  result = _run()
  assert result.returncode == 2
  for command in ('upsample', 'train', 'evaluate', 'convert'):
    assert f'nuwave-jax {command}' in result.stdout
    help_text = _run(command, '--help')
    assert help_text.returncode == 0, help_text.stderr
    lines = help_text.stdout.splitlines()
    assert len(lines) <= 40 and max(map(len, lines)) <= 100, (command, len(lines))
  described = ' '.join(_run('upsample', '--help').stdout.split())
  assert '(24000 Hz for x2, 16000 Hz for x3); NU-Wave 2: any rate from 6000 Hz' in described
  unknown = _run('upsampel')
  assert unknown.returncode == 2 and "unknown command 'upsampel'" in unknown.stderr


@pytest.mark.parametrize('argv, expected', [
    (['prepare', '--config', 'configs/tiny.py', '--config.data.dir=/nonexistent'],
     "config.data.dir='/nonexistent' is not a folder of audio files"),
    (['train', '--config', 'configs/nuwave2_tiny.py', '--workdir', '/nonexistent/run', '--config.train.batch_sise=2'],
     "names no field of the config: 'batch_sise'"),
    (['evaluate', '--checkpoint', 'tests/fixtures/saved_before_family_packages/nuwave_tiny', '--data', 'config',
      '--output', '/nonexistent/report'], "config.data.dir='' is not a folder of audio files"),
    (['upsample', '--checkpoint', 'tests/fixtures/saved_before_family_packages/nuwave2_tiny', 'missing.wav',
      '--output', '/nonexistent/out'], 'missing.wav: no such file or folder'),
])
def test_every_command_fails_in_one_line_on_every_cpu(argv, expected):
  """TensorFlow turns its oneDNN operations on by itself on AVX-512 CPUs and then prints two notices
  through absl before any log level applies; forced on here (any x86 CPU), with no log level set, the
  command's error must still be all it prints."""
  env = {k: v for k, v in os.environ.items() if k not in ('TF_CPP_MIN_LOG_LEVEL', 'XLA_FLAGS')}
  result = subprocess.run([sys.executable, '-m', 'nuwave_jax', *argv], cwd=conftest.REPO, capture_output=True,
                          text=True, timeout=300, env=dict(env, TF_ENABLE_ONEDNN_OPTS='1'))
  assert result.returncode == 2
  lines = result.stderr.splitlines()
  assert lines[0].startswith('error: ') and expected in lines[0] and len(lines) <= 2, result.stderr[-2000:]
  assert 'oneDNN' not in result.stderr and 'absl' not in result.stderr and result.stdout == ''


def test_subcommands_train_evaluate_and_upsample(tiny_checkpoint, synthetic_folder, tmp_path):
  run = tmp_path / 'run'
  trained = _run('train', '--config', 'configs/tiny.py', '--workdir', str(run),
                 f'--config.data.dir={synthetic_folder}', f'--config.data.tfds_data_dir={tmp_path / "tfds"}',
                 '--config.train.num_steps=2', '--config.train.batch_size', '2', '--config.train.eval_every=2')
  assert trained.returncode == 0, trained.stderr[-3000:]
  assert sorted(p.name for p in (run / 'checkpoints').iterdir()) == ['2']
  evaluated = _run('evaluate', '--checkpoint', str(run), '--data', str(synthetic_folder / 'eval'), '--runs', '1',
                   '--output', str(tmp_path / 'report'), '--config.sample.batch_size=3')
  assert evaluated.returncode == 0, evaluated.stderr[-3000:]
  assert '| 24 kHz, input |' in evaluated.stdout and (tmp_path / 'report' / 'report.json').is_file()
  refused = _run('evaluate', '--checkpoint', str(run), '--data', str(synthetic_folder / 'eval'),
                 '--output', str(tmp_path / 'r2'), '--config.model.residual_channels=4')
  assert refused.returncode == 2 and 'model.residual_channels is fixed by the checkpoint' in refused.stderr
  upsampled = _run('upsample', '--checkpoint', str(run), str(synthetic_folder / 'eval'), '--simulate',
                   '--output', str(tmp_path / 'out'))
  assert upsampled.returncode == 0, upsampled.stderr[-3000:]
  assert len(list((tmp_path / 'out').glob('*.wav'))) == 3 and 'SNR' in upsampled.stdout


def test_a_second_run_loads_every_compiled_program_from_the_cache(tiny_checkpoint, tmp_path):
  audio = 0.5 * np.sin(np.arange(12000) / 5)
  soundfile.write(tmp_path / 'x.wav', np.stack([audio, audio[::-1]], axis=1), 24000)
  cache = tmp_path / 'cache'
  env = {'NUWAVE_JAX_CACHE_DIR': str(cache), 'JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS': '0'}
  args = ['upsample', '--checkpoint', str(tiny_checkpoint), str(tmp_path / 'x.wav'), '--output']
  entries = lambda: sorted(p.name for p in cache.rglob('*') if p.is_file())
  first = _run(*args, str(tmp_path / 'a'), env=env)
  assert first.returncode == 0, first.stderr[-3000:]
  assert entries(), 'the first run wrote no compiled program to the cache'
  after_first = entries()
  second = _run(*args, str(tmp_path / 'b'), env=env)
  assert second.returncode == 0, second.stderr[-3000:]
  assert entries() == after_first  # nothing compiled again (a 0 s threshold keeps every compile)
  read = lambda name: soundfile.read(tmp_path / name / 'x.wav')[0]
  np.testing.assert_array_equal(read('a'), read('b'))


def test_only_training_keeps_freed_host_memory(monkeypatch):
  """Kept memory serves a train step's one repeated scratch block; sampling's programs of other sizes
  would each take a new one (a 30 s file: 10-13 GB kept, 2-4 GB without)."""
  from nuwave_jax import cli
  from nuwave_jax import startup
  asked = []

  def prepare(reuse_host_memory=False):
    asked.append(reuse_host_memory)
    raise SystemExit(0)  # stop before the command itself

  monkeypatch.setattr(startup, 'prepare', prepare)
  for command in ('train', 'upsample', 'evaluate', 'convert'):
    with pytest.raises(SystemExit):
      cli.run(command, [])
  assert asked == [True, False, False, False]
