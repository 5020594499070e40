"""Diffusion math of NU-Wave (docs/reference.md §2), as pure functions on arrays.

Symbols follow the paper: beta_t, alpha_t = 1 - beta_t, alpha_bar_t = prod_{s<=t} alpha_s, and the
noise level fed to the network l = sqrt(alpha_bar). Schedules are computed in float64 with numpy
and handed to JAX as float32 arrays: the last sampling levels differ from 1 only in the 6th decimal.
"""

from typing import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Schedule(NamedTuple):
  """A discrete schedule of T steps; index t-1 holds step t. All [T] float32 except `levels` [T+1].

  The reverse-step coefficients are precomputed in float64: in float32, 1 - alpha_bar_1 = 1e-6 would
  carry a 6 % error.
  """
  betas: jax.Array
  alpha_bars: jax.Array
  levels: jax.Array           # sqrt(alpha_bar_t) for t = 0..T, with alpha_bar_0 = 1
  noise_stds: jax.Array       # sqrt(1 - alpha_bar_t) for t = 0..T, from float64 (not from levels)
  noise_coefs: jax.Array      # beta_t / sqrt(1 - alpha_bar_t)
  inv_sqrt_alphas: jax.Array  # 1 / sqrt(alpha_t)
  # noise_scale x sqrt(beta_t (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)); 0 at t = 1
  sigmas: jax.Array


def make_schedule(betas, noise_scale: float = 1.0) -> Schedule:
  """Schedule from betas [T] (any sequence); products in float64.

  noise_scale multiplies the noise each ancestral step adds (sigma_t): 1 is the paper's sampler, 0
  adds none (each step goes to the posterior mean), in between a lower sampling temperature.
  """
  betas = np.asarray(betas, np.float64)
  if betas.ndim != 1 or not np.all((betas > 0) & (betas < 1)):
    raise ValueError(f'betas must be a 1-D sequence in (0, 1), got {betas}')
  if not 0.0 <= noise_scale <= 1.0:
    raise ValueError(f'sample.noise_scale must be in [0, 1], got {noise_scale}')
  alphas = 1.0 - betas
  alpha_bars = np.cumprod(alphas)
  one_minus_alpha_bars = -np.expm1(np.cumsum(np.log1p(-betas)))  # 1 - alpha_bar without cancellation
  one_minus_alpha_bars_prev = np.concatenate([[0.0], one_minus_alpha_bars[:-1]])
  sigmas = noise_scale * np.sqrt(betas * one_minus_alpha_bars_prev / one_minus_alpha_bars)
  f32 = lambda a: jnp.asarray(a, jnp.float32)
  return Schedule(betas=f32(betas), alpha_bars=f32(alpha_bars),
                  levels=f32(np.sqrt(np.concatenate([[1.0], alpha_bars]))),
                  noise_stds=f32(np.sqrt(np.concatenate([[0.0], one_minus_alpha_bars]))),
                  noise_coefs=f32(betas / np.sqrt(one_minus_alpha_bars)),
                  inv_sqrt_alphas=f32(1.0 / np.sqrt(alphas)), sigmas=f32(sigmas))


def training_betas(num_steps: int, beta_start: float, beta_end: float) -> np.ndarray:
  """The linear training betas, from beta_start to beta_end over num_steps (paper: 1e-6..0.006, T=1000)."""
  return np.linspace(beta_start, beta_end, num_steps)


def training_schedule(num_steps: int, beta_start: float, beta_end: float) -> Schedule:
  """The linear training schedule (`training_betas`)."""
  return make_schedule(training_betas(num_steps, beta_start, beta_end))


def largest_noise_std(betas) -> float:
  """sqrt(1 - alpha_bar_T) of a schedule's betas, in float64 numpy (no JAX computation): 0.975 for
  the paper's training schedule."""
  return float(np.sqrt(-np.expm1(np.sum(np.log1p(-np.asarray(betas, np.float64))))))


