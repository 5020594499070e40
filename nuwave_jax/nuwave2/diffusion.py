"""NU-Wave 2's diffusion (docs/reference.md §8), as pure functions on arrays: a continuous-time
log-SNR schedule, plain L1 on eps, and the deterministic DDIM sampler.

Symbols follow the paper: t in [0, 1], lambda(t) = -2 log tan(a t + b) with b = atan(exp(-lambda_max / 2))
and a = atan(exp(-lambda_min / 2)) - b, so lambda(0) = lambda_max and lambda(1) = lambda_min;
alpha^2 = sigmoid(lambda), sigma^2 = sigmoid(-lambda) (alpha^2 + sigma^2 = 1); y_t = alpha y0 + sigma eps.
The network embeds n = (lambda_max - lambda) / (lambda_max - lambda_min), 0 for clean and 1 for noise.
"""

import math
from typing import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

# The published 8-step schedule (hparameter.yaml dpm.infer_schedule): each step's lambda_t; the last
# step goes to lambda_max.
PAPER_LOG_SNRS = (-2.6, -0.8, 2.0, 6.4, 9.8, 12.9, 14.4, 17.2)
# The output is clamped to [-1, 1 - 2^-10) as the original does (1 - float16 epsilon).
CLAMP = (-1.0, 1.0 - 2.0**-10)


def cosine_log_snr(t: jax.Array, logsnr_min: float, logsnr_max: float) -> jax.Array:
  """lambda(t) for t in [0, 1]: [batch] -> [batch] float32."""
  b = math.atan(math.exp(-logsnr_max / 2))
  a = math.atan(math.exp(-logsnr_min / 2)) - b
  return -2.0 * jnp.log(jnp.tan(a * t + b))


