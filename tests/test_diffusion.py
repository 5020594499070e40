"""NU-Wave's diffusion: schedules, noise levels, q_sample, the loss and the reverse step against closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import default
from nuwave_jax.nuwave import conditioning
from nuwave_jax.nuwave import diffusion


def test_training_schedule_matches_closed_form(paper_config):
  d = paper_config.diffusion
  schedule = diffusion.training_schedule(d.num_steps, d.beta_start, d.beta_end)
  betas = 1e-6 + (0.006 - 1e-6) * np.arange(1000) / 999
  np.testing.assert_allclose(schedule.betas, betas, rtol=1e-6)
  np.testing.assert_allclose(schedule.alpha_bars, np.cumprod(1 - betas), rtol=1e-5)
  # docs/reference.md §2: sqrt(alpha_bar_T) ~ 0.222, the chain never reaches pure noise.
  assert abs(float(schedule.levels[-1]) - 0.222) < 0.001
  assert schedule.levels[0] == 1.0 and schedule.levels.shape == (1001,)


def test_paper_sampling_levels_match_reference():
  schedule = diffusion.make_schedule(default.PAPER_SAMPLING_BETAS)
  fed = np.asarray(schedule.levels[8:0:-1], np.float64)  # levels fed at t = 8..1
  published = [0.2983, 0.9434, 0.99443, 0.99944, 0.99994, 0.999993]
  np.testing.assert_allclose(fed[:6], published, atol=6e-5)
  np.testing.assert_allclose(1 - fed[6:], [1.5e-6, 5e-7], rtol=0.1)
  betas = np.array(default.PAPER_SAMPLING_BETAS)
  np.testing.assert_allclose(fed[::-1], np.sqrt(np.cumprod(1 - betas)), rtol=1e-7)


def test_reverse_step_coefficients_are_exact_in_float64():
  schedule = diffusion.make_schedule(default.PAPER_SAMPLING_BETAS)
  betas = np.array(default.PAPER_SAMPLING_BETAS)
  alpha_bars = np.cumprod(1 - betas)
  # 1 - alpha_bar_1 = 1e-6 exactly: beta_1 / sqrt(1 - alpha_bar_1) = 1e-3, to float32 precision.
  np.testing.assert_allclose(schedule.noise_coefs, betas / np.sqrt(1 - alpha_bars), rtol=1e-6)
  assert abs(float(schedule.noise_coefs[0]) - 1e-3) < 1e-9
  prev = np.concatenate([[1.0], alpha_bars[:-1]])
  np.testing.assert_allclose(schedule.sigmas[1:], np.sqrt(betas * (1 - prev) / (1 - alpha_bars))[1:],
                             rtol=1e-5)
  assert schedule.sigmas[0] == 0.0


def test_continuous_noise_level_is_uniform_over_steps_and_within_intervals(paper_config):
  d = paper_config.diffusion
  schedule = diffusion.training_schedule(d.num_steps, d.beta_start, d.beta_end)
  levels = np.asarray(schedule.levels, np.float64)
  samples = np.asarray(diffusion.sample_noise_level(jax.random.key(0), schedule.levels, 200_000))
  assert samples.dtype == np.float32
  assert samples.min() >= levels[-1] - 1e-6 and samples.max() <= 1.0
  # s ~ U{1..T} and l ~ U(levels[s], levels[s-1]): P(l < levels[s]) = (T - s) / T exactly.
  for s in (1, 10, 100, 500, 900, 999):
    np.testing.assert_allclose(np.mean(samples < levels[s]), (1000 - s) / 1000, atol=0.004)
  # Within step 1's interval the level is uniform: its mean is the midpoint.
  first = samples[samples > levels[1]]
  np.testing.assert_allclose(first.mean(), (levels[0] + levels[1]) / 2, atol=2e-8)


def test_log_uniform_noise_std_spreads_examples_evenly_over_decades(paper_config):
  level, std = diffusion.sample_log_uniform_noise_level(jax.random.key(0), 1e-4, 0.975, 200_000)
  assert level.dtype == std.dtype == np.float32
  level, std = np.asarray(level, np.float64), np.asarray(std, np.float64)
  assert std.min() >= 1e-4 * (1 - 1e-6) and std.max() <= 0.975 * (1 + 1e-6)
  # log s ~ U(log 1e-4, log 0.975): P(s < x) = log(x / 1e-4) / log(0.975 / 1e-4).
  for x in (3e-4, 1e-3, 1e-2, 0.1, 0.5):
    np.testing.assert_allclose(np.mean(std < x), np.log(x / 1e-4) / np.log(0.975 / 1e-4), atol=0.004)
  np.testing.assert_allclose(level**2 + std**2, 1.0, atol=3e-7)
  # The paper's continuous level puts under 1 % of examples below s = 0.01 (the sampler's last 4 steps).
  d = paper_config.diffusion
  paper = np.asarray(diffusion.sample_noise_level(
      jax.random.key(0), diffusion.training_schedule(d.num_steps, d.beta_start, d.beta_end).levels,
      200_000), np.float64)
  assert np.mean(np.sqrt(1 - paper**2) < 0.01) < 0.01 < 0.4 < np.mean(std < 0.01)


def test_training_noise_level_mixes_the_papers_level_with_log_uniform_std(paper_config):
  d = paper_config.diffusion
  levels = diffusion.training_schedule(d.num_steps, d.beta_start, d.beta_end).levels
  rng = jax.random.key(3)
  level, std = diffusion.sample_training_noise_level(rng, levels, 1000)
  np.testing.assert_array_equal(level, diffusion.sample_noise_level(rng, levels, 1000))  # the paper's draws
  np.testing.assert_array_equal(std, jnp.sqrt(1.0 - level**2))  # as q_sample computes it
  level, std = diffusion.sample_training_noise_level(rng, levels, 200_000, 0.25, 1e-4, 0.975)
  # P(s < x) = 0.25 P_log-uniform(s < x) + 0.75 P_paper(s < x); the paper's level is never above 0.975.
  paper_std = np.sqrt(1 - np.asarray(diffusion.sample_noise_level(jax.random.key(4), levels, 200_000),
                                     np.float64)**2)
  for x in (1e-3, 1e-2, 0.5):
    expected = 0.25 * np.log(x / 1e-4) / np.log(0.975 / 1e-4) + 0.75 * np.mean(paper_std < x)
    np.testing.assert_allclose(np.mean(np.asarray(std) < x), expected, atol=0.005)
  np.testing.assert_allclose(np.asarray(level, np.float64)**2 + np.asarray(std, np.float64)**2, 1.0,
                             atol=3e-7)


def test_q_sample_uses_the_given_noise_std_where_the_level_rounds_to_one():
  clean, noise = jnp.full((1, 4), 0.25), jnp.ones((1, 4))
  level, std = diffusion.sample_log_uniform_noise_level(jax.random.key(0), 1e-4, 1.01e-4, 1)
  assert float(level[0]) == 1.0  # 1 - 5e-9 in float32
  np.testing.assert_allclose(diffusion.q_sample(clean, noise, level, std), 0.25 + float(std[0]), rtol=1e-7)
  np.testing.assert_array_equal(diffusion.q_sample(clean, noise, level), clean)


def test_q_sample_has_the_right_mean_and_variance():
  clean = jnp.array([[0.5, -1.0, 0.0]])
  level = jnp.array([0.6])
  noise = jax.random.normal(jax.random.key(1), (100_000, 3))
  noisy = diffusion.q_sample(jnp.broadcast_to(clean, (100_000, 3)), noise, jnp.full((100_000,), 0.6))
  np.testing.assert_allclose(noisy.mean(0), 0.6 * np.asarray(clean[0]), atol=0.01)
  np.testing.assert_allclose(noisy.var(0), 1 - 0.36, rtol=0.02)
  exact = diffusion.q_sample(clean, jnp.ones((1, 3)), level)
  np.testing.assert_allclose(exact, 0.6 * clean + 0.8, rtol=1e-6)


def test_log_l1_loss_is_the_batch_mean_of_log_per_example_l1():
  rng = np.random.default_rng(0)
  noise, noise_hat = rng.normal(size=(2, 4, 100)).astype(np.float32)
  expected = np.mean(np.log(np.abs(noise - noise_hat).mean(-1)))
  np.testing.assert_allclose(diffusion.loss(noise, noise_hat), expected, rtol=1e-5)
  np.testing.assert_allclose(diffusion.loss(noise, noise_hat, 'l1'), np.abs(noise - noise_hat).mean(),
                             rtol=1e-5)
  # A perfect prediction is clamped at log(1e-20), not -inf.
  np.testing.assert_allclose(diffusion.loss(noise, noise), np.log(1e-20), rtol=1e-6)
  with pytest.raises(ValueError, match='unknown loss'):
    diffusion.loss(noise, noise_hat, 'l2')


def test_reverse_step_equals_the_originals_posterior_form():
  """eps form (docs/reference.md §2) vs. posterior-mean form (predict y0, then q(y_{t-1} | y_t, y0)) in float64."""
  betas = np.array(default.PAPER_SAMPLING_BETAS)
  schedule = diffusion.make_schedule(betas)
  alpha_bars = np.cumprod(1 - betas)
  prev = np.concatenate([[1.0], alpha_bars[:-1]])
  rng = np.random.default_rng(2)
  y, eps_hat, z = rng.normal(size=(3, 2, 50))
  for t in (8, 5, 2, 1):
    ab, ab_prev, beta = alpha_bars[t - 1], prev[t - 1], betas[t - 1]
    y0 = (y - np.sqrt(1 - ab) * eps_hat) / np.sqrt(ab)
    mean = (beta * np.sqrt(ab_prev) * y0 + (1 - ab_prev) * np.sqrt(1 - beta) * y) / (1 - ab)
    var = beta * (1 - ab_prev) / (1 - ab)
    expected = mean + np.sqrt(var) * z
    got = diffusion.reverse_step(jnp.asarray(y, jnp.float32), jnp.asarray(eps_hat, jnp.float32),
                                 jnp.asarray(t), schedule, jnp.asarray(z, jnp.float32))
    np.testing.assert_allclose(got, expected, rtol=2e-4, atol=2e-4)


def test_make_schedule_rejects_bad_betas():
  with pytest.raises(ValueError, match='betas'):
    diffusion.make_schedule([0.1, 1.5])


def test_noise_stds_are_exact_where_the_float32_level_rounds():
  schedule = diffusion.make_schedule(default.PAPER_SAMPLING_BETAS)
  exact = np.sqrt(1 - np.cumprod(1 - np.array(default.PAPER_SAMPLING_BETAS)))
  np.testing.assert_allclose(schedule.noise_stds[1:], exact, rtol=1e-6)
  assert schedule.noise_stds[0] == 0.0
  # Why they are kept: from the float32 level, the last step's std (1e-3) comes out several % off.
  from_level = np.sqrt(1 - np.asarray(schedule.levels[1], np.float64)**2)
  assert abs(from_level / exact[0] - 1) > 0.01


def test_v_prediction_round_trips_to_the_noise_and_the_clean_signal():
  rng = np.random.default_rng(3)
  clean, noise = rng.normal(size=(2, 3, 400)).astype(np.float32)
  schedule = diffusion.make_schedule(default.PAPER_SAMPLING_BETAS)
  level, std = schedule.levels[jnp.array([1, 5, 8])], schedule.noise_stds[jnp.array([1, 5, 8])]
  noisy = diffusion.q_sample(clean, noise, level, std)
  v = diffusion.prediction_target(clean, noise, level, std, 'v')
  np.testing.assert_allclose(v, level[:, None] * noise - std[:, None] * clean, rtol=1e-6)
  # y = l y0 + s eps and l^2 + s^2 = 1: s y + l v = eps and l y - s v = y0.
  np.testing.assert_allclose(diffusion.noise_from_prediction(v, noisy, level, std, 'v'), noise,
                             atol=2e-5)
  np.testing.assert_allclose(level[:, None] * noisy - std[:, None] * v, clean, atol=2e-5)
  assert diffusion.prediction_target(clean, noise, level, std, 'eps') is noise
  with pytest.raises(ValueError, match="unknown prediction 'x0'"):
    diffusion.noise_from_prediction(v, noisy, level, std, 'x0')


def test_the_noisy_minus_condition_input_leaves_only_noise_and_the_missing_band():
  rate, time = 48000, 4800
  t = np.arange(time) / rate
  # Low tones: the condition's half-pixel interpolation delays it by one 48 kHz sample at x3, which
  # leaves 2 pi f / 48000 of a tone at f in y0 - y_c (13 % at 1 kHz).
  low = 0.4 * np.sin(2 * np.pi * 200 * t) + 0.2 * np.sin(2 * np.pi * 500 * t)
  high = 0.1 * np.sin(2 * np.pi * 15000 * t)
  clean = (low + high)[None].astype(np.float32)
  cond = conditioning.make_condition(clean, 3)
  noise = np.random.default_rng(0).normal(size=clean.shape).astype(np.float32)
  level, std = jnp.array([0.8]), jnp.array([0.6])
  noisy = diffusion.q_sample(clean, noise, level, std)
  assert diffusion.network_input(noisy, cond, level, 'noisy') is noisy
  signal = np.asarray(diffusion.network_input(noisy, cond, level, 'noisy_minus_condition')) - 0.6 * noise
  # What is left of l y0 once the noise is removed: its low band (< 8 kHz) is gone, its high band is not.
  def band(x, lo_hz, hi_hz):  # rms of the FFT bins in [lo_hz, hi_hz)
    return np.sqrt(np.mean(np.abs(np.fft.rfft(x[0])[lo_hz * time // rate:hi_hz * time // rate])**2))

  assert band(signal, 0, 8000) < 0.05 * band(0.8 * clean, 0, 8000)
  np.testing.assert_allclose(band(signal, 8000, 24000), band(0.8 * clean, 8000, 24000), rtol=0.02)
  with pytest.raises(ValueError, match="unknown network input 'clean'"):
    diffusion.network_input(noisy, cond, level, 'clean')
