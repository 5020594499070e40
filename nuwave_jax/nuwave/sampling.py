"""NU-Wave's sampler: the reverse diffusion as one jitted `lax.scan` (docs/reference.md §2, paper
Algorithm 2).

The sampler takes the denoiser as a callable and the schedule as arrays, so a test can pass an oracle
denoiser and a new schedule of the same length does not recompile. Its Gaussian noise is positional
(`sampling.positional_noise`): a chunk of a long file draws what the whole file would.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from nuwave_jax import sampling
from nuwave_jax.nuwave import diffusion


def reverse_diffusion(denoise: diffusion.Denoiser, noise: sampling.NoiseFn,
                      schedule: diffusion.Schedule) -> jax.Array:
  """y_T ~ N(0, I), then T ancestral steps down to y_0. -> [batch, time] float32."""
  num_steps = schedule.betas.shape[0]

  def step(y, t):
    level = jnp.broadcast_to(schedule.levels[t], y.shape[:1])
    std = jnp.broadcast_to(schedule.noise_stds[t], y.shape[:1])
    return diffusion.reverse_step(y, denoise(y, level, std), t, schedule, noise(t)), None

  y, _ = jax.lax.scan(step, noise(0), jnp.arange(num_steps, 0, -1))
  return y


def make_sample_fn(module: nn.Module, prediction: str = 'eps', network_input: str = 'noisy'):
  """A jitted `sample(params, cond, schedule, keys, start_samples) -> [batch, time]`.

  cond: [batch, time] condition (`conditioning.make_condition` or a real low-rate file brought to
  48 kHz); keys: [batch] PRNG keys; start_samples: [batch] int (0 for whole utterances). The condition
  path (`module`'s condition_features) runs once per call; each of the T steps runs only the
  noise-dependent part (its denoise). `prediction` is what the network outputs and `network_input`
  what it sees in place of y_t (config.model.prediction, config.model.network_input).
  """
  @jax.jit
  def sample(params, cond, schedule, keys, start_samples):
    variables = {'params': params}
    features = module.apply(variables, cond, method='condition_features')
    network = lambda x, level, std: module.apply(variables, x, features, level, std, method='denoise')
    denoise = diffusion.make_denoiser(network, cond, prediction, network_input)
    return reverse_diffusion(denoise, sampling.positional_noise(keys, start_samples, cond.shape[1]), schedule)

  return sample
