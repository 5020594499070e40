"""Upsampling audio with a checkpoint: the Python API, which `nuwave-jax upsample` and `evaluate` are
thin layers on.

  import nuwave_jax
  up = nuwave_jax.load('runs/nuwave2_small')       # a checkpoint directory
  out = up.upsample(audio, 16000, seed=0)          # numpy [T] or [T, C] at 16 kHz -> 48 kHz, same layout

An input goes through the path its family's model was trained on (`families.Family.condition_from_file`):
NU-Wave takes one rate, 48000 / data.ratio Hz, whose samples are the decimated signal of training
brought to 48 kHz by linear interpolation; NU-Wave 2 takes any rate from 6 kHz, resampled to 48 kHz,
with the band of its rate (or of its content, `bandwidth`). Each channel is upsampled as a signal of
its own with the same seed, so a stereo image stays where it was; signals of any length are sampled in
overlapping chunks (`sampling.sample_chunked`), with noise drawn by position, so the result does not
depend on what else is sampled in the same batch (to float rounding: XLA's CPU kernels round batches of
different sizes differently, by about 1e-6). 48 kHz ground truth is upsampled from an input simulated as
the family's test set makes it (`simulate`), which is how `evaluate` scores a checkpoint.
"""

import pathlib
import zlib

import jax
import ml_collections
import numpy as np
import scipy.signal

from nuwave_jax import checkpoints
from nuwave_jax import configuration
from nuwave_jax import families
from nuwave_jax import input_band
from nuwave_jax import models
from nuwave_jax import sampling
from nuwave_jax.data import audio as audio_io
from nuwave_jax.families import Condition
from nuwave_jax.families import InputError

# What a command may change in a checkpoint's config: how it samples, and how the network computes.
FIXED_GROUPS = ('model', 'diffusion', 'data', 'train')