def alpha_sigma(logsnr: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(alpha, sigma) = (sqrt sigmoid(lambda), sqrt sigmoid(-lambda)), the shape of logsnr."""
  return jnp.sqrt(jax.nn.sigmoid(logsnr)), jnp.sqrt(jax.nn.sigmoid(-logsnr))


def normalized_log_snr(logsnr: jax.Array, logsnr_min: float, logsnr_max: float) -> jax.Array:
  """The normalised negative log-SNR the network embeds, (lambda_max - lambda) / (max - min): 0 clean,
  1 noise."""
  return (logsnr_max - logsnr) / (logsnr_max - logsnr_min)


def training_times(rng: jax.Array, batch: int) -> jax.Array:
  """Low-discrepancy times t_i = (u + i / batch) mod 1, u ~ U(0, 1): one per example, evenly spread.
  -> [batch] float32."""
  u = jax.random.uniform(rng, (), jnp.float32)
  return jnp.mod(u + jnp.arange(batch, dtype=jnp.float32) / batch, 1.0)


def q_sample(clean: jax.Array, noise: jax.Array, logsnr: jax.Array) -> jax.Array:
  """y = alpha y0 + sigma eps. clean, noise [batch, time]; logsnr [batch]."""
  alpha, sigma = alpha_sigma(logsnr)
  return alpha[:, None] * clean + sigma[:, None] * noise


def loss(target: jax.Array, output: jax.Array) -> jax.Array:
  """Plain L1 (on eps, or on v), the mean over every sample of the batch: a scalar."""
  return jnp.mean(jnp.abs(target.astype(jnp.float32) - output.astype(jnp.float32)))


def velocity(clean: jax.Array, noise: jax.Array, logsnr: jax.Array) -> jax.Array:
  """v = alpha eps - sigma y0, the target of model.prediction 'v'. [batch, time]; logsnr [batch]."""
  alpha, sigma = alpha_sigma(logsnr)
  return alpha[:, None] * noise - sigma[:, None] * clean


def noise_from_velocity(noisy: jax.Array, v: jax.Array, logsnr: jax.Array) -> jax.Array:
  """eps = sigma y_t + alpha v (from y_t = alpha y0 + sigma eps and alpha^2 + sigma^2 = 1)."""
  alpha, sigma = alpha_sigma(logsnr)
  return sigma[:, None] * noisy + alpha[:, None] * v


class Schedule(NamedTuple):
  """The DDIM steps: step i goes from log-SNR logsnr_t[i] to logsnr_s[i] (both [steps] float32)."""
  logsnr_t: jax.Array
  logsnr_s: jax.Array


def make_schedule(log_snrs=None, steps: int | None = None, logsnr_min: float = -20.0,
                  logsnr_max: float = 20.0) -> Schedule:
  """The published schedule (log_snrs: each step's lambda_t, the last step to lambda_max), or, with
  `steps`, the uniform grid lambda_min + i h, h = (max - min) / steps, as the original's other step
  counts."""
  if (log_snrs is None) == (steps is None):
    raise ValueError('give either the log-SNRs of the steps or a number of steps')
  if log_snrs is None:
    if steps < 1:
      raise ValueError(f'steps must be at least 1, got {steps}')
    grid = logsnr_min + np.arange(steps + 1) * (logsnr_max - logsnr_min) / steps
    t, s = grid[:-1], grid[1:]
  else:
    t = np.asarray(log_snrs, np.float64)
    if t.ndim != 1 or not len(t) or np.any(np.diff(t) <= 0) or t[0] < logsnr_min or t[-1] >= logsnr_max:
      raise ValueError(f'log-SNRs must increase within [{logsnr_min}, {logsnr_max}), got {log_snrs}')
    s = np.concatenate([t[1:], [logsnr_max]])
  return Schedule(jnp.asarray(t, jnp.float32), jnp.asarray(s, jnp.float32))


def estimates(noisy: jax.Array, noise_hat: jax.Array, logsnr: jax.Array,
              project: Callable[[jax.Array], jax.Array] | None = None) -> tuple[jax.Array, jax.Array]:
  """(y0_hat, eps_hat) at log-SNR lambda: y0_hat = (y - sigma eps_hat) / alpha, `project` (y0_hat ->
  y0_hat) applied to it if given (the given band, with sample.keep_band), and then the eps_hat that
  estimate implies, (y - alpha y0_hat) / sigma. noisy, noise_hat [batch, time]; logsnr a scalar or
  [batch]."""
  alpha, sigma = alpha_sigma(jnp.asarray(logsnr)[..., None])
  clean = (noisy - sigma * noise_hat) / alpha
  if project is not None:
    clean = project(clean)
    noise_hat = (noisy - alpha * clean) / sigma
  return clean, noise_hat


def ddim_step(noisy: jax.Array, noise_hat: jax.Array, logsnr_t: jax.Array, logsnr_s: jax.Array,
              project: Callable[[jax.Array], jax.Array] | None = None) -> jax.Array:
  """One deterministic DDIM step: y_s = alpha_s y0_hat + sigma_s eps_hat from the `estimates` at
  lambda_t. noisy, noise_hat [batch, time]; log-SNRs scalars or [batch]."""
  clean, noise_hat = estimates(noisy, noise_hat, logsnr_t, project)
  alpha_s, sigma_s = alpha_sigma(jnp.asarray(logsnr_s)[..., None])
  return alpha_s * clean + sigma_s * noise_hat


# (y [batch, time], logsnr [batch]) -> eps_hat [batch, time]
Denoiser = Callable[[jax.Array, jax.Array], jax.Array]


def ddim_sample(denoise: Denoiser, initial: jax.Array, schedule: Schedule, offset=0.0,
                project: Callable[[jax.Array], jax.Array] | None = None) -> jax.Array:
  """From y ~ N(0, I) (`initial`, [batch, time]) through the schedule's steps as one lax.scan, then
  `offset` added (the condition, when the target is the signal minus it, [batch, time]) and the
  original's clamp. `project`, if
  given, is applied to every step's clean estimate (`ddim_step`) and to the result. -> [batch, time]
  float32."""
  def step(y, logsnrs):
    logsnr_t, logsnr_s = logsnrs
    noise_hat = denoise(y, jnp.broadcast_to(logsnr_t, y.shape[:1]))
    return ddim_step(y, noise_hat, logsnr_t, logsnr_s, project), None

  y, _ = jax.lax.scan(step, initial, (schedule.logsnr_t, schedule.logsnr_s))
  if project is not None:
    y = project(y)
  return jnp.clip(y + offset, *CLAMP)