def sample_noise_level(rng: jax.Array, levels: jax.Array, batch: int) -> jax.Array:
  """WaveGrad's continuous level: s ~ U{1..T}, l ~ U(levels[s], levels[s-1]). -> [batch] float32."""
  step_rng, uniform_rng = jax.random.split(rng)
  num_steps = levels.shape[0] - 1
  s = jax.random.randint(step_rng, (batch,), 1, num_steps + 1)
  u = jax.random.uniform(uniform_rng, (batch,), jnp.float32)
  return levels[s - 1] * u + levels[s] * (1.0 - u)


def sample_log_uniform_noise_level(rng: jax.Array, noise_std_min: float, noise_std_max: float,
                                   batch: int) -> tuple[jax.Array, jax.Array]:
  """Noise std s with log s ~ U(log min, log max), level l = sqrt(1 - s^2). -> (l, s), [batch] float32.

  s is returned beside l: below s ~ 3e-4, l rounds to 1 in float32 and sqrt(1 - l^2) would lose it.
  """
  log_std = jax.random.uniform(rng, (batch,), jnp.float32, np.log(noise_std_min), np.log(noise_std_max))
  noise_std = jnp.exp(log_std)
  return jnp.sqrt(1.0 - noise_std**2), noise_std


def sample_training_noise_level(rng: jax.Array, levels: jax.Array, batch: int,
                                log_uniform_fraction: float = 0.0, noise_std_min: float = 1e-4,
                                noise_std_max: float = 1.0) -> tuple[jax.Array, jax.Array]:
  """(l, s) per training example, [batch] float32 each, with s the noise std.

  WaveGrad's continuous level over `levels` (the paper), except that a random `log_uniform_fraction`
  of the examples take s log-uniform between noise_std_min and noise_std_max. The paper's
  level puts under 1 % of examples below s = 0.01, where the 8-step sampler's last four steps work;
  each decade of a log-uniform s gets the same share. With fraction 0 the draws are the paper's.
  """
  if log_uniform_fraction == 0.0:
    level = sample_noise_level(rng, levels, batch)
    return level, jnp.sqrt(1.0 - level**2)
  paper_rng, log_uniform_rng, choice_rng = jax.random.split(rng, 3)
  paper_level = sample_noise_level(paper_rng, levels, batch)
  level, std = sample_log_uniform_noise_level(log_uniform_rng, noise_std_min, noise_std_max, batch)
  use_log_uniform = jax.random.uniform(choice_rng, (batch,)) < log_uniform_fraction
  return (jnp.where(use_log_uniform, level, paper_level),
          jnp.where(use_log_uniform, std, jnp.sqrt(1.0 - paper_level**2)))


def q_sample(clean: jax.Array, noise: jax.Array, noise_level: jax.Array,
             noise_std: jax.Array | None = None) -> jax.Array:
  """y_noisy = l * y0 + s * eps with s = sqrt(1 - l^2) unless given. clean, noise: [batch, time];
  noise_level, noise_std: [batch]."""
  level = noise_level[:, None]
  std = jnp.sqrt(1.0 - level**2) if noise_std is None else noise_std[:, None]
  return level * clean + std * noise


# What the network's output means: 'eps' the noise (the paper) or 'v' = l eps - s y0 (Salimans & Ho,
# 2022). The clean estimate from eps is (y_t - s eps_hat) / l: at the top levels the network must copy
# the noise's rare large values, and its errors there reach the clean estimate amplified s / l ~ 3x.
# From v it is l y_t - s v_hat, with the noise only l times as large in the target.
# What the network sees in place of y_t: 'noisy' y_t itself (the paper) or 'noisy_minus_condition'
# y_t - l y_c, the part of y_t that the condition y_c does not explain. There the low band is mostly noise
# (y0 ~ y_c there), so the network does not have to cancel the condition's large low band to find the
# noise in it (up to the condition's one-sample delay at x3, from the paper's half-pixel interpolation).
# The condition still enters through its own path.


