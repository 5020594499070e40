"""NU-Wave as a `families.Family`: one input rate (48 kHz / data.ratio), the paper's condition
(an STFT low-pass, decimation, half-pixel linear interpolation) and its ancestral sampler."""

import jax
import jax.numpy as jnp
import numpy as np

from nuwave_jax import families
from nuwave_jax import input_band
from nuwave_jax.configuration import SAMPLE_RATE_HZ
from nuwave_jax.configuration import positive_int
from nuwave_jax.data import audio as audio_io
from nuwave_jax.nuwave import conditioning
from nuwave_jax.nuwave import diffusion
from nuwave_jax.nuwave import model
from nuwave_jax.nuwave import sampling
from nuwave_jax.nuwave import torch_keys


class NuWave(families.Family):
  name = 'nuwave'
  title = 'NU-Wave'
  input_baseline = 'linear interpolation'
  choices = {'model.kernels': ('auto', 'plain', 'cpu'), 'model.noise_input': ('level', 'log_snr'),
             'model.prediction': ('eps', 'v'), 'model.network_input': ('noisy', 'noisy_minus_condition'),
             'diffusion.loss': ('log_l1', 'l1')}
  torch_keys = torch_keys.TORCH_KEYS
  # At the paper's 32768-sample segments: 8 rows in 9.8 of 16 GiB (v5e), 16 in 19.6 of 32 (v6e).
  samples_that_fit = {16: 8 * 32768, 32: 16 * 32768}

  # Fields added after the first checkpoints: what a saved config without them meant.
  ADDED = {'model': {'name': 'nuwave', 'noise_input': 'level', 'prediction': 'eps', 'network_input': 'noisy',
                     'kernels': 'auto'},
           'sample': {'noise_scale': 1.0}}
  RENAMED_VALUES = {('model', 'network_input'): {'residual': 'noisy_minus_condition'}}

  def config_checks(self, config) -> list:
    m, f, d, s = config.model, config.diffusion, config.data, config.sample
    largest_noise_std = lambda: diffusion.largest_noise_std(
        diffusion.training_betas(f.num_steps, f.beta_start, f.beta_end))
    return [
        (lambda: positive_int(m.dilation_cycle), 'model.dilation_cycle', 'an integer >= 1'),
        (lambda: positive_int(m.kernel_size) and m.kernel_size % 2 == 1, 'model.kernel_size',
         "an odd integer (the original's 'same' padding)"),
        (lambda: positive_int(f.num_steps), 'diffusion.num_steps', 'an integer >= 1'),
        (lambda: 0 < f.beta_start <= f.beta_end < 1, 'diffusion.beta_start',
         f'in (0, diffusion.beta_end = {f.beta_end}]'),
        (lambda: 0.0 <= f.log_uniform_fraction <= 1.0, 'diffusion.log_uniform_fraction', 'in [0, 1]'),
        (lambda: f.log_uniform_fraction == 0 or 0 < f.noise_std_min < largest_noise_std(),
         'diffusion.noise_std_min', "below the training schedule's largest noise std, and positive"),
        (lambda: isinstance(d.ratio, int) and d.ratio >= 2, 'data.ratio', 'an integer >= 2 (2: 24 -> 48 kHz)'),
        (lambda: d.segment_samples >= d.ratio, 'data.segment_samples', f'at least data.ratio ({d.ratio})'),
        (lambda: positive_int(d.lowpass_n_fft) and positive_int(d.lowpass_hop)
         and d.lowpass_hop <= d.lowpass_n_fft, 'data.lowpass_hop',
         f'an integer in [1, data.lowpass_n_fft = {d.lowpass_n_fft}]'),
        (lambda: len(s.betas) >= 1 and all(0 < b < 1 for b in s.betas), 'sample.betas',
         'a sequence of betas in (0, 1)'),
        (lambda: 0.0 <= s.noise_scale <= 1.0, 'sample.noise_scale', 'in [0, 1]'),
    ]

  def upgrade_saved_config(self, config) -> None:
    families.upgrade_config(config, self.ADDED, self.RENAMED_VALUES)

  def build_model(self, config):
    return model.build_model(config)

  def init_params(self, module, rng):
    return model.init_params(module, rng)

  def make_objective(self, config, module):
    """Per example a noise level as config.diffusion draws it (§3), y_t = l y0 + s eps, the network's
    input and target as config.model says, and the configured loss."""
    d = config.diffusion
    betas = diffusion.training_betas(d.num_steps, d.beta_start, d.beta_end)
    levels, max_noise_std = diffusion.make_schedule(betas).levels, diffusion.largest_noise_std(betas)
    prediction, input_kind = config.model.prediction, config.model.network_input

    def examples(rng, batch):
      audio, cond = batch['audio'], batch['condition']
      rng, level_rng, noise_rng = jax.random.split(rng, 3)
      noise_level, noise_std = diffusion.sample_training_noise_level(
          level_rng, levels, audio.shape[0], d.log_uniform_fraction, d.noise_std_min, max_noise_std)
      noise = jax.random.normal(noise_rng, audio.shape, jnp.float32)
      noisy = diffusion.network_input(diffusion.q_sample(audio, noise, noise_level, noise_std), cond,
                                      noise_level, input_kind)
      target = diffusion.prediction_target(audio, noise, noise_level, noise_std, prediction)
      return rng, (noisy, cond, noise_level, noise_std, target)

    def loss(params, noisy, cond, noise_level, noise_std, target):
      output = module.apply({'params': params}, noisy, cond, noise_level, noise_std)
      return diffusion.loss(target, output, d.loss)

    return examples, loss

  def training_condition_tf(self) -> families.TrainingConditionTF:
    from nuwave_jax.nuwave import conditioning_tf  # TensorFlow: only for the pipeline
    return families.TrainingConditionTF(per_example=None, per_batch=conditioning_tf.add_condition)

  def make_sampler(self, config, module) -> families.Sampler:
    s = config.sample
    schedule = diffusion.make_schedule(s.betas, s.noise_scale)
    sample = sampling.make_sample_fn(module, config.model.prediction, config.model.network_input)
    return families.Sampler(sample, schedule, len(s.betas))

  def sampling_overrides(self, config, schedule: str | None, steps: int | None) -> list[str]:
    """--schedule 'paper' (the 8 steps), 'training' (all T, from config.diffusion) or b1,b2,..."""
    if steps is not None:
      raise ValueError('--steps: not for a NU-Wave checkpoint (use --schedule)')
    if schedule in (None, 'paper'):
      return []
    if schedule == 'training':
      d = config.diffusion
      betas = diffusion.training_betas(d.num_steps, d.beta_start, d.beta_end)
      return [f'sample.betas={tuple(float(b) for b in betas)}']
    try:
      return [f'sample.betas={tuple(float(b) for b in schedule.split(","))}']
    except ValueError:
      raise ValueError(f"--schedule {schedule!r}: use 'paper', 'training' or comma-separated betas") from None

  def input_rate_hz(self, config) -> int:
    return config.data.sample_rate_hz // config.data.ratio

  def check_input_rate(self, config, rate: int) -> None:
    if rate != self.input_rate_hz(config):
      raise families.InputError(f'this checkpoint upsamples {self.describe_input_rates(config)} only, '
                                f'not {rate} Hz')

  def eval_rates(self, config) -> tuple[int, ...]:
    return (self.input_rate_hz(config),)

  def describe_input_rates(self, config) -> str:
    return f'{self.input_rate_hz(config)} Hz (x{config.data.ratio})'

  def trim_multiple(self, config) -> int:
    return config.data.ratio

  def simulate(self, config, reference: np.ndarray, input_rate_hz: int) -> families.Condition:
    """Made as the model was trained (§4): the STFT low-pass, decimation, linear interpolation."""
    self.check_input_rate(config, input_rate_hz)
    d = config.data
    low = conditioning.low_rate_signal(reference, d.ratio, d.lowpass_n_fft, d.lowpass_hop)
    cond = conditioning.upsample_linear(low, d.ratio, reference.shape[-1])
    return families.Condition(cond, input_band.to_48k(low, input_rate_hz, cond.shape[1]), input_rate_hz / 2)

  def check_bandwidth(self, config, bandwidth: float | str | None) -> None:
    if bandwidth is not None:
      raise ValueError(f'--bandwidth: a NU-Wave checkpoint takes the band of its one input rate '
                       f'({self.describe_input_rates(config)}); --bandwidth is for NU-Wave 2')

  def condition_from_file(self, config, audio: np.ndarray, rate: int, path, resample: bool = False,
                          bandwidth: float | str | None = None) -> tuple[families.Condition, str]:
    """A file at the input rate is the decimated signal of training: linear interpolation brings it to
    48 kHz. (The original's script resampled real inputs with librosa instead, a train/test mismatch
    that left its users with no upsampling.) resample: other rates are resampled to the input rate
    first (soxr)."""
    self.check_bandwidth(config, bandwidth)
    input_rate, ratio = self.input_rate_hz(config), config.data.ratio
    if rate == SAMPLE_RATE_HZ:
      raise families.InputError(f'{path}: already {rate} Hz; pass --simulate to treat it as ground truth and '
                                f'upsample its simulated version at {input_rate} Hz')
    if rate != input_rate:
      if not resample:
        raise families.InputError(f'{path}: {rate} Hz, but this checkpoint upsamples {input_rate} Hz '
                                  f'(x{ratio}); pass --resample to resample it to {input_rate} Hz')
      audio = audio_io.resample(audio, rate, input_rate)
      if audio.shape[1] == 0:
        raise families.InputError(f'{path}: too short to resample: no sample is left at {input_rate} Hz')
    audio = np.ascontiguousarray(audio, np.float32)
    cond = conditioning.upsample_linear(audio, ratio)
    return families.Condition(cond, input_band.to_48k(audio, input_rate, cond.shape[1]), input_rate / 2), ''


FAMILY = NuWave()
