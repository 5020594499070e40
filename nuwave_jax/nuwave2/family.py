"""NU-Wave 2 as a `families.Family`: any input rate from 6 kHz up, its band told to the network as a
mask, a log-SNR diffusion and the DDIM sampler on a grid of log-SNRs (docs/reference.md §8)."""

import jax
import jax.numpy as jnp
import numpy as np

from nuwave_jax import bandwidth as bandwidth_lib
from nuwave_jax import families
from nuwave_jax.configuration import SAMPLE_RATE_HZ
from nuwave_jax.configuration import positive_int
from nuwave_jax.nuwave2 import conditioning
from nuwave_jax.nuwave2 import diffusion
from nuwave_jax.nuwave2 import distillation
from nuwave_jax.nuwave2 import model
from nuwave_jax.nuwave2 import sampling
from nuwave_jax.nuwave2 import stft
from nuwave_jax.nuwave2 import torch_keys

MIN_RATE_HZ = 6000  # trained on cutoffs from 3 kHz up: inputs from 6 kHz


class NuWave2(families.Family):
  name = 'nuwave2'
  title = 'NU-Wave 2'
  input_baseline = 'polyphase resampling'
  choices = {'diffusion.target': ('signal', 'signal_minus_condition'), 'model.prediction': ('eps', 'v')}
  torch_keys = torch_keys.TORCH_KEYS
  # At the paper's 32768-sample segments: 4 rows in 9.6 of 16 GiB (v5e), 8 in 19.5 of 32 (v6e).
  samples_that_fit = {16: 4 * 32768, 32: 8 * 32768}
  # XLA's TPU compiler (libtpu 0.0.42, jax[tpu] 0.10.2) aborts the process in its space-to-batch pass
  # on the weight gradient of BSFT's convolutions over the 513 bins ('Check failed:
  # PropagateOnBackpropFilterConv'); the train step compiles without that pass (benchmarks/tpu_fit.py).
  tpu_compiler_options = {'xla_tpu_run_space_to_batch': False,
                          'xla_tpu_run_space_to_batch_on_new_platforms': False}

  # Fields added after the first checkpoints: what a saved config without them meant.
  ADDED = {'model': {'prediction': 'eps'}, 'diffusion': {'target': 'signal'},
           'sample': {'noise_scale': 1.0, 'keep_band': False}}
  RENAMED_VALUES = {('diffusion', 'target'): {'residual': 'signal_minus_condition'}}
  REMOVED = {'diffusion': ('loss',)}  # plain L1, the only loss: the field was never read

  def config_checks(self, config) -> list:
    m, f, d, s = config.model, config.diffusion, config.data, config.sample
    steps_end = lambda: list(s.log_snrs[1:]) + [f.logsnr_max]
    return [
        (lambda: positive_int(m.bsft_channels), 'model.bsft_channels', 'an integer >= 1'),
        (lambda: m.residual_channels % 4 == 0, 'model.residual_channels',
         'a multiple of 4 (local and global halves of twice the channels)'),
        (lambda: f.logsnr_min < f.logsnr_max, 'diffusion.logsnr_min', f'below diffusion.logsnr_max ({f.logsnr_max})'),
        (lambda: d.segment_samples >= stft.HOP and d.segment_samples % stft.HOP == 0, 'data.segment_samples',
         f'a multiple of {stft.HOP} (the STFT hop)'),
        (lambda: all(MIN_RATE_HZ <= r < SAMPLE_RATE_HZ for r in d.eval_rates_hz), 'data.eval_rates_hz',
         f'input rates in [{MIN_RATE_HZ}, {SAMPLE_RATE_HZ}) Hz'),
        (lambda: MIN_RATE_HZ // 2 <= d.cutoff_range_hz[0] <= d.cutoff_range_hz[1] <= SAMPLE_RATE_HZ // 2,
         'data.cutoff_range_hz',
         f'(low, high) Hz with {MIN_RATE_HZ // 2} <= low <= high <= {SAMPLE_RATE_HZ // 2}'),
        (lambda: 1 <= d.filter_orders[0] <= d.filter_orders[1] and all(isinstance(o, int) for o in d.filter_orders),
         'data.filter_orders', '(low, high) integers with 1 <= low <= high'),
        (lambda: len(d.filter_ripples_db) >= 1 and all(r > 0 for r in d.filter_ripples_db), 'data.filter_ripples_db',
         'positive ripples in dB'),
        (lambda: d.segment_samples > 3 * (d.filter_orders[1] + 1), 'data.segment_samples',
         f'longer than the filter\'s edge padding, 3 (order + 1) = {3 * (d.filter_orders[1] + 1)} samples'),
        (lambda: isinstance(s.steps, int) and s.steps >= 0, 'sample.steps', 'an integer >= 0 (0: sample.log_snrs)'),
        (lambda: 0.0 <= s.noise_scale <= 1.0, 'sample.noise_scale', 'in [0, 1]'),
        (lambda: len(s.log_snrs) >= 1 and all(f.logsnr_min <= a < b for a, b in zip(s.log_snrs, steps_end())),
         'sample.log_snrs', 'increasing log-SNRs in [diffusion.logsnr_min, diffusion.logsnr_max)'),
    ]

  def upgrade_saved_config(self, config) -> None:
    families.upgrade_config(config, self.ADDED, self.RENAMED_VALUES, self.REMOVED)

  def build_model(self, config):
    return model.build_model(config)

  def init_params(self, module, rng):
    return model.init_params(module, rng)

  def make_objective(self, config, module):
    """Low-discrepancy times t_i = (u + i / B) mod 1, y_t = alpha y0 + sigma eps, and L1 on eps (§8);
    batch['band_mask'] is each example's band. With diffusion.target 'signal_minus_condition', y0 is
    the audio minus its condition; with model.prediction 'v', the target is v = alpha eps - sigma y0."""
    d = config.diffusion

    def examples(rng, batch):
      clean = batch['audio'] - batch['condition'] if d.target == 'signal_minus_condition' else batch['audio']
      rng, time_rng, noise_rng = jax.random.split(rng, 3)
      logsnr = diffusion.cosine_log_snr(diffusion.training_times(time_rng, clean.shape[0]), d.logsnr_min,
                                        d.logsnr_max)
      noise = jax.random.normal(noise_rng, clean.shape, jnp.float32)
      noisy = diffusion.q_sample(clean, noise, logsnr)
      level = diffusion.normalized_log_snr(logsnr, d.logsnr_min, d.logsnr_max)
      target = diffusion.velocity(clean, noise, logsnr) if config.model.prediction == 'v' else noise
      return rng, (noisy, batch['condition'], batch['band_mask'], level, target)

    def loss(params, noisy, cond, band_mask, level, target):
      return diffusion.loss(target, module.apply({'params': params}, noisy, cond, band_mask, level))

    return examples, loss

  def training_condition_tf(self) -> families.TrainingConditionTF:
    from nuwave_jax.nuwave2 import band_limit  # TensorFlow: only for the pipeline
    return families.TrainingConditionTF(per_example=band_limit.random_condition, per_batch=None)

  def make_sampler(self, config, module) -> families.Sampler:
    s, f = config.sample, config.diffusion
    schedule = diffusion.make_schedule(None if s.steps else s.log_snrs, s.steps or None, f.logsnr_min, f.logsnr_max)
    sample = sampling.make_sample_fn(module, f.logsnr_min, f.logsnr_max, f.target, config.model.prediction,
                                     s.noise_scale, s.keep_band)
    return families.Sampler(sample, schedule, int(schedule.logsnr_t.shape[0]))

  def sampling_overrides(self, config, schedule: str | None, steps: int | None) -> list[str]:
    """--steps N: N DDIM steps on a uniform log-SNR grid instead of config.sample.log_snrs."""
    if schedule not in (None, 'paper'):
      raise ValueError('--schedule: not for a NU-Wave 2 checkpoint (use --steps)')
    return [] if steps is None else [f'sample.steps={steps}']

  def sampling_grid(self, config) -> tuple[float, ...]:
    """config.sample.log_snrs, or the uniform grid of config.sample.steps (`diffusion.make_schedule`)."""
    s, d = config.sample, config.diffusion
    if not s.steps:
      return tuple(float(x) for x in s.log_snrs)
    return tuple(float(x) for x in d.logsnr_min + np.arange(s.steps) * (d.logsnr_max - d.logsnr_min) / s.steps)

  def with_sampling_grid(self, config, grid) -> None:
    config.sample.log_snrs = tuple(float(x) for x in grid)
    config.sample.steps = 0

  def make_distillation_objective(self, config, module, teacher_grid):
    return distillation.make_objective(config, module, teacher_grid)

  def make_finetune_objective(self, config, module, n_ffts, waveform_weight: float):
    return distillation.make_finetune_objective(config, module, n_ffts, waveform_weight)

  def input_rate_hz(self, config) -> None:
    return None

  def check_input_rate(self, config, rate: int) -> None:
    if not MIN_RATE_HZ <= rate < config.data.sample_rate_hz:
      raise families.InputError(f'{rate} Hz: NU-Wave 2 takes inputs from {MIN_RATE_HZ} to below '
                                f'{config.data.sample_rate_hz} Hz')

  def eval_rates(self, config) -> tuple[int, ...]:
    return tuple(config.data.eval_rates_hz)

  def describe_input_rates(self, config) -> str:
    return f'any rate from {MIN_RATE_HZ} Hz'

  def trim_multiple(self, config) -> int:
    return stft.HOP

  def simulate(self, config, reference: np.ndarray, input_rate_hz: int) -> families.Condition:
    """The original's test path: a Chebyshev type I low-pass of order 8 and 0.05 dB ripple, zero-phase,
    resampling to 2 x (rate // 2) and back."""
    self.check_input_rate(config, input_rate_hz)
    cond, band_mask = conditioning.band_limited(reference, input_rate_hz)
    return families.Condition(cond, cond, input_rate_hz / 2, {'band_mask': band_mask})

  def check_bandwidth(self, config, bandwidth: float | str | None) -> None:
    if bandwidth is None or bandwidth == 'auto':
      return
    lowest = MIN_RATE_HZ // 2
    if not isinstance(bandwidth, (int, float)) or isinstance(bandwidth, bool):
      raise ValueError(f"--bandwidth {bandwidth!r}: give 'auto' or a cutoff in Hz, as in --bandwidth 8000")
    if not bandwidth >= lowest:
      raise ValueError(f'--bandwidth {bandwidth:g}: below {lowest} Hz, the lowest cutoff NU-Wave 2 was trained for')

  def condition_from_file(self, config, audio: np.ndarray, rate: int, path, resample: bool = False,
                          bandwidth: float | str | None = None) -> tuple[families.Condition | None, str]:
    """Polyphase resampling to 48 kHz, trimmed to a multiple of 256, and the band mask of its rate's
    cutoff, or of its content's: `bandwidth` 'auto' detects where the content stops
    (`bandwidth.effective_bandwidth`: a 44.1 kHz file holding 8 kHz telephone audio), a number forces
    it; the condition is then low-passed there as at test time. A band that reaches 24 kHz has nothing
    to add (None). `resample` changes nothing: every rate is taken."""
    del resample
    self.check_bandwidth(config, bandwidth)
    target = config.data.sample_rate_hz
    if rate < MIN_RATE_HZ:
      raise families.InputError(f'{path}: {rate} Hz; NU-Wave 2 takes inputs from {MIN_RATE_HZ} Hz (a 3 kHz cutoff) up')
    nyquist, note, lowest = min(rate, target) / 2, '', MIN_RATE_HZ // 2
    cutoff = nyquist
    if bandwidth == 'auto':
      detected = min(bandwidth_lib.effective_bandwidth(audio, rate), nyquist)
      cutoff, note = max(detected, lowest), f'content up to {detected / 1000:g} kHz (detected)'
      if detected < lowest:
        note += f', below the lowest cutoff: {lowest / 1000:g} kHz used'
    elif bandwidth is not None:
      cutoff = min(bandwidth, nyquist)
      note = f'band up to {cutoff / 1000:g} kHz (--bandwidth)'
    if cutoff >= target / 2:
      return None, note
    cond, band_mask = conditioning.from_low_rate(audio, rate, target)
    if cond.shape[1] == 0:
      raise families.InputError(f'{path}: shorter than {stft.HOP} samples at {target} Hz')
    if cutoff < nyquist:
      cond, band_mask = conditioning.band_limited(cond, 2 * int(cutoff), sample_rate_hz=target)
    return families.Condition(cond, cond, cutoff, {'band_mask': band_mask}), note


FAMILY = NuWave2()