def prediction_target(clean: jax.Array, noise: jax.Array, noise_level: jax.Array,
                      noise_std: jax.Array, prediction: str) -> jax.Array:
  """What the network learns to output: eps, or v = l eps - s y0. clean, noise: [batch, time];
  noise_level, noise_std: [batch]."""
  if prediction == 'eps':
    return noise
  if prediction == 'v':
    return noise_level[:, None] * noise - noise_std[:, None] * clean
  raise ValueError(f'unknown prediction {prediction!r}')


def noise_from_prediction(output: jax.Array, noisy: jax.Array, noise_level: jax.Array,
                          noise_std: jax.Array, prediction: str) -> jax.Array:
  """eps_hat from the network's output: itself, or s y_t + l v_hat. output, noisy: [batch, time];
  noise_level, noise_std: [batch]."""
  if prediction == 'eps':
    return output
  if prediction == 'v':
    return noise_std[:, None] * noisy + noise_level[:, None] * output
  raise ValueError(f'unknown prediction {prediction!r}')


def network_input(noisy: jax.Array, cond: jax.Array, noise_level: jax.Array, kind: str) -> jax.Array:
  """The network's first input: y_t ('noisy') or y_t - l y_c ('noisy_minus_condition'). noisy, cond:
  [batch, time]; noise_level: [batch]."""
  if kind == 'noisy':
    return noisy
  if kind == 'noisy_minus_condition':
    return noisy - noise_level[:, None] * cond
  raise ValueError(f'unknown network input {kind!r}')


# network(x, level, std) -> output: the network with its condition bound, x what network_input gives.
Network = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
# (y_t [batch, time], level [batch], noise std [batch]) -> eps_hat [batch, time]
Denoiser = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]


def make_denoiser(network: Network, cond: jax.Array, prediction: str, input_kind: str) -> Denoiser:
  """The denoiser eps_hat(y_t, l, s) of a network: what every sampler and diagnostic calls.

  The one place where the network's input (`input_kind`, config.model.network_input) and the meaning
  of its output (`prediction`, config.model.prediction) are applied around it. cond: [batch, time].
  """
  def denoise(noisy, noise_level, noise_std):
    output = network(network_input(noisy, cond, noise_level, input_kind), noise_level, noise_std)
    return noise_from_prediction(output, noisy, noise_level, noise_std, prediction)

  return denoise


def per_example_l1(noise: jax.Array, noise_hat: jax.Array) -> jax.Array:
  """mean_t |eps - eps_hat| per example: [batch, time] -> [batch]."""
  return jnp.abs(noise - noise_hat).mean(axis=-1)


def loss(noise: jax.Array, noise_hat: jax.Array, kind: str = 'log_l1') -> jax.Array:
  """The training loss, a scalar. 'log_l1' (NU-Wave): mean over the batch of log(max(L1, 1e-20));
  'l1' (NU-Wave 2): mean of L1."""
  l1 = per_example_l1(noise.astype(jnp.float32), noise_hat.astype(jnp.float32))
  if kind == 'log_l1':
    return jnp.log(jnp.maximum(l1, 1e-20)).mean()
  if kind == 'l1':
    return l1.mean()
  raise ValueError(f'unknown loss {kind!r}')


def reverse_step(noisy: jax.Array, noise_hat: jax.Array, t: jax.Array, schedule: Schedule,
                 z: jax.Array) -> jax.Array:
  """One ancestral DDPM step y_t -> y_{t-1} (paper Algorithm 2); t is 1-based, z ~ N(0, I).

  y_{t-1} = (y_t - beta_t / sqrt(1 - alpha_bar_t) * eps_hat) / sqrt(alpha_t) + sigma_t z,
  sigma_t^2 = beta_t (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t), and no noise at t = 1.
  """
  i = t - 1
  mean = (noisy - schedule.noise_coefs[i] * noise_hat) * schedule.inv_sqrt_alphas[i]
  return mean + schedule.sigmas[i] * z
