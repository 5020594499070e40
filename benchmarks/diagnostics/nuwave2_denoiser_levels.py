"""How much noise a NU-Wave 2 checkpoint's one-step clean estimate leaves, at each log-SNR of its sampler.

  python benchmarks/diagnostics/nuwave2_denoiser_levels.py --checkpoint runs/nuwave2_small \
      [--data data/speech/eval] [--limit 8] [--rate 24000]

Clips are band-limited at --rate as the test condition is (`conditioning.band_limited`), the sampled
target (the audio, or the audio minus the condition) is noised at each log-SNR lambda of the sampler's
schedule, y = alpha y0 + sigma eps, and the network's clean estimate y0_hat = (y - sigma eps_hat) /
alpha is compared with y0 above the input's cutoff, in two bands (the cutoff to --split, and --split
to 24 kHz). Printed per lambda and band: the error of y0_hat over the noise that entered it,
||y0_hat - y0|| / ||(sigma / alpha) eps|| (0: the noise removed; 1: all of it left in), and the
target's own energy over that noise. A deterministic sampler keeps whatever a step leaves: a ratio
near 1 at the high log-SNRs is a noise floor in the output, which LSD punishes where the truth is
empty.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks import common  # noqa: E402
from nuwave_jax import evaluation  # noqa: E402
from nuwave_jax import inference  # noqa: E402
from nuwave_jax.data import audio as audio_io  # noqa: E402
from nuwave_jax.nuwave2 import conditioning  # noqa: E402
from nuwave_jax.nuwave2 import diffusion  # noqa: E402
from nuwave_jax.nuwave2 import model as model_lib  # noqa: E402
from nuwave_jax.nuwave2 import sampling  # noqa: E402


def band_norm(x: np.ndarray, low_hz: float, high_hz: float) -> float:
  """The norm of x [batch, time] (48 kHz) between low_hz and high_hz, from its DFT."""
  spectrum = np.fft.rfft(np.asarray(x, np.float64), axis=-1)
  frequencies = np.fft.rfftfreq(x.shape[-1], 1 / 48000)
  return float(np.sqrt(np.sum(np.abs(spectrum[:, (frequencies >= low_hz) & (frequencies < high_hz)])**2)))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--checkpoint', required=True)
  parser.add_argument('--data', default='data/speech/eval', help='a folder of audio files')
  parser.add_argument('--limit', type=int, default=8, help='the first N files')
  parser.add_argument('--seconds', type=float, default=1.5, help='each file cut or padded to this')
  parser.add_argument('--rate', type=int, default=24000, help='the simulated input rate (Hz)')
  parser.add_argument('--split', type=float, default=20000.0, help='the edge between the two bands (Hz)')
  args = parser.parse_args()

  upsampler = inference.Upsampler.from_checkpoint(args.checkpoint)
  config = upsampler.config
  common.require_family(upsampler, 'nuwave2', args.checkpoint, 'benchmarks/diagnostics/denoiser_levels.py')
  utterances = audio_io.read_utterances(args.data, config.data.trim_top_db, args.limit)
  if not utterances:
    raise SystemExit(f'no audio files in {args.data}')
  width = max(256, round(args.seconds * 48000 / 256) * 256)
  refs = np.stack([np.pad(r, (0, max(0, width - len(r))))[:width]
                   for r in (evaluation.prepare_reference(a, 256) for _, a in utterances)]).astype(np.float32)
  cond, band_mask = conditioning.band_limited(refs, args.rate)
  clean = refs - cond if config.diffusion.target == 'signal_minus_condition' else refs
  d, module = config.diffusion, model_lib.build_model(config)

  @jax.jit
  def clean_estimate(noisy, logsnr):
    variables = {'params': upsampler.params}
    features = module.apply(variables, band_mask, method='bsft_features')
    denoise = sampling.make_denoiser(module, variables, cond, features, d.logsnr_min, d.logsnr_max,
                                     config.model.prediction)  # the one the sampler runs
    noise_hat = denoise(noisy, logsnr)
    alpha, sigma = diffusion.alpha_sigma(logsnr[:, None])
    return (noisy - sigma * noise_hat) / alpha

  noise = np.random.default_rng(0).standard_normal(refs.shape).astype(np.float32)
  bands = ((args.rate / 2, args.split), (args.split, 24000.0))
  print(f'{args.checkpoint} on {len(refs)} clips of {args.data} ({width} samples), input {args.rate} Hz; '
        f'{common.machine()}\n')
  names = [f'{lo / 1000:g}-{hi / 1000:g} kHz' for lo, hi in bands]
  print('| log-SNR | sigma / alpha | ' + ' | '.join(f'{n}: noise left | {n}: target / noise' for n in names) + ' |')
  print('|---|---|' + '---|---|' * len(bands))
  for logsnr in np.asarray(upsampler.sampler.schedule.logsnr_t):
    alpha, sigma = (float(v) for v in diffusion.alpha_sigma(jnp.float32(logsnr)))
    estimate = np.asarray(clean_estimate(alpha * clean + sigma * noise, jnp.full((len(refs),), logsnr)))
    cells = []
    for lo, hi in bands:
      entered = sigma / alpha * band_norm(noise, lo, hi)
      cells += [f'{band_norm(estimate - clean, lo, hi) / entered:.3g}', f'{band_norm(clean, lo, hi) / entered:.3g}']
    print(f'| {logsnr:g} | {sigma / alpha:.2e} | ' + ' | '.join(cells) + ' |')


if __name__ == '__main__':
  main()
