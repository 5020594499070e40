r"""How much overlap chunked sampling needs: chunked against unchunked output, per overlap.

  python benchmarks/chunk_overlap.py [--checkpoint DIR | --family nuwave2] [--seconds 6] \
      [--chunk-seconds 2] [--overlaps 0.05 0.1 0.25 0.5] [--input-rate 16000]

Samples one signal whole and in chunks of --chunk-seconds with each overlap (the same positional
noise, `sampling.upsample_chunked`), and prints the largest and the rms difference relative to the
whole output's rms, and the extra samples computed. Without --checkpoint: the paper network of --family
with random weights (its receptive field is the paper's: NU-Wave's 6139 samples per step; NU-Wave 2's
grows by a 1024-sample STFT frame per block); the condition is speech from --data when given, else a
sum of tones, simulated at NU-Wave's input rate or NU-Wave 2's --input-rate.
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np

import common  # puts the repository's root on the path, for the imports below
from configs import nuwave2
from configs import nuwave_x2
from nuwave_jax import inference
from nuwave_jax import sampling
from nuwave_jax.data import audio as audio_io


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--checkpoint', help='default: the paper network with random weights')
  parser.add_argument('--family', choices=('nuwave', 'nuwave2'), default='nuwave')
  parser.add_argument('--input-rate', type=int, default=16000, help='NU-Wave 2: the simulated input rate (Hz)')
  parser.add_argument('--data', help='a folder of speech; its files are joined into one signal')
  parser.add_argument('--seconds', type=float, default=6.0)
  parser.add_argument('--chunk-seconds', type=float, default=2.0)
  parser.add_argument('--overlaps', type=float, nargs='+', default=[0.05, 0.1, 0.25, 0.5])
  args = parser.parse_args()
  if args.checkpoint:
    upsampler = inference.Upsampler.from_checkpoint(args.checkpoint)
  else:
    config = (nuwave2 if args.family == 'nuwave2' else nuwave_x2).get_config()
    upsampler = inference.Upsampler(config, common.random_params(config))
  rate = upsampler.config.data.sample_rate_hz
  block = sampling.NOISE_BLOCK_SAMPLES
  # Whole noise blocks (and so a multiple of the ratio): no chunk reaches beyond the signal, whose
  # noise there would reach back into it over the 8 steps.
  samples = int(args.seconds * rate) // block * block
  if args.data:
    audio = np.concatenate([a for _, a in audio_io.read_utterances(args.data, 15.0)])[:samples]
  else:
    t = np.arange(samples) / rate
    audio = sum(np.sin(2 * np.pi * f * t) / (i + 1) for i, f in enumerate((220, 1100, 3300, 7000)))
  audio = (audio / np.abs(audio).max()).astype(np.float32)
  condition = upsampler.simulate(audio[None], upsampler.input_rate_hz or args.input_rate)
  cond, sampler = condition.signal[0], upsampler.sampler
  key = jax.random.key(0)
  whole = np.asarray(sampler.sample(upsampler.params, cond[None], sampler.schedule, key[None],
                                    jnp.zeros(1, jnp.int32), **condition.extras))[0]
  rms = float(np.sqrt(np.mean(whole**2)))
  chunk = round(args.chunk_seconds * rate / block) * block
  print(f'machine: {common.machine()}')
  source = args.checkpoint or f'{args.family} paper network, random weights'
  print(f'{source}: {args.seconds:g} s, chunks of {chunk} samples; whole output rms {rms:.3g}')
  print('| overlap (s) | overlap (samples) | max difference / rms | rms difference / rms | samples computed / signal |')
  print('|---|---|---|---|---|')
  for seconds in args.overlaps:
    overlap = round(seconds * rate / block) * block
    chunked = sampling.sample_chunked(sampler.sample, upsampler.params, [cond], [key], sampler.schedule, chunk,
                                      overlap, batch_size=1, extras={k: [v[0]] for k, v in condition.extras.items()})[0]
    diff = chunked - whole
    computed = sum(width for _, width in sampling.plan_chunks(samples, chunk, overlap))
    print(f'| {seconds:g} | {overlap} | {np.abs(diff).max() / rms:.1e} | {np.sqrt(np.mean(diff**2)) / rms:.1e} | '
          f'{computed / samples:.2f} |', flush=True)


if __name__ == '__main__':
  main()
