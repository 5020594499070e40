"""Corpus-scale upsampling: a file's output depends only on the file, the checkpoint and the seed (not
on the devices, the shard, the process or the batch); a killed run resumes with no half file; the
manifest, the formats and the shard split."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
import soundfile

import nuwave_jax
from nuwave_jax import corpus
import sample
from tests import conftest

FIXTURES = conftest.REPO / 'tests' / 'fixtures' / 'saved_before_family_packages'
NUWAVE2 = str(FIXTURES / 'nuwave2_tiny')


def write_corpus(folder: pathlib.Path, count: int = 6, rate: int = 16000, seed: int = 0) -> pathlib.Path:
  """`count` clips of 0.2-1.4 s (tones, noise, a pause) at `rate`, some stereo, in folder/ and folder/sub/."""
  rng = np.random.default_rng(seed)
  for i in range(count):
    seconds = 0.2 + 1.2 * rng.random()
    t = np.arange(int(seconds * rate)) / rate
    clip = 0.4 * np.sin(2 * np.pi * rng.uniform(150, 900) * t) * (t % 0.5 < 0.35) + 0.01 * rng.normal(size=t.size)
    channels = np.stack([clip, clip[::-1]], axis=1) if i % 3 == 0 else clip
    where = folder / ('sub' if i % 2 else '') / f'clip{i}.flac'
    where.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(where, channels.astype(np.float32), rate)
  return folder


def outputs(folder: pathlib.Path) -> dict[str, np.ndarray]:
  return {str(p.relative_to(folder)): soundfile.read(p, always_2d=True)[0]
          for p in sorted(folder.rglob('*')) if p.suffix in ('.wav', '.flac')}


def assert_same_outputs(a: dict, b: dict, atol: float = 2e-6):
  assert sorted(a) == sorted(b) and a
  for name in a:
    np.testing.assert_allclose(a[name], b[name], rtol=0, atol=atol, err_msg=name)


@pytest.fixture(scope='module')
def speech(tmp_path_factory):
  return write_corpus(tmp_path_factory.mktemp('corpus'))


def test_eight_devices_give_what_one_gives(speech):
  audio, rate = soundfile.read(speech / 'clip0.flac')
  for checkpoint in (NUWAVE2, str(FIXTURES / 'nuwave_tiny')):
    up_rate = 24000 if 'nuwave_tiny' in checkpoint else rate
    source = audio if up_rate == rate else np.repeat(audio, 2, axis=0)[:int(len(audio) * 1.5)]
    one = nuwave_jax.load(checkpoint, devices=jax.devices()[:1]).upsample(source, up_rate, seed=4)
    eight = nuwave_jax.load(checkpoint, overrides=['sample.batch_size=1'])
    assert len(eight.devices) == 8
    # 8 devices x 1 chunk per call: other batches than one device's, padded with rows of silence.
    np.testing.assert_allclose(eight.upsample(source, up_rate, seed=4), one, rtol=0, atol=1e-6)


def test_two_shards_write_what_one_run_writes_each_file_once(speech, tmp_path, capsys):
  flags = ['--checkpoint', NUWAVE2, '--sample-format', 'float']
  assert sample.main([str(speech), '--output', str(tmp_path / 'one'), *flags]) == 0
  shards = [corpus.shard(corpus.find_jobs([str(speech)], tmp_path, '.wav')[0], i, 2) for i in range(2)]
  assert not {j.path for j in shards[0]} & {j.path for j in shards[1]} and len(shards[0]) + len(shards[1]) == 6
  seconds = [sum(corpus.duration_seconds(j.path) for j in s) for s in shards]
  assert max(seconds) - min(seconds) < 1.5  # balanced by duration, within the longest clip
  for i in range(2):
    assert sample.main([str(speech), '--output', str(tmp_path / 'two'), '--shard', f'{i}/2', *flags]) == 0
  assert_same_outputs(outputs(tmp_path / 'one'), outputs(tmp_path / 'two'))
  lines = [json.loads(line) for i in range(2)
           for line in (tmp_path / 'two' / f'manifest-{i}-of-2.jsonl').read_text().splitlines()]
  assert sorted(line['input'] for line in lines) == sorted(str(p) for p in speech.rglob('*.flac'))
  assert all(line['error'] is None and line['rate_hz'] == 16000 and line['cutoff_hz'] == 8000 for line in lines)
  capsys.readouterr()
  for spec, message in (('2/2', 'I must be in 0 .. N - 1 = 1'), ('a', 'give I/N')):
    assert sample.main([str(speech), '--output', str(tmp_path / 'bad'), '--shard', spec, *flags]) == 2
    assert message in capsys.readouterr().err


def test_a_second_run_skips_complete_outputs_and_overwrite_redoes_them(speech, tmp_path, capsys):
  out = tmp_path / 'out'
  assert sample.main([str(speech), '--checkpoint', NUWAVE2, '--output', str(out)]) == 0
  first = outputs(out)
  capsys.readouterr()
  assert sample.main([str(speech), '--checkpoint', NUWAVE2, '--output', str(out)]) == 0
  printed = capsys.readouterr().out
  assert '0 file(s) upsampled' in printed and '6 skipped (complete)' in printed
  (out / 'clip0.wav').unlink()
  assert sample.main([str(speech), '--checkpoint', NUWAVE2, '--output', str(out)]) == 0
  printed = capsys.readouterr().out
  assert '1 file(s) upsampled' in printed and '5 skipped (complete)' in printed
  assert_same_outputs(first, outputs(out), atol=0)
  assert sample.main([str(speech), '--checkpoint', NUWAVE2, '--output', str(out), '--overwrite']) == 0
  assert '6 file(s) upsampled' in capsys.readouterr().out
  manifest = [json.loads(line) for line in (out / 'manifest.jsonl').read_text().splitlines()]
  assert len(manifest) == 13 and set(manifest[0]) == {'input', 'output', 'seconds', 'rate_hz', 'cutoff_hz',
                                                       'processing_seconds', 'error'}


def test_formats_flac_and_24_bit_and_float(speech, tmp_path, capsys):
  clip = speech / 'clip0.flac'
  for file_format, bits, subtype in (('flac', None, 'PCM_16'), ('flac', '24', 'PCM_24'), ('wav', 'float', 'FLOAT')):
    out = tmp_path / f'{file_format}{bits}'
    args = [str(clip), '--checkpoint', NUWAVE2, '--output', str(out), '--format', file_format]
    assert sample.main(args + (['--sample-format', bits] if bits else [])) == 0
    written = out / f'clip0.{file_format}'
    assert soundfile.info(str(written)).subtype == subtype and soundfile.info(str(written)).samplerate == 48000
  floats = soundfile.read(tmp_path / 'wavfloat' / 'clip0.wav')[0]
  np.testing.assert_allclose(soundfile.read(tmp_path / 'flac24' / 'clip0.flac')[0], floats, atol=2 ** -22)
  capsys.readouterr()
  assert sample.main([str(clip), '--checkpoint', NUWAVE2, '--output', str(tmp_path / 'x'), '--format', 'flac',
                      '--sample-format', 'float']) == 2
  assert 'FLAC holds 16- or 24-bit samples' in capsys.readouterr().err


def _free_port():
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def _command(*args):
  env = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}
  env['NUWAVE_JAX_CACHE_DIR'] = ''
  return [sys.executable, '-m', 'nuwave_jax', 'upsample', *args], env


@pytest.mark.slow
def test_two_processes_write_what_one_process_writes(speech, tmp_path):
  flags = ['--checkpoint', NUWAVE2, '--sample-format', 'float']
  command, env = _command(str(speech), '--output', str(tmp_path / 'one'), *flags)
  assert subprocess.run(command, env=env, cwd=conftest.REPO, capture_output=True, timeout=600).returncode == 0
  port = str(_free_port())
  processes = []
  for i in range(2):
    command, env = _command(str(speech), '--output', str(tmp_path / 'two'), *flags, '--coordinator-address',
                            f'localhost:{port}', '--num-processes', '2', '--process-id', str(i))
    processes.append(subprocess.Popen(command, env=env, cwd=conftest.REPO, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
  for process in processes:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    assert 'shard' in out
  assert_same_outputs(outputs(tmp_path / 'one'), outputs(tmp_path / 'two'))
  assert all((tmp_path / 'two' / f'manifest-{i}-of-2.jsonl').is_file() for i in range(2))


@pytest.mark.slow
def test_a_run_killed_mid_way_resumes_to_the_same_outputs_with_no_half_file(tmp_path):
  speech = write_corpus(tmp_path / 'speech', count=10, seed=3)
  flags = ['--checkpoint', NUWAVE2, '--sample-format', 'float', '--workers', '1']
  command, env = _command(str(speech), '--output', str(tmp_path / 'whole'), *flags)
  assert subprocess.run(command, env=env, cwd=conftest.REPO, capture_output=True, timeout=600).returncode == 0
  # Groups of at most 0.5 s of audio: outputs are written one group after another.
  command, env = _command(str(speech), '--output', str(tmp_path / 'killed'), *flags, '--group-seconds', '0.5')
  process = subprocess.Popen(command, env=env, cwd=conftest.REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  manifest = tmp_path / 'killed' / 'manifest.jsonl'
  deadline = time.time() + 300
  while time.time() < deadline and (not manifest.is_file() or len(manifest.read_text().splitlines()) < 2):
    time.sleep(0.05)
  os.kill(process.pid, signal.SIGKILL)
  process.wait()
  done = len(manifest.read_text().splitlines())
  assert 2 <= done < 10, done
  command, env = _command(str(speech), '--output', str(tmp_path / 'killed'), *flags)
  resumed = subprocess.run(command, env=env, cwd=conftest.REPO, capture_output=True, text=True, timeout=600)
  assert resumed.returncode == 0 and f'{10 - done} file(s) upsampled' in resumed.stdout
  assert f'{done} skipped (complete)' in resumed.stdout
  assert not list((tmp_path / 'killed').rglob('*.partial'))
  assert_same_outputs(outputs(tmp_path / 'whole'), outputs(tmp_path / 'killed'))


@pytest.mark.slow
def test_evaluate_on_two_processes_reports_what_one_process_reports(tmp_path):
  data = tmp_path / 'data'
  data.mkdir()
  rng = np.random.default_rng(5)
  for i in range(5):
    t = np.arange(int((0.3 + 0.2 * i) * 48000)) / 48000
    soundfile.write(data / f'u{i}.wav', (0.5 * np.sin(2 * np.pi * 400 * (i + 1) * t) + 0.05 * rng.normal(size=t.size))
                    .astype(np.float32), 48000)
  env = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}
  env['NUWAVE_JAX_CACHE_DIR'] = ''
  base = [sys.executable, '-m', 'nuwave_jax', 'evaluate', '--checkpoint', NUWAVE2, '--data', str(data), '--runs', '2',
          '--rates', '8000', '16000', '--plots', '5']
  one = subprocess.run(base + ['--output', str(tmp_path / 'one')], env=env, cwd=conftest.REPO, capture_output=True,
                       text=True, timeout=600)
  assert one.returncode == 0, one.stderr[-3000:]
  port = str(_free_port())
  processes = [subprocess.Popen(base + ['--output', str(tmp_path / 'two'), '--coordinator-address', f'localhost:{port}',
                                        '--num-processes', '2', '--process-id', str(i)],
                                env=env, cwd=conftest.REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for i in range(2)]
  for process in processes:
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
  reports = [json.loads((tmp_path / name / 'report.json').read_text()) for name in ('one', 'two')]
  for rate in ('8000', '16000'):
    a, b = (r['per_rate'][rate] for r in reports)
    assert [u['name'] for u in a['per_utterance']] == [u['name'] for u in b['per_utterance']]
    np.testing.assert_allclose(b['model']['lsd']['mean'], a['model']['lsd']['mean'], rtol=1e-5)
    np.testing.assert_allclose(b['model']['snr']['mean'], a['model']['snr']['mean'], rtol=1e-5)
    assert b['input'] == a['input']
  # Every utterance's spectrograms, each written by the host that sampled it.
  assert len(list((tmp_path / 'two' / 'spectrograms').glob('*.png'))) == 10
