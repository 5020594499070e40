"""Training settings per chip (nuwave_jax/chips.py): a batch the devices split evenly, and microbatches
sized from what compiled within each chip's HBM (the compiles themselves: tests/test_tpu_fit.py)."""

import json
import subprocess
import sys

import pytest

from configs import nuwave2
from configs import nuwave_x3
from configs import tiny
from nuwave_jax import chips
from tests import conftest


@pytest.mark.parametrize('batch, devices, valid', [(36, 1, 36), (36, 8, 40), (36, 4, 36), (24, 8, 24), (4, 8, 8),
                                                   (28, 8, 32), (20, 8, 24), (12, 8, 16)])
def test_valid_batch_is_the_nearest_multiple_of_the_devices(batch, devices, valid):
  assert chips.valid_batch(batch, devices) == valid
  assert valid % devices == 0


@pytest.mark.parametrize('get_config, chip, batch, microbatches', [
    (nuwave_x3.get_config, 'v5e-1', 36, 6),   # 6 rows at once: under the 8 that fit 16 GiB
    (nuwave_x3.get_config, 'v6e-1', 36, 3),   # 12 rows: under 16 in 32 GiB
    (nuwave_x3.get_config, 'v5e-8', 40, 1),   # 5 rows per chip
    (nuwave_x3.get_config, 'v4-8', 36, 1),    # 9 rows per 32 GiB chip
    (nuwave_x3.get_config, 'v3-8', 40, 1),
    (nuwave2.get_config, 'v5e-1', 24, 6),     # 4 rows: NU-Wave 2 holds half as many
    (nuwave2.get_config, 'v6e-1', 24, 3),
    (nuwave2.get_config, 'v5e-8', 24, 1)])
def test_train_overrides_per_chip(get_config, chip, batch, microbatches):
  c = chips.CHIPS[chip]
  assert chips.train_overrides(get_config(), c.device_kind, c.devices) == {
      'train.batch_size': batch, 'train.microbatches': microbatches}


def test_shorter_segments_or_other_devices_need_fewer_parts():
  config = nuwave_x3.get_config()
  config.data.segment_samples = 8192  # 4x the rows fit
  assert chips.train_overrides(config, 'TPU v5 lite', 1)['train.microbatches'] == 2
  bfloat16 = nuwave_x3.get_config()
  bfloat16.model.dtype = 'bfloat16'  # not enough on its own: the float32 parts are kept
  assert chips.train_overrides(bfloat16, 'TPU v5 lite', 1)['train.microbatches'] == 6
  assert chips.train_overrides(nuwave_x3.get_config(), 'cpu', 8) == {'train.batch_size': 40, 'train.microbatches': 1}


def test_the_chip_check_names_the_devices_and_refuses_another_platform():
  run = lambda *flags: subprocess.run([sys.executable, '-m', 'nuwave_jax.chips', '--config',
                                       str(conftest.REPO / 'configs' / 'tiny.py'), *flags],
                                      capture_output=True, text=True, cwd=conftest.REPO)
  here = run('--platform', 'cpu')
  assert here.returncode == 0, here.stderr
  printed = json.loads(here.stdout.splitlines()[-1])
  assert printed['platform'] == 'cpu' and printed['overrides'] == {
      'train.batch_size': chips.valid_batch(tiny.get_config().train.batch_size, printed['devices']),
      'train.microbatches': 1}
  elsewhere = run('--platform', 'tpu')
  assert elsewhere.returncode == 1 and 'JAX runs on cpu, not tpu' in elsewhere.stderr
