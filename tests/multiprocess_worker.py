"""One process of a 2-process (multi-host) training run on localhost, for test_training.py.

  python tests/multiprocess_worker.py PROCESS_ID NUM_PROCESSES PORT OUT.npz
Each process has 4 CPU devices and feeds its own half of a fixed global batch; the mesh spans all
8 devices of both processes (gloo collectives). Writes the final params of this process.
"""

import os
import sys

os.environ['XLA_FLAGS'] = '--xla_force_host_platform_device_count=4'
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from tests import training_fixtures  # noqa: E402


def main():
  process_id, num_processes, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(f'localhost:{port}', num_processes=num_processes, process_id=process_id)
  assert jax.device_count() == 4 * num_processes and jax.local_device_count() == 4
  params = training_fixtures.run_steps(process_id, num_processes)
  flat = {jax.tree_util.keystr(k): np.asarray(v) for k, v in jax.tree_util.tree_leaves_with_path(params)}
  np.savez(out, **flat)
  jax.distributed.shutdown()


if __name__ == '__main__':
  main()
