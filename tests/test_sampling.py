"""The scan sampler against a Python loop, an oracle denoiser, and the plain forward pass."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import default
from nuwave_jax import diffusion
from nuwave_jax import model as model_lib
from nuwave_jax import sampling

PAPER = diffusion.make_schedule(default.PAPER_SAMPLING_BETAS)


def _noise(batch, time, seed=0):
  keys = jax.random.split(jax.random.key(seed), batch)
  return sampling.positional_noise(keys, jnp.zeros((batch,), jnp.int32), time)


@pytest.mark.parametrize('schedule', [PAPER, diffusion.training_schedule(1000, 1e-6, 0.006)],
                         ids=['8-step', '1000-step'])
def test_oracle_denoiser_recovers_the_clean_signal(schedule):
  clean = jnp.sin(jnp.linspace(0, 40, 3000)).reshape(2, 1500) * 0.8

  def oracle(noisy, level):  # the true noise of y_t given y0
    level = level[:, None]
    return (noisy - level * clean) / jnp.sqrt(1 - level**2)

  out = jax.jit(lambda s: sampling.reverse_diffusion(oracle, _noise(2, 1500), s))(schedule)
  np.testing.assert_allclose(out, clean, atol=2e-4)


def test_scan_sampler_equals_python_loop(tiny_config):
  module = model_lib.build_model(tiny_config)
  params = model_lib.init_params(module, jax.random.key(0))
  cond = jax.random.normal(jax.random.key(1), (2, 700))
  denoise = lambda y, level: module.apply({'params': params}, y, cond, level)
  noise = _noise(2, 700, seed=3)
  scanned = jax.jit(lambda s: sampling.reverse_diffusion(denoise, noise, s))(PAPER)

  y = noise(0)
  for t in range(8, 0, -1):
    level = jnp.full((2,), PAPER.levels[t])
    y = diffusion.reverse_step(y, denoise(y, level), jnp.asarray(t), PAPER, noise(t))
  np.testing.assert_allclose(scanned, y, rtol=1e-5, atol=1e-5)


def test_upsampler_with_cached_condition_equals_sampling_with_the_plain_forward_pass(tiny_config):
  module = model_lib.build_model(tiny_config)
  params = model_lib.init_params(module, jax.random.key(0))
  cond = jax.random.normal(jax.random.key(1), (3, 600))
  keys = jax.random.split(jax.random.key(7), 3)
  starts = jnp.zeros((3,), jnp.int32)
  upsample = sampling.make_upsampler(module)
  cached = upsample(params, cond, PAPER, keys, starts)
  plain = sampling.reverse_diffusion(lambda y, l: module.apply({'params': params}, y, cond, l),
                                     sampling.positional_noise(keys, starts, 600), PAPER)
  np.testing.assert_allclose(cached, plain, rtol=1e-5, atol=1e-5)


def test_upsampler_is_reproducible_and_a_new_schedule_does_not_recompile(tiny_config):
  module = model_lib.build_model(tiny_config)
  params = model_lib.init_params(module, jax.random.key(0))
  cond = jax.random.normal(jax.random.key(1), (2, 300))
  starts = jnp.zeros((2,), jnp.int32)
  upsample = sampling.make_upsampler(module)
  keys = lambda seed: jax.random.split(jax.random.key(seed), 2)
  a = upsample(params, cond, PAPER, keys(0), starts)
  np.testing.assert_array_equal(a, upsample(params, cond, PAPER, keys(0), starts))
  assert not np.allclose(a, upsample(params, cond, PAPER, keys(1), starts))
  other = diffusion.make_schedule(np.array(default.PAPER_SAMPLING_BETAS) * 0.5)
  b = upsample(params, cond, other, keys(0), starts)
  assert not np.allclose(a, b)
  assert upsample._cache_size() == 1


def test_positional_noise_of_a_chunk_equals_the_whole_at_that_position():
  key = jax.random.split(jax.random.key(0), 1)
  whole = sampling.positional_noise(key, jnp.array([0]), 5000)(3)
  start = 2 * sampling.NOISE_BLOCK_SAMPLES
  chunk = sampling.positional_noise(key, jnp.array([start]), 1500)(3)
  np.testing.assert_array_equal(chunk[0], whole[0, start:start + 1500])
  assert abs(float(whole.std()) - 1.0) < 0.05
  # Different steps and different rows draw independent noise.
  assert abs(np.corrcoef(whole[0], sampling.positional_noise(key, jnp.array([0]), 5000)(4)[0])[0, 1]) < 0.05
