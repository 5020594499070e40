"""Peak memory of sample.py on long files: chunking keeps it bounded, whatever the length.

  python benchmarks/sampling_memory.py [--minutes 0.5 2] [--steps 1]

Writes a 24 kHz file of each length, converts a paper-size (untrained) network into a checkpoint, and
runs sample.py on each file in a fresh process, reporting wall time and peak resident memory (RSS).
Memory does not depend on the number of sampling steps (one lax.scan), so --steps 1 measures the
8-step sampler's footprint in an eighth of the time; the time column is for that schedule.
"""

import argparse
import pathlib
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np
import soundfile

import common
from configs import nuwave_x2
from nuwave_jax import checkpoints
from nuwave_jax import configuration
from nuwave_jax import model as model_lib

REPO = pathlib.Path(__file__).resolve().parents[1]
_MEASURE = ('import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, '
            'stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); '
            'print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)')


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--minutes', type=float, nargs='+', default=[0.5, 2.0])
  parser.add_argument('--steps', type=int, default=1)
  args = parser.parse_args()
  work = pathlib.Path(tempfile.mkdtemp())
  config = nuwave_x2.get_config()
  params = model_lib.init_params(model_lib.build_model(config), jax.random.key(0))
  configuration.save_config(work / 'ckpt', config)
  manager = checkpoints.make_manager(work / 'ckpt')
  checkpoints.save(manager, 0, {'params': params})
  manager.wait_until_finished()
  manager.close()
  betas = ','.join(str(b) for b in config.sample.betas[-args.steps:])
  s = config.sample
  print(f'machine: {common.machine()}')
  print(f'paper network, chunks of {s.chunk_seconds} s with {s.overlap_seconds} s overlap, '
        f'batch {s.batch_size}, {args.steps}-step schedule')
  print('| audio (min) | wall time (s) | peak RSS (GB) |')
  print('|---|---|---|')
  for minutes in args.minutes:
    path = work / f'{minutes:g}min.wav'
    samples = int(minutes * 60 * 24000)
    soundfile.write(path, (0.3 * np.sin(np.arange(samples) / 9)).astype(np.float32), 24000)
    command = [sys.executable, str(REPO / 'sample.py'), str(path), '--checkpoint', str(work / 'ckpt'),
               '--output', str(work / 'out'), '--schedule', betas]
    start = time.perf_counter()
    # A fresh parent per run, so that its children's peak RSS is this run's alone.
    result = subprocess.run([sys.executable, '-c', _MEASURE, *command], check=True, capture_output=True,
                            text=True)
    peak = int(result.stdout.split()[-1]) / 1e6  # KB -> GB
    print(f'| {minutes:g} | {time.perf_counter() - start:.0f} | {peak:.2f} |', flush=True)


if __name__ == '__main__':
  main()
