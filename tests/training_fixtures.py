"""A fixed tiny training problem shared by the in-process and the multi-process training tests."""

import jax
import numpy as np

from configs import tiny
from nuwave_jax import training
from nuwave_jax.nuwave import conditioning

GLOBAL_BATCH = 8
STEPS = 3


def config():
  c = tiny.get_config()
  c.train.batch_size = GLOBAL_BATCH
  c.data.segment_samples = 1024
  return c


def batch_rows(step: int) -> dict[str, np.ndarray]:
  """The global batch of `step`: random audio and its condition."""
  rng = np.random.default_rng(step)
  audio = rng.uniform(-0.5, 0.5, (GLOBAL_BATCH, 1024)).astype(np.float32)
  return {'audio': audio, 'condition': conditioning.make_condition(audio, 2)}


def run_steps(process_id: int = 0, num_processes: int = 1, devices=None, microbatches: int = 1,
              unroll_microbatches: bool | None = None):
  """STEPS train steps on the mesh of `devices` (default: all); returns the final params (host)."""
  c = config()
  c.train.microbatches = microbatches
  mesh = training.make_mesh(devices)
  state = training.init_state(c, mesh)
  train_step = training.make_train_step(c, mesh, unroll_microbatches)
  rows = GLOBAL_BATCH // num_processes
  for step in range(STEPS):
    local = {k: v[process_id * rows:(process_id + 1) * rows] for k, v in batch_rows(step).items()}
    state, _ = train_step(state, training.global_batch(local, mesh))
  return jax.device_get(state.params)
