"""Train NU-Wave from a config file (nuwave-jax train).

  python train.py --help
"""

import sys

from nuwave_jax import cli
from nuwave_jax.cli.train import main  # noqa: F401  (tests and scripts call train.main)

if __name__ == '__main__':
  sys.exit(cli.run('train'))
