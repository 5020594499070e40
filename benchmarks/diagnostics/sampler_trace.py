"""Follows the 8-step sampler on real clips and prints, per step, where the clean estimate goes wrong.

  python benchmarks/diagnostics/sampler_trace.py --checkpoint runs/small [--data data/speech/eval] [--clips 2]

Columns (rms over the clips; clean audio is peak 1):
- clean-estimate error: y0_hat - y0 with y0_hat = (y_t - s eps_hat) / l, overall, at the samples where
  the starting noise |y_T| > 3.5 (clicks: an eps-network copies those rare values badly) and elsewhere;
- above `--empty-above-hz` (fetch-speech's Ogg files hold nothing above ~17.6 kHz, so there the right
  eps is y_t / s): s x (eps_hat - y_t / s), the network's resolution of its input, and what is left of
  the noise in y_{t-1}.
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
from nuwave_jax import sampling  # noqa: E402
from nuwave_jax.data import audio as audio_io  # noqa: E402
from nuwave_jax.nuwave import conditioning  # noqa: E402
from nuwave_jax.nuwave import diffusion  # noqa: E402
from nuwave_jax.nuwave import model as model_lib  # noqa: E402


def band_above(x: np.ndarray, hz: float, rate: int) -> np.ndarray:
  """x [batch, time] with every FFT bin below `hz` zeroed."""
  spectrum = np.fft.rfft(x, axis=-1)
  spectrum[:, np.fft.rfftfreq(x.shape[-1], 1 / rate) < hz] = 0
  return np.fft.irfft(spectrum, x.shape[-1], axis=-1)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--checkpoint', required=True)
  parser.add_argument('--data', default=common.EVAL_DATA)
  parser.add_argument('--clips', type=int, default=2)
  parser.add_argument('--seconds', type=float, default=1.0)
  parser.add_argument('--empty-above-hz', type=float, default=17600.0)
  args = parser.parse_args()

  upsampler = inference.Upsampler.from_checkpoint(args.checkpoint)
  common.require_family(upsampler, 'nuwave', args.checkpoint, 'benchmarks/diagnostics/nuwave2_denoiser_levels.py')
  config, schedule = upsampler.config, upsampler.sampler.schedule
  rate = config.data.sample_rate_hz
  samples = int(args.seconds * rate) // upsampler.config.data.ratio * upsampler.config.data.ratio
  clips = [a[:samples] for _, a in audio_io.read_utterances(args.data, config.data.trim_top_db)
           if len(a) >= samples][:args.clips]
  if not clips:
    raise SystemExit(f'no clip in {args.data} is {args.seconds} s long')
  clean = np.stack(clips)
  cond = jnp.asarray(conditioning.make_condition(clean, upsampler.config.data.ratio, config.data.lowpass_n_fft,
                                                 config.data.lowpass_hop))
  module = model_lib.build_model(config)
  variables = {'params': upsampler.params}
  features = module.apply(variables, cond, method='condition_features')
  prediction = config.model.prediction
  network = lambda x, level, std: module.apply(variables, x, features, level, std, method='denoise')
  denoise = jax.jit(diffusion.make_denoiser(network, cond, prediction, config.model.network_input))

  n = len(clips)
  noise = sampling.positional_noise(jax.random.split(jax.random.key(0), n), jnp.zeros(n, jnp.int32),
                                    samples)
  rms = lambda x: float(np.sqrt(np.mean(np.square(x))))
  y = noise(0)
  tails = np.abs(np.asarray(y)) > 3.5
  print(f'{args.checkpoint} ({prediction}): {n} clips of {args.seconds} s, x{upsampler.config.data.ratio}; '
        f'{int(tails.sum())} starting-noise samples beyond 3.5')
  print(f'| step | noise std | clean-estimate error | at abs(y_T) > 3.5 | elsewhere | '
        f'above {args.empty_above_hz / 1000:g} kHz: s x eps error | noise left in y_t-1 |')
  print('|---|---|---|---|---|---|---|')
  for t in range(schedule.betas.shape[0], 0, -1):
    level, std = float(schedule.levels[t]), float(schedule.noise_stds[t])
    eps_hat = denoise(y, jnp.full((n,), level, jnp.float32), jnp.full((n,), std, jnp.float32))
    error = np.asarray((y - std * eps_hat) / level, np.float64) - clean
    eps_error = band_above(np.asarray(eps_hat, np.float64) - np.asarray(y, np.float64) / std,
                           args.empty_above_hz, rate)
    y = diffusion.reverse_step(y, eps_hat, t, schedule, noise(t))
    left = band_above(np.asarray(y, np.float64), args.empty_above_hz, rate)
    print(f'| {t} | {std:.1e} | {rms(error):.4f} | {rms(error[tails]):.4f} | {rms(error[~tails]):.4f} | '
          f'{std * rms(eps_error):.1e} | {rms(left):.1e} |', flush=True)


if __name__ == '__main__':
  main()