class Upsampler:
  """A checkpoint's parameters, its config and its family's jitted sampler; config.sample says how it
  samples (steps, noise, chunks, batch)."""

  def __init__(self, config: ml_collections.ConfigDict, params, devices=None):
    """devices: what chunk batches are sharded over (default: every device of this process);
    config.sample.batch_size chunks go to each."""
    self.config = config
    self.params = params
    self.family = families.of(config)
    self.sampler = self.family.make_sampler(config, self.family.build_model(config))
    self.devices = sampling.Devices(devices)

  @classmethod
  def from_checkpoint(cls, checkpoint, use_ema: bool = True, overrides: list[str] = (),
                      step: int | None = None, devices=None) -> 'Upsampler':
    """checkpoint: a training workdir, a converted checkpoint or a bundled model's name
    (`nuwave_jax.models`); overrides: 'sample.key=value' texts (and the compute-only model.dtype,
    model.kernels); step: a saved step of a training run (default: the latest); devices: as
    `Upsampler`'s."""
    if bundled_name(checkpoint):
      if step is not None:
        raise ValueError(f'{checkpoint}: a bundled model has no training steps to choose from')
      config, params = saved_config(checkpoint), models.load_params(str(checkpoint))
    else:
      params, config, _ = checkpoints.restore_params(checkpoint, use_ema=use_ema, step=step)
    configuration.apply_overrides(config, list(overrides), fixed_groups=FIXED_GROUPS)
    configuration.check_config(config)
    return cls(config, params, devices)

  @property
  def sample_rate_hz(self) -> int:
    """The output rate: 48000."""
    return self.config.data.sample_rate_hz

  @property
  def input_rate_hz(self) -> int | None:
    """The one input rate the checkpoint takes (NU-Wave's 48000 / ratio), or None: any rate it
    describes (`describe_input_rates`)."""
    return self.family.input_rate_hz(self.config)

  def describe_input_rates(self) -> str:
    return self.family.describe_input_rates(self.config)

  @property
  def trim_multiple(self) -> int:
    """48 kHz ground truth is trimmed to a multiple of this many samples."""
    return self.family.trim_multiple(self.config)

  def upsample(self, audio: np.ndarray, rate: int, seed: int = 0, bandwidth: float | str | None = None,
               keep_input_band: bool = False, resample: bool = False) -> np.ndarray:
    """`audio` at `rate` Hz upsampled to 48 kHz: numpy [T] or [T, C] (float, or integer PCM at full
    scale) -> float32 [T'] or [T', C], T' ~ T * 48000 / rate (NU-Wave 2: a multiple of 256). Every
    channel is sampled with `seed`. bandwidth: NU-Wave 2 only, where the content stops when below rate
    / 2 ('auto': detected from the spectrum; Hz: forced). keep_input_band: the output's band below the
    input's cutoff replaced by the input itself. resample: NU-Wave only, another rate is resampled to
    its input rate first. A recording whose band already reaches 24 kHz comes back resampled to 48 kHz
    (or as it is). Raises InputError (a ValueError) for audio it cannot upsample."""
    channels_first, layout = as_channels_first(audio)
    condition, _ = self.condition_from_file(channels_first, rate, 'audio', resample, bandwidth)
    if condition is None:
      out = full_band_copy(channels_first, rate, self.sample_rate_hz)
    else:
      out = self.finish(condition, self.sample([condition], [seed])[0], keep_input_band)
    return out[0] if layout == 'mono' else out.T

  def condition_from_file(self, audio: np.ndarray, rate: int, path='audio', resample: bool = False,
                          bandwidth: float | str | None = None) -> tuple[Condition | None, str]:
    """(the condition of a recording [channels, n] at its own rate, a note on its band ('' for
    none)); None when its band already reaches 24 kHz. An InputError names `path`."""
    return self.family.condition_from_file(self.config, audio, rate, path, resample, bandwidth)

  def check_bandwidth(self, bandwidth: float | str | None) -> None:
    """Raises a ValueError for a `bandwidth` this checkpoint cannot take (before any file is read)."""
    self.family.check_bandwidth(self.config, bandwidth)

  def simulate(self, reference: np.ndarray, input_rate_hz: int | None = None) -> Condition:
    """The condition of an input at input_rate_hz (default: the one rate it takes) simulated from 48 kHz
    ground truth [channels, time] (time a multiple of `trim_multiple`), as the family's test set
    makes it."""
    rate = input_rate_hz or self.input_rate_hz
    if rate is None:
      raise InputError(f'{self.family.title} simulates any input rate: give one')
    return self.family.simulate(self.config, reference, rate)

  def sample(self, conditions: list[Condition], seeds: list[int], on_batch=None) -> list[np.ndarray]:
    """48 kHz outputs [channels, time], one per condition, every channel of condition i sampled with
    seeds[i]; chunked and batched across all of them as config.sample says."""
    signals = [(i, c) for i, condition in enumerate(conditions) for c in range(len(condition.signal))]
    extras = {name: [conditions[i].extras[name][c] for i, c in signals] for name in conditions[0].extras} \
        if conditions else {}
    outputs = self.upsample_signals([conditions[i].signal[c] for i, c in signals], [seeds[i] for i, _ in signals],
                                    on_batch, extras)
    return [np.stack([o for (j, _), o in zip(signals, outputs) if j == i]) for i in range(len(conditions))]

  def finish(self, condition: Condition, output: np.ndarray, keep_input_band: bool) -> np.ndarray:
    """The sampled output [channels, time], with the input's own band kept below its cutoff if asked."""
    if keep_input_band:
      return input_band.keep_input_band(output, condition.input_48k, condition.cutoff_hz)
    return output

  def chunk_samples(self) -> tuple[int, int]:
    """config.sample's (chunk, overlap) in samples, rounded to whole noise blocks."""
    s, block = self.config.sample, sampling.NOISE_BLOCK_SAMPLES
    to_blocks = lambda seconds: round(seconds * self.sample_rate_hz / block) * block
    chunk, overlap = max(block, to_blocks(s.chunk_seconds)), to_blocks(s.overlap_seconds)
    if not 0 <= overlap < chunk:
      raise InputError(f'the overlap ({s.overlap_seconds} s) must be shorter than the chunk '
                       f'({s.chunk_seconds} s)')
    return chunk, overlap

  def count_chunks(self, lengths: list[int]) -> int:
    """How many chunks signals of these lengths (48 kHz samples) are sampled in."""
    chunk, overlap = self.chunk_samples()
    return sum(len(sampling.plan_chunks(n, chunk, overlap)) for n in lengths)

  def upsample_signals(self, conditions: list[np.ndarray], seeds: list[int], on_batch=None,
                       extras: dict[str, list[np.ndarray]] | None = None) -> list[np.ndarray]:
    """48 kHz outputs [time] for 48 kHz conditions [time] of any length (and their `Condition.extras`,
    one per signal), each peak-normalised as in training and scaled back; chunked and batched as
    config.sample says."""
    chunk, overlap = self.chunk_samples()
    peaks = [float(np.max(np.abs(c))) if len(c) else 0.0 for c in conditions]
    scaled = [c / p if p > 0 else c for c, p in zip(conditions, peaks)]
    keys = [jax.random.key(s) for s in seeds]
    params, schedule = self.devices.replicate((self.params, self.sampler.schedule))
    outputs = sampling.sample_chunked(self.sampler.sample, params, scaled, keys, schedule, chunk, overlap,
                                      self.config.sample.batch_size, on_batch, extras, self.devices)
    # Silence in, silence out: a silent condition carries no information to upsample.
    return [o * p if p > 0 else np.zeros_like(o) for o, p in zip(outputs, peaks)]


