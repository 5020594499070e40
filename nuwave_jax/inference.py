"""Upsampling real audio files with a checkpoint: what `sample.py` and `evaluate.py` call.

A file at the checkpoint's input rate (24 kHz for x2, 16 kHz for x3) goes through the same path the
model was trained on: its samples are the decimated signal, brought to 48 kHz by half-pixel linear
interpolation (`conditioning.upsample_linear`). The original's own script resampled real inputs with
librosa instead, a train/test mismatch that left its users with no upsampling. A 48 kHz file is only
taken as ground truth, with `simulate=True`: the low-resolution input is then made from it exactly as
in training (`conditioning.make_condition`).
"""

import dataclasses
import pathlib
import zlib

import jax
import ml_collections
import numpy as np
import soxr

from nuwave_jax import checkpoints
from nuwave_jax import conditioning
from nuwave_jax import configuration
from nuwave_jax import diffusion
from nuwave_jax import model as model_lib
from nuwave_jax import sampling
from nuwave_jax.data import audio as audio_io


class InputError(ValueError):
  """A user input that cannot be upsampled (the message names the file and the problem)."""


@dataclasses.dataclass
class Upsampler:
  """A restored checkpoint and its jitted sampler."""
  config: ml_collections.ConfigDict
  params: dict
  schedule: diffusion.Schedule
  upsample: object  # sampling.make_upsampler(...)

  @classmethod
  def from_checkpoint(cls, directory, use_ema: bool = True, betas=None,
                      noise_scale: float | None = None) -> 'Upsampler':
    """betas and noise_scale default to the checkpoint's config.sample."""
    params, config, _ = checkpoints.restore_params(directory, use_ema=use_ema)
    if noise_scale is not None:
      config.sample.noise_scale = noise_scale
    if betas is not None:
      config.sample.betas = tuple(float(b) for b in betas)
    configuration.check_config(config)
    schedule = diffusion.make_schedule(config.sample.betas, config.sample.noise_scale)
    upsample = sampling.make_upsampler(model_lib.build_model(config), config.model.prediction,
                                       config.model.network_input)
    return cls(config, params, schedule, upsample)

  @property
  def ratio(self) -> int:
    return self.config.data.ratio

  @property
  def input_rate_hz(self) -> int:
    return self.config.data.sample_rate_hz // self.ratio

  def condition_from_file(self, audio: np.ndarray, rate: int, path, simulate: bool = False,
                          resample: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """(48 kHz condition [time], 48 kHz ground truth [time] or None) for a decoded mono file."""
    target = self.config.data.sample_rate_hz
    if rate == target:
      if not simulate:
        raise InputError(f'{path}: already {rate} Hz; pass --simulate to treat it as ground truth and '
                         f'upsample its simulated {self.input_rate_hz} Hz version')
      reference = audio[:len(audio) // self.ratio * self.ratio]
      if len(reference) == 0:
        raise InputError(f'{path}: shorter than {self.ratio} samples')
      d = self.config.data
      return conditioning.make_condition(reference[None], self.ratio, d.lowpass_n_fft,
                                         d.lowpass_hop)[0], reference
    if rate != self.input_rate_hz:
      if not resample:
        only_48k = f'; --simulate takes only {target} Hz files as ground truth' if simulate else ''
        raise InputError(f'{path}: {rate} Hz, but this checkpoint upsamples {self.input_rate_hz} Hz '
                         f'(x{self.ratio}); pass --resample to resample it to {self.input_rate_hz} Hz'
                         f'{only_48k}')
      audio = soxr.resample(audio, rate, self.input_rate_hz, quality='VHQ').astype(np.float32)
      if len(audio) == 0:
        raise InputError(f'{path}: too short to resample: no sample is left at {self.input_rate_hz} Hz')
    return conditioning.upsample_linear(audio[None], self.ratio)[0], None

  def chunk_samples(self, chunk_seconds: float, overlap_seconds: float) -> tuple[int, int]:
    """(chunk, overlap) in samples, rounded to whole noise blocks."""
    block = sampling.NOISE_BLOCK_SAMPLES
    to_blocks = lambda seconds: round(seconds * self.config.data.sample_rate_hz / block) * block
    chunk, overlap = max(block, to_blocks(chunk_seconds)), to_blocks(overlap_seconds)
    if not 0 <= overlap < chunk:
      raise InputError(f'the overlap ({overlap_seconds} s) must be shorter than the chunk '
                       f'({chunk_seconds} s)')
    return chunk, overlap

  def count_chunks(self, lengths: list[int], chunk_seconds: float, overlap_seconds: float) -> int:
    chunk, overlap = self.chunk_samples(chunk_seconds, overlap_seconds)
    return sum(len(sampling.plan_chunks(n, chunk, overlap)) for n in lengths)

  def upsample_signals(self, conditions: list[np.ndarray], seeds: list[int], chunk_seconds: float,
                       overlap_seconds: float, batch_size: int, on_batch=None) -> list[np.ndarray]:
    """48 kHz outputs for 48 kHz conditions of any length, each peak-normalised as in training."""
    chunk, overlap = self.chunk_samples(chunk_seconds, overlap_seconds)
    peaks = [float(np.max(np.abs(c))) if len(c) else 0.0 for c in conditions]
    scaled = [c / p if p > 0 else c for c, p in zip(conditions, peaks)]
    keys = [jax.random.key(s) for s in seeds]
    outputs = sampling.upsample_chunked(self.upsample, self.params, scaled, keys, self.schedule, chunk,
                                        overlap, batch_size, on_batch)
    # Silence in, silence out: a silent condition carries no information to upsample.
    return [o * p if p > 0 else np.zeros_like(o) for o, p in zip(outputs, peaks)]


def seed_for(name: str, seed: int) -> int:
  """A per-file seed from the run's seed and the file's name: the output does not depend on which
  other files share the batch, nor on their order."""
  return zlib.crc32(f'{seed}:{pathlib.Path(name).name}'.encode()) & 0x7FFFFFFF


def read_input(path) -> tuple[np.ndarray, int]:
  """Decoded mono float32 audio at the file's own rate; an InputError names the file on failure."""
  try:
    return audio_io.read_audio_native(path)
  except audio_io.AudioError as error:
    raise InputError(str(error)) from None
