"""NU-Wave's scan sampler against a Python loop, an oracle denoiser and the plain forward pass; chunked
sampling (shared by the families) against unchunked."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import default
from nuwave_jax import sampling
from nuwave_jax.nuwave import diffusion
from nuwave_jax.nuwave import model as model_lib
from nuwave_jax.nuwave import sampling as nuwave_sampling

PAPER = diffusion.make_schedule(default.PAPER_SAMPLING_BETAS)


def _noise(batch, time, seed=0):
  keys = jax.random.split(jax.random.key(seed), batch)
  return sampling.positional_noise(keys, jnp.zeros((batch,), jnp.int32), time)


@pytest.mark.parametrize('prediction', ['eps', 'v'])
@pytest.mark.parametrize('schedule', [PAPER, diffusion.training_schedule(1000, 1e-6, 0.006)],
                         ids=['8-step', '1000-step'])
def test_oracle_denoiser_recovers_the_clean_signal(schedule, prediction):
  clean = jnp.sin(jnp.linspace(0, 40, 3000)).reshape(2, 1500) * 0.8

  def oracle(noisy, level, std):  # the true eps (or v) of y_t given y0, as the sampler reads it
    noise = (noisy - level[:, None] * clean) / std[:, None]
    output = diffusion.prediction_target(clean, noise, level, std, prediction)
    return diffusion.noise_from_prediction(output, noisy, level, std, prediction)

  out = jax.jit(lambda s: nuwave_sampling.reverse_diffusion(oracle, _noise(2, 1500), s))(schedule)
  np.testing.assert_allclose(out, clean, atol=2e-4)


def test_scan_sampler_equals_python_loop(tiny_config):
  module = model_lib.build_model(tiny_config)
  params = model_lib.init_params(module, jax.random.key(0))
  cond = jax.random.normal(jax.random.key(1), (2, 700))
  denoise = lambda y, level, std: module.apply({'params': params}, y, cond, level)
  noise = _noise(2, 700, seed=3)
  scanned = jax.jit(lambda s: nuwave_sampling.reverse_diffusion(denoise, noise, s))(PAPER)

  y = noise(0)
  for t in range(8, 0, -1):
    level = jnp.full((2,), PAPER.levels[t])
    y = diffusion.reverse_step(y, denoise(y, level, None), jnp.asarray(t), PAPER, noise(t))
  np.testing.assert_allclose(scanned, y, rtol=1e-5, atol=1e-5)


def test_upsampler_with_cached_condition_equals_sampling_with_the_plain_forward_pass(tiny_config):
  module = model_lib.build_model(tiny_config)
  params = model_lib.init_params(module, jax.random.key(0))
  cond = jax.random.normal(jax.random.key(1), (3, 600))
  keys = jax.random.split(jax.random.key(7), 3)
  starts = jnp.zeros((3,), jnp.int32)
  upsample = nuwave_sampling.make_sample_fn(module)
  cached = upsample(params, cond, PAPER, keys, starts)
  plain = nuwave_sampling.reverse_diffusion(lambda y, level, std: module.apply({'params': params}, y, cond, level),
                                     sampling.positional_noise(keys, starts, 600), PAPER)
  np.testing.assert_allclose(cached, plain, rtol=1e-5, atol=1e-5)


def test_upsampler_is_reproducible_and_a_new_schedule_does_not_recompile(tiny_config):
  module = model_lib.build_model(tiny_config)
  params = model_lib.init_params(module, jax.random.key(0))
  cond = jax.random.normal(jax.random.key(1), (2, 300))
  starts = jnp.zeros((2,), jnp.int32)
  upsample = nuwave_sampling.make_sample_fn(module)
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


def test_plan_chunks_tile_the_signal_with_less_than_a_noise_block_to_spare():
  assert sampling.plan_chunks(300, 4096, 1024) == [(0, 1024)]
  assert sampling.plan_chunks(3000, 4096, 1024) == [(0, 3072)]
  assert sampling.plan_chunks(10_000, 4096, 1024) == [(0, 4096), (3072, 4096), (6144, 4096)]
  # The last chunk moves back to end within a block of the signal, overlapping its neighbour by more.
  assert sampling.plan_chunks(9000, 4096, 1024) == [(0, 4096), (3072, 4096), (5120, 4096)]
  for length in (1, 1023, 1025, 4096, 4097, 7167, 7169, 20_000, 48_000 * 7 + 5):
    plan = sampling.plan_chunks(length, 4096, 1024)
    assert plan[0][0] == 0 and 0 <= plan[-1][0] + plan[-1][1] - length < 1024, (length, plan)
    assert all(start % 1024 == 0 for start, _ in plan)
    for (a, width), (b, _) in zip(plan, plan[1:]):
      assert 1024 <= a + width - b < 4096  # every neighbour overlaps by at least `overlap`
  with pytest.raises(ValueError, match='multiples'):
    sampling.plan_chunks(10_000, 4000, 1024)


def test_short_signals_share_a_few_widths():
  # A 4 s chunk (188 noise blocks): shorter signals are padded to multiples of 23 blocks, never past it.
  chunk = 188 * 1024
  assert sampling.plan_chunks(70_000, chunk, 12 * 1024) == [(0, 3 * 23 * 1024)]
  assert sampling.plan_chunks(23 * 1024 + 1, chunk, 12 * 1024) == [(0, 46 * 1024)]
  assert sampling.plan_chunks(chunk - 5, chunk, 12 * 1024) == [(0, chunk)]
  widths = {sampling.plan_chunks(n, chunk, 12 * 1024)[0][1] for n in range(1, chunk + 1, 997)}
  assert len(widths) == 9 and max(widths) == chunk


@pytest.mark.parametrize('left, right', [(1024, 1024), (2048, 1024), (0, 3072)])
def test_crossfade_weights_sum_to_one_across_an_overlap(left, right):
  # Three chunks of 4096: the second overlaps the first by `left`, the third by `right`.
  starts = [0, 4096 - left, 8192 - left - right] if left else [0, 0, 4096 - right]
  chunks = ([(0, 0, left), (starts[1], left, right), (starts[2], right, 0)] if left
            else [(0, 0, right), (starts[2], right, 0)])
  total = np.zeros(starts[2] + 4096)
  for start, before, after in chunks:
    total[start:start + 4096] += sampling._crossfade_weights(4096, before, after)
  np.testing.assert_allclose(total, 1.0, atol=1e-12)
  middle = sampling._crossfade_weights(4096, left, right)
  assert middle[:left // 4].max(initial=0.0) == 0.0 and middle[4096 - right // 4:].max(initial=0.0) == 0.0


def test_no_row_is_sampled_for_nothing(tiny_config):
  calls = []

  def upsample(params, cond, schedule, keys, starts):  # records what it is asked to compute
    assert len(keys) == len(starts) == cond.shape[0]
    calls.append(cond.shape)
    return np.zeros(cond.shape, np.float32)

  conditions = [np.ones(n, np.float32) for n in (9000, 700, 3000, 700, 4096)]
  keys = [jax.random.key(i) for i in range(5)]
  sampling.sample_chunked(upsample, None, conditions, keys, PAPER, chunk=4096, overlap=1024, batch_size=2)
  chunks = sum(len(sampling.plan_chunks(len(c), 4096, 1024)) for c in conditions)
  assert sum(rows for rows, _ in calls) == chunks == 7
  # Widths rounded to one noise block: 700 -> 1024 (two of them, one call), 3000 -> 3072, the rest 4096;
  # the widest first, so that the host memory of its call serves the narrower ones.
  assert calls == [(2, 4096), (2, 4096), (1, 3072), (2, 1024)]


def test_chunked_sampling_equals_unchunked_sampling(tiny_config):
  """The tiny network sees 8 steps x 6 samples of context; a 256-sample margin makes chunks exact."""
  module = model_lib.build_model(tiny_config)
  params = model_lib.init_params(module, jax.random.key(0))
  upsample = nuwave_sampling.make_sample_fn(module)
  rng = np.random.default_rng(0)
  conditions = [rng.uniform(-1, 1, n).astype(np.float32) for n in (9000, 700)]
  keys = [jax.random.key(11), jax.random.key(12)]
  chunked = sampling.sample_chunked(upsample, params, conditions, keys, PAPER, chunk=2048,
                                    overlap=1024, batch_size=3)
  for cond, key, out in zip(conditions, keys, chunked):
    whole = upsample(params, cond[None], PAPER, jnp.stack([key]), jnp.zeros(1, jnp.int32))[0]
    assert out.shape == cond.shape
    # Exact away from the end (where a chunk is zero-padded beyond the signal).
    np.testing.assert_allclose(out[:-64], whole[:-64], rtol=1e-4, atol=1e-4)
  # A different chunking of the same signal gives the same audio: the noise is positional.
  other = sampling.sample_chunked(upsample, params, conditions[:1], keys[:1], PAPER, chunk=4096,
                                  overlap=2048, batch_size=1)
  np.testing.assert_allclose(other[0][:-64], chunked[0][:-64], rtol=1e-4, atol=1e-4)


def test_sampler_with_noisy_minus_condition_input_feeds_the_network_y_minus_level_times_condition(tiny_config):
  module = model_lib.build_model(tiny_config)
  params = model_lib.init_params(module, jax.random.key(0))
  cond = jax.random.normal(jax.random.key(1), (2, 500))
  keys = jax.random.split(jax.random.key(7), 2)
  starts = jnp.zeros((2,), jnp.int32)
  sample = nuwave_sampling.make_sample_fn(module, network_input='noisy_minus_condition')
  residual = sample(params, cond, PAPER, keys, starts)
  noise = sampling.positional_noise(keys, starts, 500)
  y = noise(0)
  for t in range(8, 0, -1):
    level = jnp.full((2,), PAPER.levels[t])
    eps_hat = module.apply({'params': params}, y - level[:, None] * cond, cond, level)
    y = diffusion.reverse_step(y, eps_hat, jnp.asarray(t), PAPER, noise(t))
  np.testing.assert_allclose(residual, y, rtol=1e-5, atol=1e-5)
  noisy = nuwave_sampling.make_sample_fn(module)(params, cond, PAPER, keys, starts)
  assert np.max(np.abs(residual - noisy)) > 1e-3


def test_noise_scale_scales_the_added_noise_and_zero_makes_the_steps_deterministic(tiny_config):
  full, half = (diffusion.make_schedule(default.PAPER_SAMPLING_BETAS, scale) for scale in (1.0, 0.5))
  np.testing.assert_allclose(half.sigmas, 0.5 * full.sigmas, rtol=1e-7)
  np.testing.assert_array_equal(half.noise_coefs, full.noise_coefs)
  with pytest.raises(ValueError, match='sample.noise_scale must be in'):
    diffusion.make_schedule(default.PAPER_SAMPLING_BETAS, 1.5)
  module = model_lib.build_model(tiny_config)
  params = model_lib.init_params(module, jax.random.key(0))
  cond = jax.random.normal(jax.random.key(1), (2, 400))
  denoise = lambda y, level, std: module.apply({'params': params}, y, cond, level)
  start = _noise(2, 400, seed=0)
  # The same y_T, different noise at every later step.
  mixed = lambda seed: (lambda i: jnp.where(i == 0, start(0), _noise(2, 400, seed)(i)))
  run = jax.jit(lambda s, seed: nuwave_sampling.reverse_diffusion(denoise, mixed(seed), s), static_argnums=1)
  quiet = diffusion.make_schedule(default.PAPER_SAMPLING_BETAS, 0.0)
  np.testing.assert_array_equal(run(quiet, 1), run(quiet, 2))
  assert np.max(np.abs(run(full, 1) - run(full, 2))) > 1e-3
