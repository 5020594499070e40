"""NU-Wave 2's jitted sampler: BSFT's band features once per call, then the DDIM steps as one scan.

`upsample(params, cond, schedule, keys, start_samples, band) -> [batch, time]` has the signature
`sampling.upsample_chunked` calls (with the band as the per-signal extra), so long files are chunked,
batched and cross-faded by the same code as NU-Wave's. The only noise is the starting y, drawn by
position (`sampling.positional_noise`), so chunks of a file start from what the whole file would.
"""

import flax.linen as nn
import jax

from nuwave_jax import sampling
from nuwave_jax.nuwave2 import diffusion


def make_upsampler(module: nn.Module, logsnr_min: float, logsnr_max: float, target: str = 'signal',
                   prediction: str = 'eps'):
  """cond [batch, time] (time a multiple of 256), schedule a `diffusion.Schedule`, keys [batch],
  start_samples [batch], band [batch, 513] -> [batch, time] float32. target 'residual': the DDIM
  samples the audio minus cond, and cond is added back before the clamp; prediction 'v': the network
  gives v, turned into eps for the DDIM step."""
  @jax.jit
  def upsample(params, cond, schedule, keys, start_samples, band):
    variables = {'params': params}
    features = module.apply(variables, band, method='band_features')

    def denoise(y, logsnr):
      level = diffusion.network_input(logsnr, logsnr_min, logsnr_max)
      output = module.apply(variables, y, cond, features, level, method='denoise')
      return diffusion.noise_from_velocity(y, output, logsnr) if prediction == 'v' else output

    initial = sampling.positional_noise(keys, start_samples, cond.shape[1])(0)
    return diffusion.ddim_sample(denoise, initial, schedule, cond if target == 'residual' else 0.0)

  return upsample
