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


def make_upsampler(module: nn.Module, logsnr_min: float, logsnr_max: float):
  """cond [batch, time] (time a multiple of 256), schedule a `diffusion.Schedule`, keys [batch],
  start_samples [batch], band [batch, 513] -> [batch, time] float32."""
  @jax.jit
  def upsample(params, cond, schedule, keys, start_samples, band):
    variables = {'params': params}
    features = module.apply(variables, band, method='band_features')

    def denoise(y, logsnr):
      level = diffusion.network_input(logsnr, logsnr_min, logsnr_max)
      return module.apply(variables, y, cond, features, level, method='denoise')

    initial = sampling.positional_noise(keys, start_samples, cond.shape[1])(0)
    return diffusion.ddim_sample(denoise, initial, schedule)

  return upsample
