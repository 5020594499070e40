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
  common.add_multihost_flags(p)
  common.add_overrides_help(p, 'train.batch_size=8 (every field: configs/default.py)')
  return p


def main(argv=None) -> int:
  args, overrides = common.parse(parser(), argv)
  import jax

  from nuwave_jax import training
  from nuwave_jax.data import pipeline
  try:
    config = common.load_config(args.config, overrides)
    training.check_workdir(config, args.workdir)
  except (FileNotFoundError, ValueError) as error:
    return common.fail(error)
  common.initialize_multihost(args, config.train.peer_timeout_seconds)
  try:
    builder = common.prepare_data_once(config)
    train_data = lambda start_step: pipeline.train_dataset(
        config, process_index=jax.process_index(), process_count=jax.process_count(),
        seed=config.train.seed, start_step=start_step, builder=builder).as_numpy_iterator()
    eval_utterances = pipeline.eval_utterances(config, config.train.eval_utterances, builder) \
        if jax.process_index() == 0 and config.train.eval_utterances else []
    training.train_and_evaluate(config, args.workdir, train_data, eval_utterances)
  except (FileNotFoundError, ValueError, FloatingPointError) as error:
    return common.fail(error)
  except jax.errors.JaxRuntimeError as error:
    return common.lost_host(error, args.workdir)
  return 0


if __name__ == '__main__':
  sys.exit(main())