def load(checkpoint, use_ema: bool = True, overrides: list[str] = (), step: int | None = None,
         devices=None) -> Upsampler:
  """An `Upsampler` for a checkpoint directory (a training workdir or a converted checkpoint) or a
  bundled model's name (`nuwave-jax models` lists them). overrides: 'sample.key=value' texts, as the
  command line's --config.sample.key=value; devices: what chunk batches are sharded over (default:
  every device of this process)."""
  return Upsampler.from_checkpoint(checkpoint, use_ema=use_ema, overrides=overrides, step=step, devices=devices)


def bundled_name(checkpoint) -> bool:
  """Whether `checkpoint` names a bundled model rather than a directory (a directory wins); a
  FileNotFoundError for something that is neither, listing the bundled names."""
  if pathlib.Path(checkpoint).is_dir():
    return False
  models.folder(str(checkpoint))  # raises, listing the known ones
  return True


def saved_config(checkpoint) -> ml_collections.ConfigDict:
  """The config a checkpoint directory or a bundled model was made with."""
  if bundled_name(checkpoint):
    return configuration.load_saved_config(models.folder(str(checkpoint)))
  return configuration.load_saved_config(checkpoint)


def as_channels_first(audio) -> tuple[np.ndarray, str]:
  """(float32 [channels, time], 'mono' or 'channels_last') of a numpy [T] or [T, C] array; integer
  PCM is scaled to [-1, 1) by its full scale. Raises InputError for anything else."""
  audio = np.asarray(audio)
  if audio.ndim not in (1, 2) or audio.size == 0:
    raise InputError(f'audio: expected a non-empty [time] or [time, channels] array, got shape {audio.shape}')
  if np.issubdtype(audio.dtype, np.integer):
    audio = audio / float(2 ** (8 * audio.dtype.itemsize - 1))
  elif not np.issubdtype(audio.dtype, np.floating):
    raise InputError(f'audio: expected float or integer samples, got {audio.dtype}')
  audio = audio.astype(np.float32)
  if not np.all(np.isfinite(audio)):
    raise InputError('audio: has NaN or infinite samples')
  if audio.ndim == 1:
    return audio[None], 'mono'
  return np.ascontiguousarray(audio.T), 'channels_last'


def full_band_copy(audio: np.ndarray, rate: int, sample_rate_hz: int) -> np.ndarray:
  """A recording [channels, n] whose band already reaches 24 kHz, at 48 kHz (polyphase resampling
  from a higher rate)."""
  if rate == sample_rate_hz:
    return audio
  return scipy.signal.resample_poly(audio, sample_rate_hz, rate, axis=-1).astype(np.float32)


def seed_for(name: str, seed: int) -> int:
  """A per-file seed from the run's seed and the file's name (what `upsample --seed S` and `evaluate`
  give file NAME): the output does not depend on which other files share the batch, nor on their
  order."""
  return zlib.crc32(f'{seed}:{pathlib.Path(name).name}'.encode()) & 0x7FFFFFFF


def read_input(path, mono: bool = False) -> tuple[np.ndarray, int]:
  """Decoded float32 audio [channels, time] (one channel when `mono`: their mean) at the file's own
  rate; an InputError names the file on failure."""
  try:
    audio, rate = audio_io.read_audio_channels(path)
  except audio_io.AudioError as error:
    raise InputError(str(error)) from None
  return (audio.mean(axis=0, keepdims=True) if mono else audio), rate
