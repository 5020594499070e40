"""The accelerator check and the research diagnostics run end to end (tiny sizes, on the CPU)."""

import os
import subprocess
import sys

import numpy as np
import pytest

from configs import nuwave2_tiny
from nuwave_jax import checkpoints
from tests import conftest

# Imports that fail: the accelerator check must run where TensorFlow is not installed.
_WITHOUT_TENSORFLOW = ("import os, runpy, sys; sys.modules['tensorflow'] = None; "
                       "sys.modules['tensorflow_datasets'] = None; sys.argv = sys.argv[1:]; "
                       "sys.path.insert(0, os.path.dirname(sys.argv[0])); "
                       "runpy.run_path(sys.argv[0], run_name='__main__')")


def _run(*args, timeout=600):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
  env.pop('XLA_FLAGS', None)  # one device, as a user runs them
  return subprocess.run([sys.executable, *args], cwd=conftest.REPO, capture_output=True, text=True,
                        timeout=timeout, env=env)


@pytest.mark.slow
def test_accelerator_check_runs_without_tensorflow_and_prints_one_table():
  result = _run('-c', _WITHOUT_TENSORFLOW, 'benchmarks/accelerator.py', '--config', 'tiny', '--batch', '2',
                '--samples', '2048', '--seconds', '0.1', '--repeats', '1')
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  out = result.stdout
  assert out.startswith('device: cpu')
  assert out.count('| ok |') == 4 and 'FAILED' not in out
  for row in ('float32, plain kernels', 'float32, cpu kernels', 'bfloat16, plain kernels',
              'bfloat16, cpu kernels', '0.1 s of audio', '1 call(s)', '4 call(s)'):
    assert f'| {row} |' in out
  assert 'sampling sharded over' in out


@pytest.fixture(scope='module')
def v_residual_checkpoint(tmp_path_factory):
  """A tiny checkpoint with the parameterisation configs/small.py trains: v-prediction, residual input,
  log-SNR embedding (the diagnostics must go through the one denoiser to read it right)."""
  from configs import tiny
  config = tiny.get_config()
  config.model.prediction, config.model.network_input = 'v', 'noisy_minus_condition'
  config.model.noise_input, config.model.embedding_scale = 'log_snr', 1.0
  directory = tmp_path_factory.mktemp('v_residual')
  params = conftest.init_params(config)
  checkpoints.save_params(directory, config, {'params': params, 'ema_params': params}, step=1)
  return directory


@pytest.mark.parametrize('script, args, expected', [
    ('denoiser_levels.py', ['--limit', '2', '--samples', '4096'], '| 0.2983301 |'),
    ('sampler_trace.py', ['--clips', '1', '--seconds', '0.05'], '| 8 |'),
    ('lsd_bands.py', ['--limit', '2', '--noise-scales', '1,0'], 'noise scale 0: LSD model'),
])
def test_diagnostics_read_a_v_prediction_residual_input_checkpoint(v_residual_checkpoint, synthetic_folder,
                                                                    script, args, expected):
  result = _run(f'benchmarks/diagnostics/{script}', '--checkpoint', str(v_residual_checkpoint),
                '--data', str(synthetic_folder / 'eval'), *args)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  assert expected in result.stdout


@pytest.mark.parametrize('script, args, expected', [
    ('linear_baseline.py', [], '| x3 |'),
    ('lsd_noise_floor.py', ['--limit', '2', '--seconds', '0.1'], '| 0.001 | -60 |'),
])
def test_corpus_diagnostics_run(synthetic_folder, script, args, expected):
  result = _run(f'benchmarks/diagnostics/{script}', '--data', str(synthetic_folder / 'eval'), *args)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  assert expected in result.stdout


def test_nuwave2_denoiser_levels_prints_a_row_per_sampler_step(synthetic_folder, tmp_path, v_residual_checkpoint):
  config = nuwave2_tiny.get_config()
  config.model.prediction, config.diffusion.target = 'v', 'signal_minus_condition'
  params = conftest.init_params(config)
  checkpoints.save_params(tmp_path / 'nuwave2', config, {'params': params})
  result = _run('benchmarks/diagnostics/nuwave2_denoiser_levels.py', '--checkpoint', str(tmp_path / 'nuwave2'),
                '--data', str(synthetic_folder / 'eval'), '--limit', '2', '--seconds', '0.1', '--rate', '16000')
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  lines = result.stdout.splitlines()
  rows = [line.split(' | ') for line in lines[[i for i, line in enumerate(lines) if line.startswith('|---')][0] + 1:]]
  np.testing.assert_allclose([float(row[0][2:]) for row in rows], nuwave2_tiny.get_config().sample.log_snrs, atol=1e-5)
  # The target over the noise that entered grows as alpha / sigma = exp(lambda / 2), whatever the network.
  ratios = [float(row[3]) for row in rows[:3]]
  np.testing.assert_allclose(ratios[1] / ratios[0], np.exp((-0.8 + 2.6) / 2), rtol=0.02)
  refused = _run('benchmarks/diagnostics/nuwave2_denoiser_levels.py', '--checkpoint', str(v_residual_checkpoint),
                 '--data', str(synthetic_folder / 'eval'))
  assert refused.returncode != 0 and 'a NU-Wave checkpoint' in refused.stderr
