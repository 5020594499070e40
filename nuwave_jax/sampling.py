"""The reverse diffusion as one jitted `lax.scan` (REFERENCE section 2, paper Algorithm 2).

The sampler takes the denoiser as a callable and the schedule as arrays, so a test can pass an oracle
denoiser and a new schedule of the same length does not recompile. Gaussian noise is a function of
(example key, step, absolute sample position): a chunk of a long file that starts at sample s draws the
same noise as the whole file does at s, which makes chunked sampling match unchunked sampling.
"""

from typing import Callable

import jax
import jax.numpy as jnp

from nuwave_jax import diffusion
from nuwave_jax.model import NuWave

NOISE_BLOCK_SAMPLES = 1024  # noise is drawn in blocks of this many samples, keyed by block index

Denoiser = Callable[[jax.Array, jax.Array], jax.Array]  # (noisy [batch, time], level [batch]) -> eps_hat
NoiseFn = Callable[[jax.Array], jax.Array]  # step index i -> [batch, time]; i = 0 is the initial y_T


def positional_noise(keys: jax.Array, start_samples: jax.Array, time: int) -> NoiseFn:
  """Noise keyed by position. keys: [batch] PRNG keys; start_samples: [batch] int, multiples of
  NOISE_BLOCK_SAMPLES, the absolute position of sample 0 of each row."""
  num_blocks = -(-time // NOISE_BLOCK_SAMPLES)
  first_block = start_samples // NOISE_BLOCK_SAMPLES

  def one_row(key, first, i):
    step_key = jax.random.fold_in(key, i)
    blocks = first + jnp.arange(num_blocks)
    draw = lambda b: jax.random.normal(jax.random.fold_in(step_key, b), (NOISE_BLOCK_SAMPLES,))
    return jax.vmap(draw)(blocks).reshape(-1)[:time]

  return lambda i: jax.vmap(one_row, in_axes=(0, 0, None))(keys, first_block, i)


def reverse_diffusion(denoise: Denoiser, noise: NoiseFn, schedule: diffusion.Schedule) -> jax.Array:
  """y_T ~ N(0, I), then T ancestral steps down to y_0. -> [batch, time] float32."""
  num_steps = schedule.betas.shape[0]

  def step(y, t):
    level = jnp.broadcast_to(schedule.levels[t], y.shape[:1])
    return diffusion.reverse_step(y, denoise(y, level), t, schedule, noise(t)), None

  y, _ = jax.lax.scan(step, noise(0), jnp.arange(num_steps, 0, -1))
  return y


def make_upsampler(module: NuWave):
  """A jitted `upsample(params, cond, schedule, keys, start_samples) -> [batch, time]`.

  cond: [batch, time] condition (`conditioning.make_condition` or a real low-rate file brought to
  48 kHz); keys: [batch] PRNG keys; start_samples: [batch] int (0 for whole utterances). The condition
  path runs once per call; each of the T steps runs only the noise-dependent part of the network.
  """

  @jax.jit
  def upsample(params, cond, schedule, keys, start_samples):
    variables = {'params': params}
    features = module.apply(variables, cond, method=NuWave.condition_features)
    denoise = lambda y, level: module.apply(variables, y, features, level, method=NuWave.denoise)
    return reverse_diffusion(denoise, positional_noise(keys, start_samples, cond.shape[1]), schedule)

  return upsample
