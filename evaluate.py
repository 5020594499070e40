"""Score a checkpoint against ground truth (nuwave-jax evaluate).

  python evaluate.py --help
"""

import sys

from nuwave_jax import cli
from nuwave_jax.cli.evaluate import main  # noqa: F401  (tests and scripts call evaluate.main)

if __name__ == '__main__':
  sys.exit(cli.run('evaluate'))
