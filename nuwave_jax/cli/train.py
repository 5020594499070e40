r"""nuwave-jax train: train NU-Wave or NU-Wave 2 from a config file.

  nuwave-jax train --config configs/nuwave_x3.py --workdir runs/nuwave_x3 \
      --config.data.source=vctk --config.data.dir=/data/VCTK-Corpus-0.92

Any config field can be overridden (--config.train.batch_size=8). Running the same command again
resumes from the newest checkpoint in --workdir; SIGTERM saves a checkpoint and exits. Several
processes (a TPU pod slice, several GPU hosts): pass --multihost on every host (Cloud TPU, SLURM and
GKE are detected), or --coordinator-address, --num-processes and --process-id.
"""

import argparse
import sys

from nuwave_jax.cli import common


def parser() -> argparse.ArgumentParser:
  p = common.parser('train', __doc__, 'Train NU-Wave or NU-Wave 2 from a config file; the same command again resumes.')
  p.add_argument('--config', required=True, metavar='FILE', help='a config file, e.g. configs/nuwave_x3.py')
  p.add_argument('--workdir', required=True, help='checkpoints, config.json and TensorBoard logs')
  p.add_argument('--multihost', action='store_true',
                 help='one process of a multi-host run, the cluster detected by jax.distributed')
  p.add_argument('--coordinator-address', metavar='HOST:PORT', help="process 0's address")
  p.add_argument('--num-processes', type=int, help='processes in the run')
  p.add_argument('--process-id', type=int, help='this process, 0 .. num-processes - 1')
  common.add_overrides_help(p, 'train.batch_size=8 (every field: configs/default.py)')
  return p


def main(argv=None) -> int:
  args, overrides = common.parse(parser(), argv)
  import jax
  from jax.experimental import multihost_utils

  from nuwave_jax import training
  from nuwave_jax.data import pipeline
  try:
    config = common.load_config(args.config, overrides)
    training.check_workdir(config, args.workdir)
  except (FileNotFoundError, ValueError) as error:
    return common.fail(error)
  if args.coordinator_address or args.multihost:
    # CPU hosts need gloo for cross-process collectives; the option is ignored on GPU and TPU.
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')
    jax.distributed.initialize(args.coordinator_address, args.num_processes, args.process_id,
                               heartbeat_timeout_seconds=config.train.peer_timeout_seconds)
  try:
    # Process 0 prepares the dataset first, so hosts sharing a filesystem never build it twice.
    if jax.process_index() != 0:
      multihost_utils.sync_global_devices('nuwave data prepared')
    builder = pipeline.make_builder(config)
    if jax.process_index() == 0 and jax.process_count() > 1:
      multihost_utils.sync_global_devices('nuwave data prepared')
    train_data = lambda start_step: pipeline.train_dataset(
        config, process_index=jax.process_index(), process_count=jax.process_count(),
        seed=config.train.seed, start_step=start_step, builder=builder).as_numpy_iterator()
    eval_utterances = pipeline.eval_utterances(config, config.train.eval_utterances, builder) \
        if jax.process_index() == 0 and config.train.eval_utterances else []
    training.train_and_evaluate(config, args.workdir, train_data, eval_utterances)
  except (FileNotFoundError, ValueError, FloatingPointError) as error:
    return common.fail(error)
  except jax.errors.JaxRuntimeError as error:
    if jax.process_count() == 1:
      raise
    # A collective failed: another process is gone. (If JAX's heartbeats find that first, JAX stops
    # this process itself with 'the JAX distributed service detected fatal errors'.)
    return common.fail(f'process {jax.process_index()} lost contact with another process of the run '
                       f'({str(error).splitlines()[0][:200]}); start every process again with the same '
                       f'command to resume from the newest checkpoint in {args.workdir}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
