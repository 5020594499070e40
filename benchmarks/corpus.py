"""The whole `nuwave-jax upsample` over a folder, on 1 and on 8 forced CPU devices: files and
audio-seconds per second, and which of decoding, sampling and writing bounds the run.

  python benchmarks/corpus.py [--checkpoint nuwave2-small-2step] [--folder data/speech/eval] [--files 30]
      [--devices 1 8]

Each device count is a fresh `nuwave-jax upsample` process (XLA_FLAGS=--xla_force_host_platform_device_count=N,
the compilation cache off so every run compiles alike) over the same files into a fresh folder. On a
CPU, 8 forced devices share the same cores: what the second row shows is the overhead of sharding
(padding, 8 programs, their synchronisation), not a speed-up; on 8 accelerators the rows would split
the work. Printed per device count: the process's wall time (start-up and compiles included), the
summary's own throughput (the upsampling loop alone), and its time in decoding, sampling and writing.
"""

import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

import common  # puts the repository's root on the path, for the imports below
from nuwave_jax.data import audio as audio_io

SUMMARY = re.compile(r'(\d+) file\(s\) upsampled \(([\d.]+) h of audio\) in ([\d.]+) s: ([\d.]+) s of audio per s')
TIMES = re.compile(r'time in decoding ([\d.]+) s, sampling ([\d.]+) s, writing ([\d.]+) s .*: (\w+) bounds this run')


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--checkpoint', default='nuwave2-small-2step', help='a checkpoint directory or bundled model')
  parser.add_argument('--folder', default=common.EVAL_DATA)
  parser.add_argument('--files', type=int, default=30)
  parser.add_argument('--devices', type=int, nargs='+', default=[1, 8])
  parser.add_argument('--batch-size', type=int, default=1, help='chunks per device per call')
  args = parser.parse_args()
  work = pathlib.Path(tempfile.mkdtemp())
  inputs = work / 'inputs'
  inputs.mkdir()
  for path in audio_io.find_audio_files(args.folder)[:args.files]:
    shutil.copy(path, inputs / path.name)
  print(f'machine: {common.machine()}')
  print(f'{args.checkpoint}: {len(list(inputs.iterdir()))} files of {args.folder}, {args.batch_size} chunk(s) per '
        'device per call')
  print('| devices | process wall (s) | files | audio (s) | loop (s) | audio s per s | files per s | decoding (s) '
        '| sampling (s) | writing (s) | bound by |')
  print('|---|---|---|---|---|---|---|---|---|---|---|')
  for devices in args.devices:
    env = dict(os.environ, XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}', NUWAVE_JAX_CACHE_DIR='')
    start = time.perf_counter()
    run = subprocess.run([sys.executable, '-m', 'nuwave_jax', 'upsample', str(inputs), '--output',
                          str(work / f'out{devices}'), '--checkpoint', args.checkpoint, '--batch-size',
                          str(args.batch_size)], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if run.returncode:
      sys.exit(f'error: upsample on {devices} devices failed:\n{run.stderr[-2000:]}')
    files, hours, loop, speed = SUMMARY.search(run.stdout).groups()
    decode, sample, write, bound = TIMES.search(run.stdout).groups()
    print(f'| {devices} | {wall:.1f} | {files} | {float(hours) * 3600:.1f} | {loop} | {speed} | '
          f'{int(files) / float(loop):.2f} | {decode} | {sample} | {write} | {bound} |', flush=True)
  shutil.rmtree(work)


if __name__ == '__main__':
  main()
