"""Upsampling a corpus: many files, on every device and host, resumable, with nothing left half-written.

What `nuwave-jax upsample` runs (`Upsampler` does the sampling):
- `find_jobs` pairs each input file with its output (a folder's tree mirrored), refusing an output
  that would overwrite an input or another's output; `shard` splits the jobs deterministically
  into N shards balanced by duration, so workers of a job array (or the hosts of a pod) each write
  their own files.
- `CorpusRun` decodes and conditions files in worker threads ahead of the sampler, samples them in
  groups of up to `group_seconds` of audio (chunk batches sharded over the process's devices), and
  writes in a writer thread: each output under a temporary hidden name in its folder, renamed when
  complete, so a killed run never leaves a half file under the final name. A file whose output is
  complete is skipped (unless `overwrite`); a manifest (JSON lines: input, output, seconds of audio,
  rate, cutoff, times, error) is appended as each file finishes; `Summary` counts and times the run.
"""

import concurrent.futures
import dataclasses
import json
import os
import pathlib
import sys
import threading
import time

import numpy as np
import soundfile

from nuwave_jax import inference
from nuwave_jax.data import audio as audio_io
from nuwave_jax.families import InputError

FORMATS = {'wav': 'WAV', 'flac': 'FLAC'}
SAMPLE_FORMATS = {'16': 'PCM_16', '24': 'PCM_24', 'float': 'FLOAT'}


@dataclasses.dataclass(frozen=True)
class Job:
  """One input file and the output it becomes."""
  path: pathlib.Path
  out_path: pathlib.Path


def find_jobs(inputs: list[str], output_dir: pathlib.Path, suffix: str = '.wav') -> tuple[list[Job], list[str]]:
  """(the jobs, an error for each input that cannot have its output): a file's output is
  OUTPUT/<stem><suffix>, a folder's files mirror their paths below it. Raises a ValueError for an
  input that does not exist or a folder that holds no audio."""
  pairs = []
  for name in inputs:
    path = pathlib.Path(name)
    if path.is_dir():
      files = audio_io.find_audio_files(path)
      if not files:
        raise ValueError(f'{path}: a folder with no audio files ({", ".join(audio_io.AUDIO_EXTENSIONS)})')
      pairs += [(f, output_dir / f.relative_to(path).with_suffix(suffix)) for f in files]
    elif path.exists():
      pairs.append((path, output_dir / (path.stem + suffix)))
    else:
      raise ValueError(f'{path}: no such file or folder')
  inputs_resolved = {path.resolve() for path, _ in pairs}
  jobs, errors, planned = [], [], {}
  for path, out_path in pairs:
    if out_path.resolve() in inputs_resolved:
      errors.append(f'{path}: its output {out_path} would overwrite an input; choose another --output')
    elif out_path.resolve() in planned:
      errors.append(f'{path}: {planned[out_path.resolve()]} already writes {out_path}')
    else:
      planned[out_path.resolve()] = path
      jobs.append(Job(path, out_path))
  return jobs, errors


def parse_shard(text: str) -> tuple[int, int]:
  """'I/N' -> (I, N), 0 <= I < N; a ValueError otherwise."""
  try:
    index, count = (int(part) for part in text.split('/'))
  except ValueError:
    raise ValueError(f'--shard {text!r}: give I/N, shard I (from 0) of N, as in --shard 0/4') from None
  if not 0 <= index < count:
    raise ValueError(f'--shard {text}: I must be in 0 .. N - 1 = {count - 1} (shards count from 0)')
  return index, count


def duration_seconds(path) -> float:
  """A file's duration from its header (0 when it cannot be read: the error comes when it is)."""
  try:
    info = soundfile.info(str(path))
    return info.frames / info.samplerate
  except Exception:  # soundfile raises several types for a file it cannot open
    return 0.0


