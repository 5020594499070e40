r"""nuwave-jax prepare: prepare a config's dataset once, without training.

  nuwave-jax prepare --config configs/nuwave_x3.py --config.data.source=vctk \
      --config.data.dir=/data/VCTK-Corpus-0.92 --config.data.tfds_data_dir=/data/tensorflow_datasets

The step `nuwave-jax train` starts with (a thread per core decodes the files), on its own: the
prepared set can then be copied elsewhere and verified (`python -m nuwave_jax.data.prepared copy`)
before a run reads it. A dataset already prepared there is only checked.
"""

import sys

from nuwave_jax.cli import common


def parser():
  p = common.parser('prepare', __doc__, "Prepare a config's dataset (its data.* fields) once, without training.")
  p.add_argument('--config', required=True, metavar='FILE', help='a config file, e.g. configs/nuwave_x3.py')
  common.add_overrides_help(p, 'data.tfds_data_dir=/data/tensorflow_datasets')
  return p


def main(argv=None) -> int:
  args, overrides = common.parse(parser(), argv)
  from nuwave_jax.data import pipeline
  try:
    config = common.load_config(args.config, overrides)
    builder = pipeline.make_builder(config)
  except (FileNotFoundError, ValueError) as error:
    return common.fail(error)
  counts = ', '.join(f'{split} {info.num_examples}' for split, info in sorted(builder.info.splits.items()))
  print(f'{builder.data_dir}: {counts} utterances')
  return 0


if __name__ == '__main__':
  sys.exit(main())
