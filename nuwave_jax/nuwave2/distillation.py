"""Few-step NU-Wave 2 samplers: progressive distillation of the DDIM sampler (Salimans & Ho, ICLR 2022;
docs/reference.md §9), and a fine-tune of the few-step sampler against the ground truth.

A stage halves a grid of log-SNRs: the teacher samples on [l_0, l_1, ..., l_{N-1}] (each step to the
next, the last to lambda_max), the student on [l_0, l_2, ...], so student step j goes from l_{2j} to
l_{2j+2} where the teacher takes two DDIM steps, l_{2j} -> l_{2j+1} -> l_{2j+2}. Per example, a step j
and its state z_t are drawn, the teacher's two steps give z_s, and the student's clean estimate is
trained towards the x for which one DDIM step from z_t lands on z_s:
  x~ = (z_s - (sigma_s / sigma_t) z_t) / (alpha_s - (sigma_s / sigma_t) alpha_t),
or on the last step (to lambda_max, nearly clean) the teacher's own last clean estimate; eps~ = (z_t -
alpha_t x~) / sigma_t; the loss is SNR-truncated, per example the larger of the mean squared x and
eps errors. The states are where the sampler goes: its first step starts from pure noise,
noise_scale * N(0, I), not from the forward marginal; a later step's state is alpha_t y0 + noise_scale
sigma_t eps (the DDIM carries the starting noise's scale along). The teacher's `sample.keep_band`
projection is applied to every clean estimate, the teacher's and the student's, as the sampler does.

The fine-tune unrolls the student's sampler from noise to its output (the clamp included) and
compares it with the audio: a multi-resolution log-power L1 plus a waveform L1 (`audio_losses`).
"""

import jax
import jax.numpy as jnp
import numpy as np

from nuwave_jax import audio_losses
from nuwave_jax.nuwave2 import diffusion
from nuwave_jax.nuwave2 import sampling


def halve(log_snrs) -> tuple[float, ...]:
  """The student's grid: every other of the teacher's step log-SNRs. A ValueError unless their
  number is even (and at least 2)."""
  log_snrs = tuple(float(x) for x in log_snrs)
  if len(log_snrs) < 2 or len(log_snrs) % 2:
    raise ValueError(f'a grid of {len(log_snrs)} steps {log_snrs} does not halve: progressive distillation '
                     'needs an even number of steps')
  return log_snrs[::2]


def ddim_target(z_t: jax.Array, z_s: jax.Array, logsnr_t: jax.Array, logsnr_s: jax.Array) -> jax.Array:
  """The clean estimate x~ for which one DDIM step from z_t (at lambda_t) lands on z_s (at lambda_s):
  (z_s - (sigma_s / sigma_t) z_t) / (alpha_s - (sigma_s / sigma_t) alpha_t). z_t, z_s [batch, time];
  log-SNRs [batch]."""
  alpha_t, sigma_t = diffusion.alpha_sigma(logsnr_t[:, None])
  alpha_s, sigma_s = diffusion.alpha_sigma(logsnr_s[:, None])
  ratio = sigma_s / sigma_t
  return (z_s - ratio * z_t) / (alpha_s - ratio * alpha_t)


def snr_truncated_loss(clean_hat, noise_hat, clean_target, noise_target) -> jax.Array:
  """The batch mean of max(mean (x_hat - x~)^2, mean (eps_hat - eps~)^2), per example over time:
  x's error weighted by max(SNR, 1). [batch, time] each -> a scalar."""
  clean_error = jnp.mean(jnp.square(clean_hat - clean_target), axis=-1)
  noise_error = jnp.mean(jnp.square(noise_hat - noise_target), axis=-1)
  return jnp.mean(jnp.maximum(clean_error, noise_error))


class _Sampler:
  """The pieces of NU-Wave 2's sampler for one config, as `sampling.make_sample_fn` assembles them."""

  def __init__(self, config, module):
    d, s = config.diffusion, config.sample
    self.module, self.prediction = module, config.model.prediction
    self.logsnr_min, self.logsnr_max = d.logsnr_min, d.logsnr_max
    self.minus_condition = d.target == 'signal_minus_condition'
    self.keep_band, self.noise_scale = s.keep_band, s.noise_scale

  def clean(self, batch):
    """What is diffused: the audio, or the audio minus its condition."""
    return batch['audio'] - batch['condition'] if self.minus_condition else batch['audio']

  def denoiser(self, params, cond, band_mask):
    variables = {'params': params}
    features = self.module.apply(variables, band_mask, method='bsft_features')
    return sampling.make_denoiser(self.module, variables, cond, features, self.logsnr_min, self.logsnr_max,
                                  self.prediction)

  def project(self, cond, band_mask):
    """The sampler's projection of a clean estimate (sample.keep_band), or None."""
    if not self.keep_band:
      return None
    given = jnp.zeros_like(cond) if self.minus_condition else cond
    return lambda clean: sampling.keep_given_band(clean, given, band_mask.astype(clean.dtype))


