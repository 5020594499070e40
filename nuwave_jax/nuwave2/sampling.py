"""NU-Wave 2's jitted sampler: BSFT's band features once per call, then the DDIM steps as one scan.

`upsample(params, cond, schedule, keys, start_samples, band) -> [batch, time]` has the signature
`sampling.upsample_chunked` calls (with the band as the per-signal extra), so long files are chunked,
batched and cross-faded by the same code as NU-Wave's. The only noise is the starting y, drawn by
position (`sampling.positional_noise`), so chunks of a file start from what the whole file would.

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
from nuwave_jax.nuwave2 import model


def keep_given_band(estimate: jax.Array, given: jax.Array, band: jax.Array) -> jax.Array:
  """`estimate` with the STFT bins that `band` sets taken from `given` (the network's STFT: n_fft
  1024, hop 256, so the same bins BSFT is told are the input's). estimate, given [batch, time] (time
  a multiple of 256); band [batch, 513] 0/1. -> [batch, time]."""
  difference = model.stft(given - estimate) * band[:, None, :]
  return estimate + model.istft(difference)


def make_denoiser(module: nn.Module, variables, cond: jax.Array, features, logsnr_min: float,
                  logsnr_max: float, prediction: str = 'eps') -> diffusion.Denoiser:
  """(y [batch, time], logsnr [batch]) -> eps_hat [batch, time]: the network on y with condition cond
  and BSFT features `features` (module.apply(..., method='band_features')), told the normalised
  log-SNR; a v-prediction turned into eps."""
  def denoise(y, logsnr):
    level = diffusion.network_input(logsnr, logsnr_min, logsnr_max)
    output = module.apply(variables, y, cond, features, level, method='denoise')
    return diffusion.noise_from_velocity(y, output, logsnr) if prediction == 'v' else output

  return denoise


def make_upsampler(module: nn.Module, logsnr_min: float, logsnr_max: float, target: str = 'signal',
                   prediction: str = 'eps', noise_scale: float = 1.0, keep_band: bool = False):
  """cond [batch, time] (time a multiple of 256), schedule a `diffusion.Schedule`, keys [batch],
  start_samples [batch], band [batch, 513] -> [batch, time] float32. target 'residual': the DDIM
  samples the audio minus cond, and cond is added back before the clamp; prediction 'v': the network
  gives v, turned into eps for the DDIM step. The starting y is N(0, noise_scale^2); keep_band: every
  clean estimate keeps cond's band (`keep_given_band`; for the residual, a band of zeros)."""
  @jax.jit
  def upsample(params, cond, schedule, keys, start_samples, band):
    variables = {'params': params}
    features = module.apply(variables, band, method='band_features')
    denoise = make_denoiser(module, variables, cond, features, logsnr_min, logsnr_max, prediction)
    offset = cond if target == 'residual' else 0.0
    project = None
    if keep_band:
      given = cond - offset  # what the sampled signal holds below the cutoff: cond, or no residual
      project = lambda clean: keep_given_band(clean, given, band.astype(clean.dtype))
    initial = noise_scale * sampling.positional_noise(keys, start_samples, cond.shape[1])(0)
    return diffusion.ddim_sample(denoise, initial, schedule, offset, project)

  return upsample
