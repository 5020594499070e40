"""Whole-process `nuwave-jax upsample` against the bare jitted sampler, first run and second run.

  python benchmarks/upsample_process.py [--family nuwave|nuwave2] [--seconds 1 4] [--folder data/speech/eval
      --clips 20]

Saves a paper-size network (random weights: speed does not depend on them) as a checkpoint, writes
one file per --seconds at its input rate (NU-Wave x2: 24 kHz; NU-Wave 2: 16 kHz) and resamples the
first --clips files of --folder to that rate, mono (their channels mixed: these clips are stereo), and
times `python -m nuwave_jax upsample` on each input twice, in fresh processes: the first run with an
empty compilation cache, the second with the cache the first one filled. Beside it, the bare sampler
(one jitted call on exactly the file's samples, compiled beforehand) for the files; for the folder, the
bare sampler's time per sample on the longest --seconds file times the folder's samples.
"""

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile
import soxr

import common  # puts the repository's root on the path, for the imports below
from nuwave_jax.data import audio as audio_io

REPO = pathlib.Path(__file__).resolve().parents[1]


def run_upsample(checkpoint, inputs, output, cache, *flags) -> float:
  """Seconds of one `nuwave-jax upsample` process (outputs redone: --overwrite)."""
  env = dict(os.environ, NUWAVE_JAX_CACHE_DIR=str(cache), TF_CPP_MIN_LOG_LEVEL='3')
  start = time.perf_counter()
  subprocess.run([sys.executable, '-m', 'nuwave_jax', 'upsample', '--checkpoint', str(checkpoint), *map(str, inputs),
                  '--output', str(output), '--overwrite', *flags], cwd=REPO, env=env, check=True, capture_output=True)
  return time.perf_counter() - start


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--family', choices=('nuwave', 'nuwave2'), default='nuwave')
  parser.add_argument('--seconds', type=float, nargs='+', default=[1.0, 4.0])
  parser.add_argument('--folder', default=common.EVAL_DATA, help='real speech ("" to skip)')
  parser.add_argument('--clips', type=int, default=20)
  args = parser.parse_args()
  work = pathlib.Path(tempfile.mkdtemp())
  config = common.paper_checkpoint(args.family, work / 'ckpt')
  rate = common.input_rate_hz(config)
  s = config.sample
  steps = len(s.log_snrs if args.family == 'nuwave2' else s.betas)
  print(f'machine: {common.machine()}')
  print(f'{args.family} paper network, {rate} Hz input, {steps} steps, chunks of {s.chunk_seconds:g} s with '
        f'{s.overlap_seconds:g} s overlap, batch {s.batch_size}')
  print('| input | audio (s) | bare sampler (s) | first run (s) | second run (s) | second / bare |')
  print('|---|---|---|---|---|---|')
  rate_per_sample = None
  for seconds in sorted(args.seconds):
    path = work / f'{seconds:g}s.wav'
    samples = int(seconds * rate)
    soundfile.write(path, (0.3 * np.sin(np.arange(samples) / 9)).astype(np.float32), rate)
    samples_48k = samples * 48000 // rate // 256 * 256
    bare = common.timed(common.sampler_runner(config, samples_48k, rate), repeats=2)
    rate_per_sample = bare / samples_48k
    first = run_upsample(work / 'ckpt', [path], work / 'out', work / f'cache-{seconds:g}')
    second = run_upsample(work / 'ckpt', [path], work / 'out', work / f'cache-{seconds:g}')
    print(f'| one {seconds:g} s file | {seconds:g} | {bare:.1f} | {first:.1f} | {second:.1f} | {second / bare:.2f} |',
          flush=True)
  if args.folder:
    folder = work / 'folder'
    total = 0
    for path in audio_io.find_audio_files(args.folder)[:args.clips]:
      audio, native_rate = audio_io.read_audio_native(path)
      low = soxr.resample(audio, native_rate, rate, quality='VHQ')
      audio_io.write_wav(folder / (path.stem + '.wav'), low, rate)
      total += len(low)
    bare = rate_per_sample * total * 48000 / rate
    first = run_upsample(work / 'ckpt', [folder], work / 'out', work / 'cache-folder')
    second = run_upsample(work / 'ckpt', [folder], work / 'out', work / 'cache-folder')
    print(f'| a folder of {args.clips} real clips | {total / rate:.1f} | {bare:.1f} (estimated) | '
          f'{first:.1f} | {second:.1f} | {second / bare:.2f} |', flush=True)


if __name__ == '__main__':
  main()