def make_objective(config, module, teacher_log_snrs):
  """(examples, loss) of a distillation stage whose student samples on config.sample.log_snrs, half of
  `teacher_log_snrs` (`halve`). examples(rng, batch, teacher_params) -> (rng, (z_t, cond, band_mask,
  lambda_t, x~, eps~)); loss(params, *examples) -> the SNR-truncated loss (module docstring)."""
  d = config.diffusion
  student_grid = np.asarray(config.sample.log_snrs, np.float64)
  teacher_grid = np.asarray(teacher_log_snrs, np.float64)
  if not np.array_equal(np.asarray(halve(teacher_grid)), student_grid):
    raise ValueError(f'sample.log_snrs {tuple(student_grid)} is not half of the teacher\'s {tuple(teacher_grid)}')
  extended = np.concatenate([teacher_grid, [d.logsnr_max]])
  starts = jnp.asarray(extended[0:-1:2], jnp.float32)   # lambda_t of student step j: l_2j
  middles = jnp.asarray(extended[1::2], jnp.float32)    # l_2j+1
  ends = jnp.asarray(extended[2::2], jnp.float32)       # l_2j+2 (the last: lambda_max)
  steps = len(student_grid)
  sampler = _Sampler(config, module)

  def examples(rng, batch, teacher_params):
    clean, cond, band_mask = sampler.clean(batch), batch['condition'], batch['band_mask']
    rng, step_rng, noise_rng = jax.random.split(rng, 3)
    j = jax.random.randint(step_rng, (clean.shape[0],), 0, steps)
    logsnr_t, logsnr_mid, logsnr_s = starts[j], middles[j], ends[j]
    noise = sampler.noise_scale * jax.random.normal(noise_rng, clean.shape, jnp.float32)
    alpha_t, sigma_t = diffusion.alpha_sigma(logsnr_t[:, None])
    z_t = jnp.where((j == 0)[:, None], noise, alpha_t * clean + sigma_t * noise)
    denoise = sampler.denoiser(teacher_params, cond, band_mask)
    project = sampler.project(cond, band_mask)
    z_mid = diffusion.ddim_step(z_t, denoise(z_t, logsnr_t), logsnr_t, logsnr_mid, project)
    last_clean, last_noise = diffusion.estimates(z_mid, denoise(z_mid, logsnr_mid), logsnr_mid, project)
    alpha_s, sigma_s = diffusion.alpha_sigma(logsnr_s[:, None])
    z_s = alpha_s * last_clean + sigma_s * last_noise
    clean_target = jnp.where((j == steps - 1)[:, None], last_clean, ddim_target(z_t, z_s, logsnr_t, logsnr_s))
    noise_target = (z_t - alpha_t * clean_target) / sigma_t
    return rng, (z_t, cond, band_mask, logsnr_t, clean_target, noise_target)

  def loss(params, z_t, cond, band_mask, logsnr_t, clean_target, noise_target):
    noise_hat = sampler.denoiser(params, cond, band_mask)(z_t, logsnr_t)
    clean_hat, noise_hat = diffusion.estimates(z_t, noise_hat, logsnr_t, sampler.project(cond, band_mask))
    return snr_truncated_loss(clean_hat, noise_hat, clean_target, noise_target)

  return examples, loss


def make_finetune_objective(config, module, n_ffts=(512, 1024, 2048), waveform_weight: float = 1.0):
  """(examples, loss) of the fine-tune: examples(rng, batch) -> (rng, (starting noise, cond, band_mask,
  audio)); loss(params, *examples) -> log_spectral_l1 + waveform_weight * waveform_l1 of the sampler's
  output on config.sample.log_snrs (unrolled from that noise, clamp included) against the audio."""
  sampler = _Sampler(config, module)
  d = config.diffusion
  schedule = diffusion.make_schedule(config.sample.log_snrs, None, d.logsnr_min, d.logsnr_max)

  def examples(rng, batch):
    rng, noise_rng = jax.random.split(rng)
    initial = sampler.noise_scale * jax.random.normal(noise_rng, batch['audio'].shape, jnp.float32)
    return rng, (initial, batch['condition'], batch['band_mask'], batch['audio'])

  def loss(params, initial, cond, band_mask, audio):
    offset = cond if sampler.minus_condition else 0.0
    output = diffusion.ddim_sample(sampler.denoiser(params, cond, band_mask), initial, schedule, offset,
                                   sampler.project(cond, band_mask))
    return (audio_losses.log_spectral_l1(output, audio, n_ffts)
            + waveform_weight * audio_losses.waveform_l1(output, audio))

  return examples, loss
