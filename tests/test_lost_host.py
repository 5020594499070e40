"""A run of 2 processes (localhost, gloo) that loses one: the other stops with an error within
train.peer_timeout_seconds, and starting both again resumes to the parameters of an unbroken run."""

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

from nuwave_jax import checkpoints
from tests import conftest

PEER_TIMEOUT = 10
STEPS, EVERY = 240, 60


def _free_port():
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def _start(workdir: pathlib.Path, data: pathlib.Path, tfds: pathlib.Path):
  """Processes 0 and 1 of `nuwave-jax train` (configs/tiny.py, one CPU device each), started."""
  port = str(_free_port())
  env = dict(os.environ, PYTHONPATH=str(conftest.REPO), XLA_FLAGS='--xla_force_host_platform_device_count=1',
             TF_CPP_MIN_LOG_LEVEL='3')
  command = [sys.executable, str(conftest.REPO / 'train.py'), '--config', str(conftest.REPO / 'configs' / 'tiny.py'),
             '--workdir', str(workdir), f'--config.data.dir={data}', f'--config.data.tfds_data_dir={tfds}',
             '--config.data.trim_top_db=0.0', f'--config.train.num_steps={STEPS}',
             f'--config.train.checkpoint_every={EVERY}', '--config.train.eval_utterances=0',
             f'--config.train.peer_timeout_seconds={PEER_TIMEOUT}', '--coordinator-address', f'localhost:{port}',
             '--num-processes', '2']
  return [subprocess.Popen(command + ['--process-id', str(i)], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True) for i in range(2)]


def _finish(procs, timeout=300):
  outputs = [p.communicate(timeout=timeout)[0] for p in procs]
  for p, output in zip(procs, outputs):
    assert p.returncode == 0, output[-3000:]


def _params(workdir):
  params, _, step = checkpoints.restore_params(workdir, use_ema=False)
  assert step == STEPS
  return jax.tree.leaves(jax.device_get(params))


@pytest.mark.slow
def test_a_killed_process_stops_the_other_and_a_restart_resumes_exactly(synthetic_folder, tmp_path):
  tfds = tmp_path / 'tfds'
  _finish(_start(tmp_path / 'unbroken', synthetic_folder, tfds))

  workdir = tmp_path / 'broken'
  procs = _start(workdir, synthetic_folder, tfds)
  first = workdir / 'checkpoints' / str(EVERY)
  deadline = time.time() + 240
  while not first.is_dir() and time.time() < deadline and procs[1].poll() is None:
    time.sleep(0.05)
  assert first.is_dir(), procs[1].communicate()[0][-3000:]
  procs[1].send_signal(signal.SIGKILL)
  killed = time.time()
  output, _ = procs[0].communicate(timeout=PEER_TIMEOUT + 120)
  waited = time.time() - killed
  assert procs[0].returncode != 0, output[-3000:]
  assert waited < PEER_TIMEOUT + 60, f'the survivor took {waited:.0f} s to stop'
  assert ('lost contact with another process of the run' in output
          or 'the JAX distributed service detected fatal errors' in output), output[-3000:]
  procs[1].communicate()
  steps = checkpoints.make_manager(workdir)
  assert EVERY <= steps.latest_step() < STEPS, steps.all_steps()
  steps.close()

  _finish(_start(workdir, synthetic_folder, tfds))  # the same command again
  for a, b in zip(_params(tmp_path / 'unbroken'), _params(workdir)):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
