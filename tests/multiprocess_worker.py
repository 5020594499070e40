"""One process of a 2-process (multi-host) training run on localhost, for test_training.py.

  python tests/multiprocess_worker.py PROCESS_ID NUM_PROCESSES PORT OUT.npz [CHECKPOINT_DIR]
Each process has 4 CPU devices and feeds its own half of a fixed global batch; the mesh spans all
8 devices of both processes (gloo collectives). Writes the final params of this process. With
CHECKPOINT_DIR (shared by the processes), the final state is saved there, restored, checked equal,
and the restored params are written instead.
"""

import os
import sys

os.environ['XLA_FLAGS'] = '--xla_force_host_platform_device_count=4'
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from nuwave_jax import checkpoints  # noqa: E402
from nuwave_jax import training  # noqa: E402
from tests import training_fixtures  # noqa: E402


def save_and_restore(process_id: int, num_processes: int, directory: str):
  """One train step, its state saved by all processes and restored through the checkpoint checks."""
  config = training_fixtures.config()
  mesh = training.make_mesh()
  state = training.init_state(config, mesh)
  rows = training_fixtures.GLOBAL_BATCH // num_processes
  local = {k: v[process_id * rows:(process_id + 1) * rows]
           for k, v in training_fixtures.batch_rows(0).items()}
  state, _ = training.make_train_step(config, mesh)(state, training.global_batch(local, mesh))
  manager = checkpoints.make_manager(directory)
  training.save_state(manager, state)
  manager.wait_until_finished()
  restored = training.restore_state(manager, 1, training.abstract_state(config, mesh))
  manager.close()
  for saved, loaded in zip(jax.tree.leaves(jax.device_get(state.params)),
                           jax.tree.leaves(jax.device_get(restored.params))):
    np.testing.assert_array_equal(saved, loaded)
  assert int(jax.device_get(restored.step)) == 1
  return jax.device_get(restored.params)


def main():
  process_id, num_processes, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(f'localhost:{port}', num_processes=num_processes, process_id=process_id)
  assert jax.device_count() == 4 * num_processes and jax.local_device_count() == 4
  if len(sys.argv) > 5:
    params = save_and_restore(process_id, num_processes, sys.argv[5])
  else:
    params = training_fixtures.run_steps(process_id, num_processes)
  flat = {jax.tree_util.keystr(k): np.asarray(v) for k, v in jax.tree_util.tree_leaves_with_path(params)}
  np.savez(out, **flat)
  jax.distributed.shutdown()


if __name__ == '__main__':
  main()
