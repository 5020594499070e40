"""python -m nuwave_jax: the nuwave-jax command."""

import sys

from nuwave_jax import cli

sys.exit(cli.main())
