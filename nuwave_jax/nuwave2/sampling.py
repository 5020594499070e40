"""NU-Wave 2's jitted sampler: BSFT's features once per call, then the DDIM steps as one scan.

`sample(params, cond, schedule, keys, start_samples, band_mask) -> [batch, time]` is a
`families.Sampler`'s, so long files are chunked, batched and cross-faded by `sampling.sample_chunked`
as NU-Wave's are. The only noise is the starting y, drawn by position (`sampling.positional_noise`),
so chunks of a file start from what the whole file would.

Two options beyond the paper's sampler (off in configs/nuwave2.py; configs/nuwave2_small.py uses
them, docs/results.md measures them): sample.noise_scale scales the starting y (the sampler's
temperature: what a network fails to denoise scales with it), and sample.keep_band makes every clean
estimate keep the condition's band (`keep_given_band`), so the sampler only generates above the
input's cutoff and cannot damage the band it was given.
"""

import flax.linen as nn
import jax

from nuwave_jax import sampling
from nuwave_jax.nuwave2 import diffusion
from nuwave_jax.nuwave2 import stft


def keep_given_band(estimate: jax.Array, given: jax.Array, band_mask: jax.Array) -> jax.Array:
  """`estimate` with the STFT bins that `band_mask` sets taken from `given` (the network's STFT: n_fft
  1024, hop 256, so the same bins BSFT is told are the input's). estimate, given [batch, time] (time
  a multiple of 256); band_mask [batch, 513] 0/1. -> [batch, time]."""
  difference = stft.stft(given - estimate) * band_mask[:, None, :]
  return estimate + stft.istft(difference)


def make_denoiser(module: nn.Module, variables, cond: jax.Array, bsft_features, logsnr_min: float,
                  logsnr_max: float, prediction: str = 'eps') -> diffusion.Denoiser:
  """(y [batch, time], logsnr [batch]) -> eps_hat [batch, time]: the network on y with condition cond
  and BSFT features `bsft_features` (module.apply(..., method='bsft_features')), told the normalised
  log-SNR; a v-prediction turned into eps. Every caller (the sampler, distillation, diagnostics) goes
  through it."""
  def denoise(y, logsnr):
    level = diffusion.normalized_log_snr(logsnr, logsnr_min, logsnr_max)
    output = module.apply(variables, y, cond, bsft_features, level, method='denoise')
    return diffusion.noise_from_velocity(y, output, logsnr) if prediction == 'v' else output

  return denoise


def make_sample_fn(module: nn.Module, logsnr_min: float, logsnr_max: float, target: str = 'signal',
                   prediction: str = 'eps', noise_scale: float = 1.0, keep_band: bool = False):
  """cond [batch, time] (time a multiple of 256), schedule a `diffusion.Schedule`, keys [batch],
  start_samples [batch], band_mask [batch, 513] -> [batch, time] float32. target
  'signal_minus_condition': the DDIM samples the audio minus cond, and cond is added back before the
  clamp; prediction 'v': the network gives v, turned into eps for the DDIM step. The starting y is
  N(0, noise_scale^2); keep_band: every clean estimate keeps cond's band (`keep_given_band`; for the
  signal minus its condition, a band of zeros)."""
  @jax.jit
  def sample(params, cond, schedule, keys, start_samples, band_mask):
    variables = {'params': params}
    features = module.apply(variables, band_mask, method='bsft_features')
    denoise = make_denoiser(module, variables, cond, features, logsnr_min, logsnr_max, prediction)
    offset = cond if target == 'signal_minus_condition' else 0.0
    project = None
    if keep_band:
      given = cond - offset  # what the sampled signal holds below the cutoff: cond, or nothing
      project = lambda clean: keep_given_band(clean, given, band_mask.astype(clean.dtype))
    initial = noise_scale * sampling.positional_noise(keys, start_samples, cond.shape[1])(0)
    return diffusion.ddim_sample(denoise, initial, schedule, offset, project)

  return sample
