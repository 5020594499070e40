"""What the Colab notebook trains fits a v5e-1 (16 GiB of HBM), checked on the CPU by compiling for
the chip with XLA's TPU compiler (benchmarks/tpu_fit.py): nothing runs on a TPU.

Needs a Python with jax[tpu] of the pinned jax: $NUWAVE_TPU_PYTHON, or .venv-tpu at the repository's
root (scripts/make_tpu_venv.sh makes it; .ci/run does). Skipped, saying so, where there is neither.
About five minutes: six compiles of the paper-size networks.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from tests import conftest

pytestmark = pytest.mark.slow  # six compiles of the paper-size networks for a TPU: about 6 minutes

TPU_PYTHON = pathlib.Path(os.environ.get('NUWAVE_TPU_PYTHON', conftest.REPO / '.venv-tpu' / 'bin' / 'python'))
V5E_HBM_GIB = 16.0
XLA_USABLE_GIB = 15.75  # what XLA says a v5e leaves a program ('exceeds available HBM (15.75G)')


def _has_libtpu() -> bool:
  return TPU_PYTHON.exists() and subprocess.run([str(TPU_PYTHON), '-c', 'import libtpu'],
                                                capture_output=True).returncode == 0


@pytest.fixture(scope='module')
def v5e_rows(tmp_path_factory):
  """{(config, setting): the train step's row} for a v5e-1, from one benchmarks/tpu_fit.py run."""
  if not _has_libtpu():
    pytest.skip(f'no Python with jax[tpu] at {TPU_PYTHON}: run scripts/make_tpu_venv.sh (or set NUWAVE_TPU_PYTHON)')
  out = tmp_path_factory.mktemp('tpu_fit') / 'rows.json'
  env = {k: v for k, v in os.environ.items() if k not in ('XLA_FLAGS', 'JAX_PLATFORMS')}
  subprocess.run([str(TPU_PYTHON), str(conftest.REPO / 'benchmarks' / 'tpu_fit.py'), '--chips', 'v5e-1',
                  '--configs', 'nuwave_x3', 'nuwave2', '--settings', 'paper', 'colab', 'mb4', '--no-sampler',
                  '--json', str(out)],
                 check=True, env=env, cwd=conftest.REPO, timeout=2400, stdout=sys.stderr, stderr=subprocess.STDOUT)
  return {(r['config'], r['setting']): r for r in json.loads(out.read_text()) if r['what'] == 'train'}


@pytest.mark.parametrize('config', ['nuwave_x3', 'nuwave2'])
def test_the_notebooks_settings_fit_a_v5e1_with_a_quarter_to_spare(v5e_rows, config):
  row = v5e_rows[config, 'colab']
  assert not row.get('over'), row
  assert row['hbm_gib'] <= 0.75 * V5E_HBM_GIB, row
  assert row['microbatches'] > 1 and row['batch'] == {'nuwave_x3': 36, 'nuwave2': 24}[config]


def test_the_papers_batch_does_not_fit_without_microbatches(v5e_rows):
  for config in ('nuwave_x3', 'nuwave2'):
    assert v5e_rows[config, 'paper']['over'] and v5e_rows[config, 'paper']['hbm_gib'] > V5E_HBM_GIB


def test_four_rolled_microbatches_fit_nuwave_x3_in_float32(v5e_rows):
  """The paper's batch in 4 parts: rolled (off the CPU) it compiles within the HBM XLA leaves; unrolled
  (as on a CPU) it would need all four parts' activations at once."""
  row = v5e_rows['nuwave_x3', 'mb4']
  assert not row.get('over') and row['dtype'] == 'float32' and row['microbatches'] == 4
  assert row['hbm_gib'] < XLA_USABLE_GIB
  assert row['hbm_gib'] < v5e_rows['nuwave_x3', 'paper']['hbm_gib'] / 2
  # The compiled FLOPs against the closed form: 3 x 2 x the network's multiply-adds per row.
  sys.path.insert(0, str(conftest.REPO / 'benchmarks'))
  import common
  from configs import nuwave_x3
  closed_form = common.train_step_flops(nuwave_x3.get_config(), 36, 32768)
  assert 0.95 < row['flops'] / closed_form < 1.15


def test_without_libtpu_the_benchmark_says_what_it_needs():
  result = subprocess.run([sys.executable, str(conftest.REPO / 'benchmarks' / 'tpu_fit.py'), '--chips', 'v5e-1'],
                          capture_output=True, text=True, cwd=conftest.REPO)
  assert result.returncode == 1 and 'this needs jax[tpu]==' in result.stderr and 'make_tpu_venv.sh' in result.stderr
