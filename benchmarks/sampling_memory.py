"""Peak memory of sample.py on long files: chunking keeps it bounded, whatever the length.

  python benchmarks/sampling_memory.py [--family nuwave|nuwave2] [--minutes 0.5 2] [--steps 1]

Writes a file of each length at the family's input rate (NU-Wave x2: 24 kHz; NU-Wave 2: 16 kHz),
saves a paper-size (untrained) network as a checkpoint, and runs sample.py on each file in a fresh
process, reporting wall time and peak resident memory (RSS). Memory does not depend on the number of
sampling steps (one lax.scan), so --steps 1 measures the 8-step sampler's footprint in an eighth of
the time; the time column is for that schedule.
"""

import argparse
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile

import common

REPO = pathlib.Path(__file__).resolve().parents[1]
_MEASURE = ('import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, '
            'stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); '
            'print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)')


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--family', choices=('nuwave', 'nuwave2'), default='nuwave')
  parser.add_argument('--minutes', type=float, nargs='+', default=[0.5, 2.0])
  parser.add_argument('--steps', type=int, default=1)
  args = parser.parse_args()
  work = pathlib.Path(tempfile.mkdtemp())
  config = common.paper_checkpoint(args.family, work / 'ckpt')
  rate = common.input_rate_hz(config)
  if args.family == 'nuwave2':
    steps = ['--steps', str(args.steps)]
  else:
    steps = ['--schedule', ','.join(str(b) for b in config.sample.betas[-args.steps:])]
  s = config.sample
  print(f'machine: {common.machine()}')
  print(f'{args.family} paper network, {rate} Hz input, chunks of {s.chunk_seconds} s with {s.overlap_seconds} s '
        f'overlap, batch {s.batch_size}, {args.steps}-step schedule')
  print('| audio (min) | wall time (s) | peak RSS (GB) |')
  print('|---|---|---|')
  for minutes in args.minutes:
    path = work / f'{minutes:g}min.wav'
    samples = int(minutes * 60 * rate)
    soundfile.write(path, (0.3 * np.sin(np.arange(samples) / 9)).astype(np.float32), rate)
    command = [sys.executable, str(REPO / 'sample.py'), str(path), '--checkpoint', str(work / 'ckpt'),
               '--output', str(work / 'out'), *steps]
    start = time.perf_counter()
    # A fresh parent per run, so that its children's peak RSS is this run's alone.
    result = subprocess.run([sys.executable, '-c', _MEASURE, *command], check=True, capture_output=True,
                            text=True)
    peak = int(result.stdout.split()[-1]) / 1e6  # KB -> GB
    print(f'| {minutes:g} | {time.perf_counter() - start:.0f} | {peak:.2f} |', flush=True)


if __name__ == '__main__':
  main()
