"""Train NU-Wave.

  python train.py --config configs/nuwave_x3.py --workdir runs/nuwave_x3 \
      --config.data.source=vctk --config.data.dir=/data/VCTK-Corpus-0.92

Any config field can be overridden (--config.train.batch_size=8). Running the same command again
resumes from the newest checkpoint in --workdir. SIGTERM saves a checkpoint and exits. Several
processes (a TPU pod slice, several GPU hosts): pass --multihost on every host (Cloud TPU, SLURM and
GKE are detected), or --coordinator_address, --num_processes and --process_id explicitly.
"""

import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402
import jax  # noqa: E402
from jax.experimental import multihost_utils  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from nuwave_jax import configuration  # noqa: E402
from nuwave_jax import host_memory  # noqa: E402
from nuwave_jax import training  # noqa: E402
from nuwave_jax.data import pipeline  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file('config', None, 'a config file, e.g. configs/nuwave_x3.py',
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None, 'checkpoints, config.json and TensorBoard logs')
_MULTIHOST = flags.DEFINE_bool('multihost', False,
                               'call jax.distributed.initialize() with the cluster auto-detected')
_COORDINATOR = flags.DEFINE_string('coordinator_address', None, 'host:port of process 0')
_NUM_PROCESSES = flags.DEFINE_integer('num_processes', None, 'processes in the run')
_PROCESS_ID = flags.DEFINE_integer('process_id', None, 'this process, 0 .. num_processes - 1')
flags.mark_flags_as_required(['config', 'workdir'])


def initialize_distributed() -> None:
  if _COORDINATOR.value or _MULTIHOST.value:
    # CPU hosts need gloo for cross-process collectives; the option is ignored on GPU and TPU.
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')
    jax.distributed.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)


def prepare_data(config):
  """Process 0 prepares the dataset first, so hosts sharing a filesystem never build it twice."""
  if jax.process_index() != 0:
    multihost_utils.sync_global_devices('nuwave data prepared')
  builder = pipeline.make_builder(config)
  if jax.process_index() == 0 and jax.process_count() > 1:
    multihost_utils.sync_global_devices('nuwave data prepared')
  return builder


def parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing, where a --config override naming no config field is one line, not a
  traceback (ml_collections raises KeyError or AttributeError with the field it did not find)."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as error:
    sys.exit(f'error: {error}\nPass --help to see the flags.')
  except (KeyError, AttributeError) as error:
    while not isinstance(error, KeyError) and isinstance(error.__context__, (KeyError, AttributeError)):
      error = error.__context__  # an AttributeError quotes the KeyError that has the suggestion
    message = error.args[0] if error.args else error
    sys.exit(f'error: a --config override names no field of the config: {message}')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  logging.set_verbosity(logging.WARNING)  # orbax and tfds log every step of every save at INFO
  initialize_distributed()
  config = _CONFIG.value
  try:
    configuration.check_config(config)
    training.check_workdir(config, _WORKDIR.value)
    builder = prepare_data(config)
    train_data = lambda start_step: pipeline.train_dataset(
        config, process_index=jax.process_index(), process_count=jax.process_count(),
        seed=config.train.seed, start_step=start_step, builder=builder).as_numpy_iterator()
    eval_utterances = pipeline.eval_utterances(config, config.train.eval_utterances, builder) \
        if jax.process_index() == 0 and config.train.eval_utterances else []
    training.train_and_evaluate(config, _WORKDIR.value, train_data, eval_utterances)
  except (FileNotFoundError, ValueError, FloatingPointError) as error:
    sys.exit(f'error: {error}')


if __name__ == '__main__':
  host_memory.reuse_freed_host_memory()  # before JAX starts its threads
  app.run(main, flags_parser=parse_flags)
