"""How long a user waits: the whole `nuwave-jax upsample` process on 20 s of real speech, per model.

  python benchmarks/upsample_speed.py [--models nuwave2-small nuwave2-small-2step paper:8 paper:2]
      [--seconds 20] [--rate 16000]

The first eval clips of data/speech/eval joined into one file of --seconds at --rate (mono), upsampled
by each model in a fresh process twice: the first run with an empty compilation cache, the second
with the cache the first filled (what every later run of the same model and lengths costs). A model
is a bundled name, a checkpoint directory, or paper:N, the paper-size NU-Wave 2 (random weights: speed
does not depend on them) sampled on N steps (--steps N). Printed per model: both times and the
second's real-time factor (seconds of compute per second of audio).
"""

import argparse
import pathlib
import tempfile

import numpy as np
from upsample_process import run_upsample

import common  # puts the repository's root on the path, for the imports below
from nuwave_jax.data import audio as audio_io


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--models', nargs='+', default=['nuwave2-small', 'nuwave2-small-2step', 'paper:8', 'paper:2'])
  parser.add_argument('--seconds', type=float, default=20.0)
  parser.add_argument('--rate', type=int, default=16000)
  parser.add_argument('--folder', default=common.EVAL_DATA)
  args = parser.parse_args()
  work = pathlib.Path(tempfile.mkdtemp())
  clips = [audio_io.read_audio(path, args.rate) for path in audio_io.find_audio_files(args.folder)]
  speech = np.concatenate(clips)[:int(args.seconds * args.rate)]
  if len(speech) < int(args.seconds * args.rate):
    raise SystemExit(f'{args.folder} holds less than {args.seconds} s of audio')
  audio_io.write_wav(work / 'speech.wav', speech, args.rate)
  print(f'machine: {common.machine()}')
  print(f'{args.seconds:g} s of real speech at {args.rate} Hz, one file')
  print('| model | steps | first run (s) | second run (s) | real-time factor (second run) |')
  print('|---|---|---|---|---|')
  for index, model in enumerate(args.models):
    flags = []
    if model.startswith('paper:'):
      steps = int(model.split(':')[1])
      checkpoint = work / 'paper'
      if not checkpoint.exists():
        common.paper_checkpoint('nuwave2', checkpoint)
      flags = ['--steps', str(steps)]
    else:
      checkpoint, steps = model, None
    cache = work / f'cache{index}'
    first = run_upsample(checkpoint, [work / 'speech.wav'], work / 'out', cache, *flags)
    second = run_upsample(checkpoint, [work / 'speech.wav'], work / 'out', cache, *flags)
    if steps is None:
      from nuwave_jax import inference
      steps = inference.load(checkpoint).sampler.steps
    print(f'| {model} | {steps} | {first:.1f} | {second:.1f} | {second / args.seconds:.2f} |', flush=True)


if __name__ == '__main__':
  main()