def shard(jobs: list[Job], index: int, count: int) -> list[Job]:
  """Shard `index` of `count`: the jobs, longest first, each to the shard with the least audio so far
  (ties: the lowest shard), then in their given order. The same inputs give every worker the same
  split, so each output is written by exactly one."""
  if count == 1:
    return list(jobs)
  durations = [duration_seconds(job.path) for job in jobs]
  totals = [0.0] * count
  mine = set()
  for i in sorted(range(len(jobs)), key=lambda i: (-durations[i], str(jobs[i].path))):
    target = min(range(count), key=lambda s: (totals[s], s))
    totals[target] += durations[i]
    if target == index:
      mine.add(i)
  return [job for i, job in enumerate(jobs) if i in mine]


def header_rate(path) -> int | None:
  """A file's sample rate from its header (None when it cannot be read)."""
  try:
    return soundfile.info(str(path)).samplerate
  except Exception:  # soundfile raises several types for a file it cannot open
    return None


def partial_path(out_path: pathlib.Path) -> pathlib.Path:
  """Where an output is written before it is complete: a hidden file beside it (skipped as an input)."""
  return out_path.with_name(f'.{out_path.name}.{os.getpid()}.partial')


def remove_stale_partials(out_path: pathlib.Path) -> None:
  """Half-written files of `out_path` left by a run that was killed."""
  for stale in out_path.parent.glob(f'.{out_path.name}.*.partial'):
    stale.unlink(missing_ok=True)


@dataclasses.dataclass
class Prepared:
  """A decoded input on its way to its output."""
  job: Job
  rate: int
  seconds: float
  float_samples: bool
  condition: object = None            # a families.Condition, or None for a full-band copy
  copy: np.ndarray | None = None      # [channels, time] at 48 kHz: a file with nothing to add
  note: str = ''
  decode_seconds: float = 0.0


@dataclasses.dataclass
class Summary:
  done: int = 0
  skipped: int = 0
  failed: int = 0
  audio_seconds: float = 0.0
  decode_seconds: float = 0.0
  sample_seconds: float = 0.0
  write_seconds: float = 0.0
  wall_seconds: float = 0.0

  def lines(self) -> list[str]:
    """What the run did, and which of decoding, sampling and writing bounds it."""
    speed = self.audio_seconds / self.wall_seconds if self.wall_seconds else 0.0
    lines = [f'{self.done} file(s) upsampled ({self.audio_seconds / 3600:.3f} h of audio) in '
             f'{self.wall_seconds:.1f} s: {speed:.2f} s of audio per s; {self.skipped} skipped (complete), '
             f'{self.failed} failed']
    if self.done:
      parts = {'decoding': self.decode_seconds, 'sampling': self.sample_seconds, 'writing': self.write_seconds}
      bound = max(parts, key=parts.get)
      lines.append('time in ' + ', '.join(f'{k} {v:.1f} s' for k, v in parts.items())
                   + f' (decoding and writing in threads beside the sampler): {bound} bounds this run')
    return lines


