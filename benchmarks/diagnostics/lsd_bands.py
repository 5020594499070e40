"""Where a checkpoint's LSD comes from, band by band, for several sampler noise scales.

  python benchmarks/diagnostics/lsd_bands.py --checkpoint runs/small --data data/speech/train --limit 8 \
      --noise-scales 1,0.5,0.25,0

Whole files are scored as evaluate.py scores them (read as a dataset prepares them, the condition
simulated from each). For each
noise scale (sample.noise_scale: each ancestral step's added noise times this) it prints LSD of the
model and of linear interpolation, then per frequency band the mean log10 power (the LSD's L) of the
truth, the model and linear interpolation, and the mean squared L error of each: the LSD is the mean
over frames of the square root of that error averaged over bins. Choosing the noise scale on files
the model trained on keeps the eval split out of the choice.
"""

import argparse
import dataclasses
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import numpy as np  # noqa: E402

from benchmarks import common  # noqa: E402
from nuwave_jax import evaluation  # noqa: E402
from nuwave_jax import inference  # noqa: E402
from nuwave_jax import metrics  # noqa: E402
from nuwave_jax.data import audio as audio_io  # noqa: E402
from nuwave_jax.nuwave import conditioning  # noqa: E402
from nuwave_jax.nuwave import diffusion  # noqa: E402

BAND_EDGES_HZ = (0, 8000, 12000, 16000, 19000, 21000, 24000)


def log_power(x: np.ndarray) -> np.ndarray:
  """[time] -> [frames, 1025] log10 power, as metrics.lsd computes it."""
  return metrics.log_power_spectrogram(x[None])[0]


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--checkpoint', required=True)
  parser.add_argument('--data', required=True, help='a folder of audio files')
  parser.add_argument('--limit', type=int, default=8, help='the first N files')
  parser.add_argument('--noise-scales', default='1,0.5,0.25,0')
  parser.add_argument('--seed', type=int, default=0)
  args = parser.parse_args()

  upsampler = inference.Upsampler.from_checkpoint(args.checkpoint)
  common.require_family(upsampler, 'nuwave', args.checkpoint, 'benchmarks/diagnostics/nuwave2_denoiser_levels.py')
  config, ratio = upsampler.config, upsampler.config.data.ratio
  rate = config.data.sample_rate_hz
  utterances = audio_io.read_utterances(args.data, config.data.trim_top_db, args.limit)
  if not utterances:
    raise SystemExit(f'no audio files in {args.data}')
  refs = [evaluation.prepare_reference(a, ratio) for _, a in utterances]
  conds = [conditioning.make_condition(r[None], ratio, config.data.lowpass_n_fft,
                                       config.data.lowpass_hop)[0] for r in refs]
  truth = [log_power(r) for r in refs]
  linear = [log_power(c) for c in conds]
  num_bins = truth[0].shape[-1]
  bins = [round(hz / (rate / 2) * (num_bins - 1)) for hz in BAND_EDGES_HZ]
  bins[-1] = num_bins
  lsd = lambda estimates: np.mean([np.mean(np.sqrt(np.mean((e - t)**2, -1)))
                                   for e, t in zip(estimates, truth)])
  print(f'{args.checkpoint} on {len(utterances)} files of {args.data}, x{ratio}; {common.machine()}')
  s = config.sample
  for scale in (float(x) for x in args.noise_scales.split(',')):
    upsampler.sampler = dataclasses.replace(upsampler.sampler, schedule=diffusion.make_schedule(s.betas, scale))
    outputs = upsampler.upsample_signals(conds, [args.seed] * len(conds))
    model = [log_power(o) for o in outputs]
    print(f'\nnoise scale {scale:g}: LSD model {lsd(model):.3f}, linear {lsd(linear):.3f}\n')
    print('| band (kHz) | truth L | model L | linear L | model squared L error | linear squared L error |')
    print('|---|---|---|---|---|---|')
    stack = lambda logs, a, b: np.concatenate([x[:, a:b] for x in logs])
    for lo, hi, a, b in zip(BAND_EDGES_HZ, BAND_EDGES_HZ[1:], bins, bins[1:]):
      t, m, li = stack(truth, a, b), stack(model, a, b), stack(linear, a, b)
      print(f'| {lo / 1000:g}-{hi / 1000:g} | {t.mean():.2f} | {m.mean():.2f} | {li.mean():.2f} | '
            f'{np.mean((m - t)**2):.2f} | {np.mean((li - t)**2):.2f} |')


if __name__ == '__main__':
  main()
