#!/usr/bin/env bash
# A Python environment that compiles for TPU chips on a machine without one, for
# benchmarks/tpu_fit.py and tests/test_tpu_fit.py: jax[tpu] of requirements.txt's jax version (libtpu,
# about 700 MB) and what the train step and the sampler import (no TensorFlow).
#   scripts/make_tpu_venv.sh [DIR]        (default: .venv-tpu at the repository's root)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-.venv-tpu}"
python3 -m venv "$dir"
# shellcheck disable=SC2046  # one package per word
"$dir/bin/pip" install -q $(grep -E '^(jax\[cpu\]|flax|optax|orbax-checkpoint|ml-collections|numpy|scipy|soundfile|soxr|tqdm|absl-py)==' \
  requirements.txt | sed 's/^jax\[cpu\]/jax[tpu]/')
"$dir/bin/pip" install -q --no-deps -e .
echo "$dir: $("$dir/bin/python" -c 'import jax, libtpu; print("jax", jax.__version__, "with libtpu")')"
