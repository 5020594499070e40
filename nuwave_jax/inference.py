"""Upsampling real audio files with a checkpoint: what `nuwave-jax upsample` and `evaluate` call.

A file at the checkpoint's input rate (24 kHz for x2, 16 kHz for x3) goes through the same path the
model was trained on: its samples are the decimated signal, brought to 48 kHz by half-pixel linear
interpolation (`conditioning.upsample_linear`). The original's own script resampled real inputs with
librosa instead, a train/test mismatch that left its users with no upsampling. A 48 kHz file is taken
as ground truth only when asked (`simulate`): its low-resolution input is then made from it exactly as
in training (`conditioning.low_rate_signal`). Every channel of a file is upsampled, each as a signal of
its own with the file's seed, so a stereo image stays where it was.

A NU-Wave 2 checkpoint takes a file at any rate from 6 kHz to 48 kHz: polyphase resampling brings it to
48 kHz and its rate sets the band (`conditioning.from_low_rate`); simulated from 48 kHz ground truth, the
condition is the original's test path at the rate asked for (`conditioning.band_limited`).
"""

import dataclasses
import pathlib
import zlib

import jax
import ml_collections
import numpy as np
import soxr

from nuwave_jax import band_merge
from nuwave_jax import checkpoints
from nuwave_jax import conditioning
from nuwave_jax import configuration
from nuwave_jax import diffusion
from nuwave_jax import model as model_lib
from nuwave_jax import sampling
from nuwave_jax.data import audio as audio_io
from nuwave_jax.nuwave2 import diffusion as nuwave2_diffusion
from nuwave_jax.nuwave2 import sampling as nuwave2_sampling

# What a command may change in a checkpoint's config: how it samples, and how the network computes.
FIXED_GROUPS = ('model', 'diffusion', 'data', 'train')


class InputError(ValueError):
  """A user input that cannot be upsampled (the message names the file and the problem)."""