class CorpusRun:
  """The jobs of one worker (module docstring). upsampler: an `inference.Upsampler`; mono,
  resample, bandwidth, keep_input_band: as `Upsampler.upsample`'s; file_format 'wav' or 'flac';
  sample_format '16', '24', 'float' or None (16-bit, or float for a WAV input beyond full scale);
  manifest: the JSON-lines file appended as each file finishes; on_message(line, error): where lines
  go; error_hint: added to the message of an input that cannot be upsampled; group_seconds: files
  are decoded and sampled in groups of at most this much audio (all channels), which bounds memory."""

  def __init__(self, upsampler, *, mono=False, resample=False, bandwidth=None, keep_input_band=False,
               file_format='wav', sample_format=None, overwrite=False, workers=None, manifest=None,
               seed=0, on_message=None, progress=None, error_hint='', group_seconds: float = 600.0):
    if file_format not in FORMATS:
      raise ValueError(f'--format {file_format!r}: one of {", ".join(FORMATS)}')
    if sample_format not in (None, *SAMPLE_FORMATS):
      raise ValueError(f'--sample-format {sample_format!r}: one of {", ".join(SAMPLE_FORMATS)}')
    if file_format == 'flac' and sample_format == 'float':
      raise ValueError('--sample-format float: FLAC holds 16- or 24-bit samples (use --format wav for float)')
    upsampler.check_bandwidth(bandwidth)
    self.upsampler = upsampler
    self.mono, self.resample, self.bandwidth, self.keep_input_band = mono, resample, bandwidth, keep_input_band
    self.file_format, self.sample_format, self.overwrite = file_format, sample_format, overwrite
    self.workers = workers or os.cpu_count() or 1
    self.manifest = pathlib.Path(manifest) if manifest else None
    self.seed = seed
    self.on_message = on_message or (lambda line, error=False: print(line, file=sys.stderr if error else sys.stdout))
    self.progress = progress
    self.error_hint = error_hint
    if not group_seconds > 0:
      raise ValueError(f'--group-seconds {group_seconds}: must be positive')
    self.group_seconds = group_seconds
    self.summary = Summary()
    self._lock = threading.Lock()

  def run(self, jobs: list[Job]) -> Summary:
    """Upsamples every job whose output is not complete; returns the summary."""
    start = time.perf_counter()
    todo = []
    for job in jobs:
      if job.out_path.is_file() and not self.overwrite:
        self.summary.skipped += 1
      else:
        remove_stale_partials(job.out_path)
        todo.append(job)
    if self.progress is not None:
      self.progress.reset(total=len(todo))
    with concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix='decode') as decoders, \
        concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix='write') as writer:
      pending = [decoders.submit(self._prepare, job) for job in todo[:self.workers * 2]]
      queued = self.workers * 2
      group, group_samples, writes = [], 0, []
      while pending:
        prepared = pending.pop(0).result()
        if queued < len(todo):
          pending.append(decoders.submit(self._prepare, todo[queued]))
          queued += 1
        if prepared is None:  # failed, already reported
          continue
        if prepared.condition is None:
          writes.append(writer.submit(self._write, prepared, prepared.copy, 0.0))
          continue
        group.append(prepared)
        group_samples += prepared.condition.signal.size
        if group_samples >= self.group_seconds * self.upsampler.sample_rate_hz:
          writes += self._sample(group, writer)
          group, group_samples = [], 0
      writes += self._sample(group, writer)
      for write in writes:
        write.result()
    self.summary.wall_seconds = time.perf_counter() - start
    return self.summary

  def _prepare(self, job: Job) -> Prepared | None:
    """Decodes and conditions one file (in a decode thread); None when it fails (reported)."""
    start = time.perf_counter()
    try:
      audio, rate = inference.read_input(job.path, mono=self.mono)
      condition, note = self.upsampler.condition_from_file(audio, rate, job.path, self.resample, self.bandwidth)
    except InputError as error:
      self._failed(job, f'{error}{self.error_hint}', rate=None)
      return None
    prepared = Prepared(job, rate, audio.shape[1] / rate, float(np.max(np.abs(audio))) > 1.0, condition,
                        note=f'{rate} Hz, {note}' if note else '')
    if condition is None:  # nothing to add: the file's band already reaches 24 kHz
      target = self.upsampler.sample_rate_hz
      prepared.copy = inference.full_band_copy(audio, rate, target)
      hint = '' if self.bandwidth else ', --bandwidth auto looks for a lower cutoff'
      prepared.note = (prepared.note + '; ' if note else '') + (
          f'already full band at {target} Hz: copied{"" if rate == target else " resampled"}; --simulate RATE '
          f'scores the model on it{hint}')
    prepared.decode_seconds = time.perf_counter() - start
    with self._lock:
      self.summary.decode_seconds += prepared.decode_seconds
    return prepared

  def _sample(self, group: list[Prepared], writer) -> list:
    """Samples a group of files together; their writes, submitted."""
    if not group:
      return []
    start = time.perf_counter()
    outputs = self.upsampler.sample([item.condition for item in group],
                                    [inference.seed_for(str(item.job.path), self.seed) for item in group])
    seconds = time.perf_counter() - start
    self.summary.sample_seconds += seconds
    total = sum(item.condition.signal.size for item in group)
    return [writer.submit(self._write, item, self.upsampler.finish(item.condition, output, self.keep_input_band),
                          seconds * item.condition.signal.size / total)
            for item, output in zip(group, outputs)]

  def write_scored(self, job: Job, audio: np.ndarray, note: str) -> None:
    """Writes an output made elsewhere (--simulate's, scored against its ground truth), now."""
    seconds = audio.shape[-1] / self.upsampler.sample_rate_hz
    self._write(Prepared(job, self.upsampler.sample_rate_hz, seconds, False, note=note), audio, 0.0)

  def sample_format_for(self, prepared: Prepared) -> tuple[str, str]:
    """(soundfile subtype, a note) of an output: the chosen sample format, or 16-bit PCM, or float for a
    WAV input beyond full scale (FLAC, which holds no float, clips it)."""
    if self.sample_format:
      return SAMPLE_FORMATS[self.sample_format], ''
    if not prepared.float_samples:
      return 'PCM_16', ''
    if self.file_format == 'flac':
      return 'PCM_24', '  (clipped to full scale: the input goes beyond it and FLAC holds no float samples)'
    return 'FLOAT', '  (32-bit float WAV: the input goes beyond full scale)'

  def _write(self, prepared: Prepared, audio: np.ndarray, sample_seconds: float) -> None:
    """Writes one output under a temporary name and renames it (in the writer thread)."""
    start = time.perf_counter()
    job = prepared.job
    subtype, note = self.sample_format_for(prepared)
    partial = partial_path(job.out_path)
    frames = np.asarray(audio, np.float32).T
    try:
      job.out_path.parent.mkdir(parents=True, exist_ok=True)
      if subtype != 'FLOAT':
        frames = np.clip(frames, -1.0, 1.0)
      soundfile.write(str(partial), frames, self.upsampler.sample_rate_hz, subtype=subtype,
                      format=FORMATS[self.file_format])
      os.replace(partial, job.out_path)
    except Exception as error:  # OSError from the filesystem, LibsndfileError from soundfile
      partial.unlink(missing_ok=True)
      self._failed(job, f'{job.out_path}: cannot be written ({error})', prepared.rate)
      return
    write_seconds = time.perf_counter() - start
    with self._lock:
      self.summary.done += 1
      self.summary.audio_seconds += prepared.seconds
      self.summary.write_seconds += write_seconds
      self._record(job, prepared.rate, prepared.seconds, getattr(prepared.condition, 'cutoff_hz', None),
                   {'decode': prepared.decode_seconds, 'sample': sample_seconds, 'write': write_seconds}, None)
      self.on_message(f'{job.path} -> {job.out_path}' + (f'  ({prepared.note})' if prepared.note else '') + note)
      if self.progress is not None:
        self.progress.update(1)

  def _failed(self, job: Job, error, rate) -> None:
    with self._lock:
      self.summary.failed += 1
      self._record(job, rate, None, None, None, str(error))
      self.on_message(f'error: {error}', True)
      if self.progress is not None:
        self.progress.update(1)

  def _record(self, job: Job, rate, seconds, cutoff_hz, times, error) -> None:
    """One manifest line, appended and flushed (under the lock)."""
    if self.manifest is None:
      return
    line = {'input': str(job.path), 'output': str(job.out_path), 'seconds': seconds, 'rate_hz': rate,
            'cutoff_hz': cutoff_hz, 'processing_seconds': times, 'error': error}
    self.manifest.parent.mkdir(parents=True, exist_ok=True)
    with open(self.manifest, 'a') as f:
      f.write(json.dumps(line) + '\n')
      f.flush()
      os.fsync(f.fileno())
