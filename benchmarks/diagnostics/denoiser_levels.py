"""Is a checkpoint's denoiser good enough at each sampling level? One-step predictions on real speech.

  python benchmarks/diagnostics/denoiser_levels.py --checkpoint runs/small [--data data/speech/eval] [--limit 6]

For each level l of the sampling schedule, eval clips are noised (y = l x + sqrt(1 - l^2) eps) and the
checkpoint's denoiser (`diffusion.make_denoiser`: any prediction and network input) predicts eps.
Printed per level: the L1 error of that prediction, the L1 error of the trivial prediction that takes
the condition for the clean signal ((y - l c) / sqrt(1 - l^2)), and the SNR / LSD of the one-step
clean estimate. A network worse than the trivial prediction at the high levels, or no
better than predicting 0 (L1 0.8) at the low ones, cannot beat linear interpolation after sampling.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks import common  # noqa: E402
from nuwave_jax import inference  # noqa: E402
from nuwave_jax import metrics  # noqa: E402
from nuwave_jax.data import audio as audio_io  # noqa: E402
from nuwave_jax.nuwave import conditioning  # noqa: E402
from nuwave_jax.nuwave import diffusion  # noqa: E402
from nuwave_jax.nuwave import model as model_lib  # noqa: E402


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--checkpoint', required=True)
  parser.add_argument('--data', default=common.EVAL_DATA)
  parser.add_argument('--limit', type=int, default=6)
  parser.add_argument('--samples', type=int, default=65536, help='each clip cropped or padded to this')
  args = parser.parse_args()

  upsampler = inference.Upsampler.from_checkpoint(args.checkpoint)
  common.require_family(upsampler, 'nuwave', args.checkpoint, 'benchmarks/diagnostics/nuwave2_denoiser_levels.py')
  config, ratio = upsampler.config, upsampler.config.data.ratio
  utterances = audio_io.read_utterances(args.data, config.data.trim_top_db, args.limit)
  files, clips = [n for n, _ in utterances], [a for _, a in utterances]
  clean = np.stack([np.pad(c, (0, max(0, args.samples - len(c))))[:args.samples] for c in clips])
  clean = clean[:, :args.samples // ratio * ratio]
  cond = conditioning.make_condition(clean, ratio, config.data.lowpass_n_fft,
                                     config.data.lowpass_hop).astype(np.float32)
  module = model_lib.build_model(config)
  m = config.model

  @jax.jit
  def predict(params, y, level, std):
    network = lambda x, level, std: module.apply({'params': params}, x, cond, level, std)
    return diffusion.make_denoiser(network, cond, m.prediction, m.network_input)(y, level, std)

  mean = lambda fn, estimates: np.mean([fn(r, e) for r, e in zip(clean, estimates)])
  print(f'{args.checkpoint}: {len(files)} clips of {args.samples} samples from {args.data}, x{ratio}')
  print(f'condition (linear interpolation): SNR {mean(metrics.snr, cond):.2f} dB, '
        f'LSD {mean(metrics.lsd, cond):.3f}')
  print('| level | noise std | eps L1 | trivial eps L1 | one-step SNR (dB) | one-step LSD |')
  print('|---|---|---|---|---|---|')
  rng = np.random.default_rng(0)
  schedule = diffusion.make_schedule(config.sample.betas)
  levels = np.asarray(schedule.levels[1:], np.float64)
  for level, sigma in zip(levels, np.asarray(schedule.noise_stds[1:], np.float64)):
    eps = rng.standard_normal(clean.shape)
    noisy = (level * clean + sigma * eps).astype(np.float32)
    batch = lambda x: jnp.full((len(clean),), x, jnp.float32)
    eps_hat = np.asarray(predict(upsampler.params, noisy, batch(level), batch(sigma)), np.float64)
    one_step = (noisy - sigma * eps_hat) / level
    trivial = (noisy - level * cond) / sigma
    print(f'| {level:.7f} | {sigma:.1e} | {np.abs(eps_hat - eps).mean():.3f} | '
          f'{np.abs(trivial - eps).mean():.3f} | {mean(metrics.snr, one_step):.2f} | '
          f'{mean(metrics.lsd, one_step):.3f} |', flush=True)


if __name__ == '__main__':
  main()