@dataclasses.dataclass
class Upsampler:
  """A restored checkpoint and its jitted sampler; config.sample says how it samples."""
  config: ml_collections.ConfigDict
  params: dict
  schedule: diffusion.Schedule
  upsample: object  # sampling.make_upsampler(...)

  @classmethod
  def from_checkpoint(cls, directory, use_ema: bool = True, overrides: list[str] = (),
                      step: int | None = None) -> 'Upsampler':
    """overrides: 'sample.key=value' texts (and the compute-only model.dtype, model.kernels); step:
    a saved step of a training run (default: the latest)."""
    params, config, _ = checkpoints.restore_params(directory, use_ema=use_ema, step=step)
    configuration.apply_overrides(config, list(overrides), fixed_groups=FIXED_GROUPS)
    configuration.check_config(config)
    return cls.for_params(config, params)

  @classmethod
  def for_params(cls, config: ml_collections.ConfigDict, params) -> 'Upsampler':
    module, s = model_lib.build_model(config), config.sample
    if config.model.name == 'nuwave2':
      f = config.diffusion
      schedule = nuwave2_diffusion.make_schedule(None if s.steps else s.log_snrs, s.steps or None,
                                                 f.logsnr_min, f.logsnr_max)
      return cls(config, params, schedule,
                 nuwave2_sampling.make_upsampler(module, f.logsnr_min, f.logsnr_max, f.target,
                                                 config.model.prediction, s.noise_scale, s.keep_band))
    schedule = diffusion.make_schedule(s.betas, s.noise_scale)
    return cls(config, params, schedule, sampling.make_upsampler(module, config.model.prediction,
                                                                 config.model.network_input))

  @property
  def any_rate(self) -> bool:
    """Whether the network takes any input rate and its band (NU-Wave 2), or one rate (NU-Wave)."""
    return self.config.model.name == 'nuwave2'

  @property
  def baseline(self) -> str:
    """What the model is scored beside: NU-Wave's 'linear' interpolation of its input, or for NU-Wave
    2 the 'input' itself, resampled to 48 kHz (the network's condition)."""
    return 'input' if self.any_rate else 'linear'

  @property
  def ratio(self) -> int:
    return self.config.data.ratio

  @property
  def input_rate_hz(self) -> int | None:
    """NU-Wave's one input rate (48000 / ratio); None for NU-Wave 2, whose files bring their own."""
    return None if self.any_rate else self.config.data.sample_rate_hz // self.ratio

  @property
  def trim_multiple(self) -> int:
    return trim_multiple(self.config)

  def simulate(self, reference: np.ndarray, input_rate_hz: int | None = None):
    """(48 kHz condition, the input's own band at 48 kHz for --keep-input-band, band or None) of 48
    kHz ground truth [channels, time] at `input_rate_hz` (NU-Wave: its own rate), made as the model
    was trained (NU-Wave) or tested (NU-Wave 2); time a multiple of trim_multiple."""
    if self.any_rate:
      cond, band = conditioning.band_limited(reference, input_rate_hz)
      return cond, cond, band
    if input_rate_hz not in (None, self.input_rate_hz):
      raise InputError(f'this checkpoint upsamples {self.input_rate_hz} Hz (x{self.ratio}), not {input_rate_hz} Hz')
    d = self.config.data
    low = conditioning.low_rate_signal(reference, self.ratio, d.lowpass_n_fft, d.lowpass_hop)
    cond = conditioning.upsample_linear(low, self.ratio, reference.shape[-1])
    return cond, band_merge.to_48k(low, self.input_rate_hz, cond.shape[1]), None

  def condition_from_file(self, audio: np.ndarray, rate: int, path, resample: bool = False,
                          cutoff_hz: float | None = None):
    """(48 kHz condition [channels, time], the input's own band at 48 kHz [channels, time], band
    [channels, 513] or None) of a decoded file [channels, n] at its own `rate`; an InputError names
    the file if it cannot be. NU-Wave 2 only: cutoff_hz, the file's content cutoff when it is below
    rate / 2 (`bandwidth.effective_bandwidth`); the condition is then made as at test time, low-passed
    at that cutoff (`conditioning.band_limited`), and its band is the cutoff's."""
    target = self.config.data.sample_rate_hz
    if self.any_rate:
      low = configuration.NUWAVE2_MIN_RATE_HZ
      if rate < low:
        raise InputError(f'{path}: {rate} Hz; NU-Wave 2 takes inputs from {low} Hz (a 3 kHz cutoff) up')
      cond, band = conditioning.from_low_rate(audio, rate, target)
      if cond.shape[1] == 0:
        raise InputError(f'{path}: shorter than 256 samples at {target} Hz')
      if cutoff_hz is not None and cutoff_hz < min(rate, target) / 2:
        cond, band = conditioning.band_limited(cond, 2 * int(cutoff_hz), sample_rate_hz=target)
      return cond, cond, band
    if rate == target:
      raise InputError(f'{path}: already {rate} Hz; pass --simulate to treat it as ground truth and '
                       f'upsample its simulated version at {self.input_rate_hz} Hz')
    if rate != self.input_rate_hz:
      if not resample:
        raise InputError(f'{path}: {rate} Hz, but this checkpoint upsamples {self.input_rate_hz} Hz '
                         f'(x{self.ratio}); pass --resample to resample it to {self.input_rate_hz} Hz')
      audio = soxr.resample(audio.T, rate, self.input_rate_hz, quality='VHQ').T.reshape(len(audio), -1)
      if audio.shape[1] == 0:
        raise InputError(f'{path}: too short to resample: no sample is left at {self.input_rate_hz} Hz')
    audio = np.ascontiguousarray(audio, np.float32)
    cond = conditioning.upsample_linear(audio, self.ratio)
    return cond, band_merge.to_48k(audio, self.input_rate_hz, cond.shape[1]), None

  def chunk_samples(self) -> tuple[int, int]:
    """config.sample's (chunk, overlap) in samples, rounded to whole noise blocks."""
    s, block = self.config.sample, sampling.NOISE_BLOCK_SAMPLES
    to_blocks = lambda seconds: round(seconds * self.config.data.sample_rate_hz / block) * block
    chunk, overlap = max(block, to_blocks(s.chunk_seconds)), to_blocks(s.overlap_seconds)
    if not 0 <= overlap < chunk:
      raise InputError(f'the overlap ({s.overlap_seconds} s) must be shorter than the chunk '
                       f'({s.chunk_seconds} s)')
    return chunk, overlap

  def count_chunks(self, lengths: list[int]) -> int:
    chunk, overlap = self.chunk_samples()
    return sum(len(sampling.plan_chunks(n, chunk, overlap)) for n in lengths)

  def upsample_signals(self, conditions: list[np.ndarray], seeds: list[int], on_batch=None,
                       bands: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """48 kHz outputs [time] for 48 kHz conditions [time] of any length (and, for NU-Wave 2, their
    bands [513]), each peak-normalised as in training and scaled back; chunked and batched as
    config.sample says."""
    chunk, overlap = self.chunk_samples()
    peaks = [float(np.max(np.abs(c))) if len(c) else 0.0 for c in conditions]
    scaled = [c / p if p > 0 else c for c, p in zip(conditions, peaks)]
    keys = [jax.random.key(s) for s in seeds]
    outputs = sampling.upsample_chunked(self.upsample, self.params, scaled, keys, self.schedule, chunk,
                                        overlap, self.config.sample.batch_size, on_batch, bands)
    # Silence in, silence out: a silent condition carries no information to upsample.
    return [o * p if p > 0 else np.zeros_like(o) for o, p in zip(outputs, peaks)]


def trim_multiple(config: ml_collections.ConfigDict) -> int:
  """Ground truth is trimmed to a multiple of this: NU-Wave's ratio, or NU-Wave 2's STFT hop (256)."""
  return 256 if config.model.name == 'nuwave2' else config.data.ratio


def seed_for(name: str, seed: int) -> int:
  """A per-file seed from the run's seed and the file's name: the output does not depend on which
  other files share the batch, nor on their order."""
  return zlib.crc32(f'{seed}:{pathlib.Path(name).name}'.encode()) & 0x7FFFFFFF


def read_input(path, mono: bool = False) -> tuple[np.ndarray, int]:
  """Decoded float32 audio [channels, time] (one channel when `mono`: their mean) at the file's own
  rate; an InputError names the file on failure."""
  try:
    audio, rate = audio_io.read_audio_channels(path)
  except audio_io.AudioError as error:
    raise InputError(str(error)) from None
  return (audio.mean(axis=0, keepdims=True) if mono else audio), rate
