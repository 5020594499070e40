"""The `nuwave-jax` command (also `python -m nuwave_jax`): one subcommand per task.

  nuwave-jax upsample --checkpoint CKPT INPUT... --output DIR    audio files or folders to 48 kHz
  nuwave-jax train --config FILE --workdir DIR [--config.x.y=V]  train (and resume) from a config
  nuwave-jax prepare --config FILE [--config.x.y=V]              its dataset only, once
  nuwave-jax evaluate --checkpoint CKPT --data DIR --output DIR  SNR / LSD against ground truth
  nuwave-jax distill --teacher CKPT --config FILE --workdir DIR  a few-step student (NU-Wave 2)
  nuwave-jax convert CKPT --config FILE --out DIR                an original PyTorch checkpoint
  nuwave-jax models                                              the models that ship with the package

`nuwave-jax COMMAND --help` describes each. train.py, sample.py and evaluate.py at the repository's
root run the same code.
"""

import importlib
import sys

COMMANDS = {'upsample': 'nuwave_jax.cli.upsample', 'train': 'nuwave_jax.cli.train',
            'prepare': 'nuwave_jax.cli.prepare', 'evaluate': 'nuwave_jax.cli.evaluate',
            'distill': 'nuwave_jax.cli.distill', 'convert': 'nuwave_jax.convert', 'models': 'nuwave_jax.cli.models'}


def run(command: str, argv=None) -> int:
  """Runs a subcommand as a fresh process would: quiet logs, compilation cache (and for training,
  host memory kept for reuse) first."""
  from nuwave_jax import startup
  startup.prepare(reuse_host_memory=command in ('train', 'distill'))
  return importlib.import_module(COMMANDS[command]).main(argv)


def main(argv=None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  if not argv or argv[0] in ('-h', '--help'):
    print(__doc__.strip().split('\n\n', 1)[0].replace('`nuwave-jax` command (also `python -m nuwave_jax`)',
                                                        'nuwave-jax command'))
    print('\n' + __doc__.strip().split('\n\n')[1])
    return 0 if argv else 2
  if argv[0] not in COMMANDS:
    print(f'error: unknown command {argv[0]!r}: use one of {", ".join(COMMANDS)}', file=sys.stderr)
    return 2
  return run(argv[0], argv[1:])
