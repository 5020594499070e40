"""What every command does first: quiet third-party logs, JAX's persistent compilation cache (so that
a second run of the same command does not compile again), and for training on a CPU, freed host
memory kept for reuse (`host_memory`).

Quiet on every CPU: TensorFlow turns its oneDNN custom operations on by itself on AVX-512 CPUs and
then prints notices through absl before any log level applies, ahead of a command's own output (and
its one-line errors). The commands turn them off whatever the environment says (the input pipeline's
FFTs and gathers gain nothing from them); `TF_CPP_MIN_LOG_LEVEL` defaults to 3 (errors only).

The cache lives in a user cache folder: $NUWAVE_JAX_CACHE_DIR if set (empty: no cache), else
$XDG_CACHE_HOME/nuwave-jax/jax, else ~/.cache/nuwave-jax/jax. A compiled program is keyed by its
computation, shapes, devices and JAX version, so a stale entry is never used; the folder can be
deleted at any time. On this project's 2-core CPU the paper network's sampler takes tens of seconds
to compile and well under a second to load (docs/performance.md).
"""

import logging
import os
import pathlib

os.environ['TF_ENABLE_ONEDNN_OPTS'] = '0'  # before TensorFlow is loaded (module docstring)
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

CACHE_ENV = 'NUWAVE_JAX_CACHE_DIR'
# Programs that compile faster than this are not worth a file (JAX's default is 1 s); the environment's
# JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS, if set, wins.
MIN_COMPILE_SECONDS = 0.5


def cache_directory() -> pathlib.Path | None:
  """Where compiled programs are kept (module docstring); None when $NUWAVE_JAX_CACHE_DIR is empty."""
  if CACHE_ENV in os.environ:
    return pathlib.Path(os.environ[CACHE_ENV]).expanduser() if os.environ[CACHE_ENV] else None
  base = os.environ.get('XDG_CACHE_HOME') or pathlib.Path.home() / '.cache'
  return pathlib.Path(base) / 'nuwave-jax' / 'jax'


def prepare(reuse_host_memory: bool = False) -> pathlib.Path | None:
  """Call before the first JAX computation. reuse_host_memory: keep freed host memory for reuse, for
  training, whose every step frees and takes the same scratch block; sampling and scoring call
  programs of other sizes in turn, whose blocks the kept memory would not fit (a 30 s file took
  10-13 GB so, 2-4 GB without: docs/performance.md). Returns the compilation cache folder (or None)."""
  from nuwave_jax import host_memory  # imports jax: after the environment above is set
  if reuse_host_memory:
    host_memory.reuse_freed_host_memory()
  import jax
  quiet_logs()
  directory = cache_directory()
  if directory is not None:
    jax.config.update('jax_compilation_cache_dir', str(directory))
    if 'JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS' not in os.environ:
      jax.config.update('jax_persistent_cache_min_compile_time_secs', MIN_COMPILE_SECONDS)
  return directory


def quiet_logs() -> None:
  """Warnings and errors only from the libraries under us: absl (orbax, TFDS) logs every step of a
  save or a dataset preparation at INFO."""
  try:
    from absl import logging as absl_logging
    absl_logging.set_verbosity(absl_logging.WARNING)
  except ImportError:
    pass
  for name in ('absl', 'jax._src.xla_bridge', 'orbax', 'tensorflow'):
    logging.getLogger(name).setLevel(logging.WARNING)
