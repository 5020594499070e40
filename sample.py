"""Upsample audio files and folders to 48 kHz with a checkpoint (nuwave-jax upsample).

  python sample.py --help
"""

import sys

from nuwave_jax import cli
from nuwave_jax.cli.upsample import main  # noqa: F401  (tests and scripts call sample.main)

if __name__ == '__main__':
  sys.exit(cli.run('upsample'))
