"""Host memory kept for reuse when JAX computes on the CPU.

XLA's CPU client allocates each call's scratch space as one malloc block (1.35 GB for a paper-size
train step at batch 1) and frees it when the call returns. glibc serves a block that large with a fresh
mmap and unmaps it on free, so every call faults its scratch space in again, page by page: 330 k page
faults and about 1 s of kernel time per train step on a 2-core machine, and a step 12-18 % slower
when another process has just used the memory (docs/performance.md, 2026-11-27). GPU and TPU clients
keep device memory in a pool; `reuse_freed_host_memory` gives the CPU device's memory the same reuse.
"""

import ctypes
import importlib.metadata
import importlib.util
import pkgutil
import sys

import jax

# mallopt(3) parameters, from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8


def computes_on_cpu() -> bool:
  """Whether JAX will compute on the CPU, decided without starting a backend: `jax_platforms`
  (JAX_PLATFORMS) names cpu first, or it is unset and no TPU or GPU plugin is installed. Plugins are
  looked up where JAX finds them: modules in the `jax_plugins` namespace package and `jax_plugins`
  entry points (GPU plugins), and libtpu."""
  platforms = jax.config.jax_platforms
  if platforms:
    return platforms.split(',')[0].strip() == 'cpu'
  namespace = importlib.util.find_spec('jax_plugins')
  if namespace is not None and any(pkgutil.iter_modules(namespace.submodule_search_locations)):
    return False
  entry_points = importlib.metadata.entry_points(group='jax_plugins')
  return not entry_points and importlib.util.find_spec('libtpu') is None


def reuse_freed_host_memory() -> bool:
  """On Linux with glibc, when JAX computes on the CPU: memory the process frees stays in it for reuse
  (one malloc arena for all threads, no mmap for large blocks, no trimming), so the process keeps its
  peak memory. Call it before the first JAX computation: threads that have already allocated keep
  their own arenas. Returns whether it applied (False elsewhere: other C libraries, accelerators).
  """
  if not sys.platform.startswith('linux') or not computes_on_cpu():
    return False
  try:
    mallopt = ctypes.CDLL('libc.so.6').mallopt
  except (OSError, AttributeError):  # no glibc (musl, for one)
    return False
  mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
  # mallopt returns 1 on success; a trim threshold of -1 disables trimming.
  return all(mallopt(parameter, value) == 1
             for parameter, value in ((_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, -1)))
