"""Shared test setup: the repo root importable, configs at hand, JAX on 8 fake CPU devices."""

import os
import pathlib
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
# 8 CPU devices for the sharding tests; harmless elsewhere. Must precede the first jax import.
os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                           ' --xla_force_host_platform_device_count=8').strip()

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / 'shared'
sys.path.insert(0, str(REPO))

import pytest  # noqa: E402

from configs import nuwave_x2, nuwave_x3, tiny  # noqa: E402


@pytest.fixture
def tiny_config():
  return tiny.get_config()


@pytest.fixture
def paper_config():
  return nuwave_x2.get_config()


@pytest.fixture
def paper_config_x3():
  return nuwave_x3.get_config()
