"""Whole-process `nuwave-jax upsample` against the bare jitted sampler, first run and second run.

  python benchmarks/upsample_process.py [--seconds 1 4] [--folder data/speech/eval --clips 20]

Converts a paper-size network (random weights: speed does not depend on them) into a checkpoint,
writes one 24 kHz file per --seconds and resamples the first --clips files of --folder to 24 kHz mono
(their channels mixed: these clips are stereo), and
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

import jax
import numpy as np
import soundfile
import soxr

import common  # puts the repository's root on the path, for the imports below
from configs import nuwave_x2
from nuwave_jax import checkpoints
from nuwave_jax import configuration
from nuwave_jax import model as model_lib
from nuwave_jax.data import audio as audio_io

REPO = pathlib.Path(__file__).resolve().parents[1]


def run_upsample(checkpoint, inputs, output, cache) -> float:
  env = dict(os.environ, NUWAVE_JAX_CACHE_DIR=str(cache), TF_CPP_MIN_LOG_LEVEL='3')
  start = time.perf_counter()
  subprocess.run([sys.executable, '-m', 'nuwave_jax', 'upsample', '--checkpoint', str(checkpoint), *map(str, inputs),
                  '--output', str(output)], cwd=REPO, env=env, check=True, capture_output=True)
  return time.perf_counter() - start


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--seconds', type=float, nargs='+', default=[1.0, 4.0])
  parser.add_argument('--folder', default=common.EVAL_DATA, help='real speech ("" to skip)')
  parser.add_argument('--clips', type=int, default=20)
  args = parser.parse_args()
  work = pathlib.Path(tempfile.mkdtemp())
  config = nuwave_x2.get_config()
  params = model_lib.init_params(model_lib.build_model(config), jax.random.key(0))
  configuration.save_config(work / 'ckpt', config)
  manager = checkpoints.make_manager(work / 'ckpt')
  checkpoints.save(manager, 0, {'params': params})
  manager.wait_until_finished()
  manager.close()
  s = config.sample
  print(f'machine: {common.machine()}')
  print(f'paper network, {len(s.betas)} steps, chunks of {s.chunk_seconds:g} s with {s.overlap_seconds:g} s '
        f'overlap, batch {s.batch_size}')
  print('| input | audio (s) | bare sampler (s) | first run (s) | second run (s) | second / bare |')
  print('|---|---|---|---|---|---|')
  rate_per_sample = None
  for seconds in sorted(args.seconds):
    path = work / f'{seconds:g}s.wav'
    samples = int(seconds * 24000)
    soundfile.write(path, (0.3 * np.sin(np.arange(samples) / 9)).astype(np.float32), 24000)
    bare = common.timed(common.sampler_runner(config, 2 * samples), repeats=2)
    rate_per_sample = bare / (2 * samples)
    first = run_upsample(work / 'ckpt', [path], work / 'out', work / f'cache-{seconds:g}')
    second = run_upsample(work / 'ckpt', [path], work / 'out', work / f'cache-{seconds:g}')
    print(f'| one {seconds:g} s file | {seconds:g} | {bare:.1f} | {first:.1f} | {second:.1f} | {second / bare:.2f} |',
          flush=True)
  if args.folder:
    folder = work / 'folder'
    total = 0
    for path in audio_io.find_audio_files(args.folder)[:args.clips]:
      audio, rate = audio_io.read_audio_native(path)
      low = soxr.resample(audio, rate, 24000, quality='VHQ')
      audio_io.write_wav(folder / (path.stem + '.wav'), low, 24000)
      total += len(low)
    bare = rate_per_sample * 2 * total  # at 48 kHz
    first = run_upsample(work / 'ckpt', [folder], work / 'out', work / 'cache-folder')
    second = run_upsample(work / 'ckpt', [folder], work / 'out', work / 'cache-folder')
    print(f'| a folder of {args.clips} real clips | {total / 24000:.1f} | {bare:.1f} (estimated) | '
          f'{first:.1f} | {second:.1f} | {second / bare:.2f} |', flush=True)


if __name__ == '__main__':
  main()
