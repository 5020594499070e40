"""host_memory: freed scratch memory is reused, not faulted in again on every call (Linux, glibc)."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]

# A jitted call with a 64 MB scratch buffer (the cumsum's), called 12 times; prints the page faults
# of each call. The pause lets the previous call's scratch be freed (on an XLA thread) first.
CALLS = """
import json, resource, sys, time
from nuwave_jax import host_memory
applied = host_memory.reuse_freed_host_memory() if sys.argv[1] == 'reuse' else False
import jax, jax.numpy as jnp
x = jax.random.normal(jax.random.key(0), (4096, 4096))
f = jax.jit(lambda x: jnp.cumsum(x, axis=0)[-1])
jax.block_until_ready(f(x))
faults = []
for _ in range(12):
  time.sleep(0.05)
  before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  jax.block_until_ready(f(x))
  faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({'applied': applied, 'faults': faults}))
"""

PAGES_64MB = 64 * 2**20 // os.sysconf('SC_PAGE_SIZE')


def run_calls(mode: str, **env) -> dict:
  result = subprocess.run([sys.executable, '-c', CALLS, mode], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, 'PYTHONPATH': str(REPO), **env}, timeout=300)
  assert result.returncode == 0, result.stderr
  return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith('linux') or os.confstr('CS_GNU_LIBC_VERSION') is None,
                    reason='mallopt is glibc-only')
def test_freed_scratch_memory_is_reused_instead_of_faulted_in_again():
  plain = run_calls('plain', JAX_PLATFORMS='cpu')
  reused = run_calls('reuse', JAX_PLATFORMS='cpu')
  assert not plain['applied'] and reused['applied']
  # glibc maps a block this large afresh for each call: every page faults again.
  assert all(f >= 0.9 * PAGES_64MB for f in plain['faults']), plain
  # Reused: after a few calls the heap holds enough freed blocks, and later calls fault nothing.
  assert sum(reused['faults'][-4:]) < 0.05 * PAGES_64MB, reused


def test_it_leaves_an_accelerator_run_alone():
  check = subprocess.run(
      [sys.executable, '-c', 'import jax; from nuwave_jax import host_memory; '
       "jax.config.update('jax_platforms', 'cuda,cpu'); print(host_memory.computes_on_cpu(), "
       'host_memory.reuse_freed_host_memory())'],
      cwd=REPO, capture_output=True, text=True, env={**os.environ, 'PYTHONPATH': str(REPO)}, timeout=300)
  assert check.stdout.split() == ['False', 'False'], check.stderr


def test_a_gpu_plugin_in_the_jax_plugins_namespace_counts_as_an_accelerator(tmp_path):
  # jax-cuda plugins install a module under the jax_plugins namespace package, which JAX imports.
  (tmp_path / 'jax_plugins' / 'xla_fake_gpu').mkdir(parents=True)
  (tmp_path / 'jax_plugins' / 'xla_fake_gpu' / '__init__.py').write_text('')
  check = subprocess.run(
      [sys.executable, '-c', 'from nuwave_jax import host_memory; print(host_memory.computes_on_cpu())'],
      cwd=REPO, capture_output=True, text=True, timeout=300,
      env={**{k: v for k, v in os.environ.items() if k != 'JAX_PLATFORMS'},
           'PYTHONPATH': os.pathsep.join([str(REPO), str(tmp_path)])})
  assert check.stdout.split() == ['False'], check.stderr
