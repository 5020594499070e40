"""nuwave-jax upsample: audio files and folders to 48 kHz with a trained or converted checkpoint.

  nuwave-jax upsample --checkpoint runs/nuwave2_small speech_16k.wav recordings/ --output upsampled/

Inputs are files or folders (searched recursively for audio files; the output tree mirrors the
input's). A file goes through `nuwave_jax.inference.Upsampler` (the Python API): NU-Wave takes its
checkpoint's input rate, 48000 / data.ratio Hz (--resample takes any other); NU-Wave 2 any rate from
6000 Hz, its band half the file's rate, or its content's cutoff with --bandwidth auto (detected from
the spectrum) or --bandwidth HZ; a file whose band is already full at 48 kHz is copied (resampled to
48 kHz if it is above) with a note. With --simulate a 48000 Hz file is ground truth, scored as
`nuwave-jax evaluate` scores it. Every channel is upsampled (--mono mixes them first). Each output is
OUTPUT/<path>.wav: 16-bit PCM, or 32-bit float when the input goes beyond full scale. A file that
cannot be upsampled gets a one-line error and the others still finish (exit status 1).
"""

import argparse
import dataclasses
import pathlib
import sys

import numpy as np

from nuwave_jax.cli import common

# Files are read and sampled in groups of at most this much audio (all channels), which bounds memory.
GROUP_SECONDS = 600.0


def parser() -> argparse.ArgumentParser:
  p = common.parser('upsample', __doc__, "Upsample audio files and folders to 48 kHz. NU-Wave: inputs at the "
                    "checkpoint's input rate (24000 Hz for x2, 16000 Hz for x3); NU-Wave 2: any rate from 6000 Hz. "
                    'Outputs mirror the inputs.')
  p.add_argument('inputs', nargs='+', metavar='INPUT', help='audio files or folders (searched recursively)')
  p.add_argument('--checkpoint', metavar='DIR|NAME',
                 help='a checkpoint or a bundled model (nuwave-jax models; default nuwave2-small-2step)')
  p.add_argument('--output', required=True, metavar='DIR', help='folder for the 48 kHz WAV files')
  p.add_argument('--simulate', nargs='?', type=int, const=0, metavar='RATE',
                 help='48000 Hz inputs are ground truth: upsample their version simulated at RATE Hz (NU-Wave: '
                      'its own rate), print SNR/LSD')
  p.add_argument('--resample', action='store_true', help="NU-Wave: resample other rates to the checkpoint's input rate")
  p.add_argument('--mono', action='store_true', help='mix the channels to one (default: every channel upsampled)')
  p.add_argument('--keep-input-band', action='store_true',
                 help="keep the input's own audio below its cutoff; the model adds the band above")
  p.add_argument('--schedule', metavar='S', help="NU-Wave: 'paper' (8 steps, the default), 'training' or b1,b2,...")
  p.add_argument('--noise-scale', type=float, metavar='X',
                 help="in [0, 1]; NU-Wave: each step's added noise x X; NU-Wave 2: the starting noise x X")
  p.add_argument('--steps', type=int, metavar='N', help='NU-Wave 2: N DDIM steps on a uniform log-SNR grid')
  p.add_argument('--bandwidth', metavar='auto|HZ',
                 help="NU-Wave 2: the inputs' content cutoff: 'auto' detects each file's from its spectrum, HZ "
                      "forces it (default: half the file's rate)")
  p.add_argument('--chunk-seconds', type=float, metavar='T', help='long files are sampled in chunks of T s')
  p.add_argument('--overlap-seconds', type=float, metavar='T', help='of neighbouring chunks')
  p.add_argument('--batch-size', type=int, metavar='N', help='chunks sampled at once')
  p.add_argument('--seed', type=int, metavar='N', help='sampling seed (each file\'s also depends on its name)')
  p.add_argument('--no-ema', action='store_true', help='the raw instead of the EMA parameters')
  common.add_overrides_help(p, 'sample.noise_scale=0.5 (defaults: the checkpoint\'s config.json)')
  return p


def sample_overrides(args) -> list[str]:
  """The flags that set config.sample fields, as overrides (--schedule and --steps: the family's,
  `common.load_upsampler`)."""
  return [f'sample.{key}={value}' for key, value in
          (('noise_scale', args.noise_scale), ('chunk_seconds', args.chunk_seconds),
           ('overlap_seconds', args.overlap_seconds), ('batch_size', args.batch_size),
           ('seed', args.seed)) if value is not None]


def parse_bandwidth(text: str | None) -> float | str | None:
  """--bandwidth: None, 'auto', or a cutoff in Hz."""
  if text is None or text == 'auto':
    return text
  try:
    return float(text)
  except ValueError:
    raise ValueError(f"--bandwidth {text!r}: give 'auto' or a cutoff in Hz, as in --bandwidth 8000") from None


def find_inputs(inputs: list[str], output_dir: pathlib.Path) -> list[tuple[pathlib.Path, pathlib.Path]]:
  """(input file, output file) pairs: a file's output is OUTPUT/<stem>.wav, a folder's files mirror
  their paths below it. Raises a ValueError for an input that does not exist or holds no audio."""
  from nuwave_jax.data import audio as audio_io
  pairs = []
  for name in inputs:
    path = pathlib.Path(name)
    if path.is_dir():
      files = audio_io.find_audio_files(path)
      if not files:
        raise ValueError(f'{path}: a folder with no audio files ({", ".join(audio_io.AUDIO_EXTENSIONS)})')
      pairs += [(f, output_dir / f.relative_to(path).with_suffix('.wav')) for f in files]
    elif path.exists():
      pairs.append((path, output_dir / (path.stem + '.wav')))
    else:
      raise ValueError(f'{path}: no such file or folder')
  return pairs


def check_outputs(pairs: list[tuple[pathlib.Path, pathlib.Path]]) -> tuple[list, list[str]]:
  """(the pairs whose output overwrites no input and no other pair's output, an error for each of the
  others)."""
  inputs = {path.resolve() for path, _ in pairs}
  kept, errors, planned = [], [], {}
  for path, out_path in pairs:
    if out_path.resolve() in inputs:
      errors.append(f'{path}: its output {out_path} would overwrite an input; choose another --output')
    elif out_path.resolve() in planned:
      errors.append(f'{path}: {planned[out_path.resolve()]} already writes {out_path}')
    else:
      planned[out_path.resolve()] = path
      kept.append((path, out_path))
  return kept, errors


@dataclasses.dataclass
class PreparedFile:
  """A decoded input on its way to its output."""
  path: pathlib.Path
  out_path: pathlib.Path
  condition: object               # a families.Condition
  float_samples: bool             # the input goes beyond full scale: written as float


class UpsampleRun:
  """The files of one `upsample` command: read and conditioned one by one, sampled in groups of up
  to GROUP_SECONDS of audio, written; the 48 kHz ground truth of --simulate scored at the end."""

  def __init__(self, upsampler, args):
    self.upsampler, self.args = upsampler, args
    self.bandwidth = parse_bandwidth(args.bandwidth)
    upsampler.check_bandwidth(self.bandwidth)
    self.seed = upsampler.config.sample.seed
    self.group: list[PreparedFile] = []
    self.simulated: list[tuple[pathlib.Path, pathlib.Path, np.ndarray]] = []  # 48 kHz ground truth [T]
    self.done = self.failures = 0

  def add(self, path: pathlib.Path, out_path: pathlib.Path) -> None:
    """Reads one input and queues it (sampling the group once it is full); a file that cannot be
    upsampled is counted and named in one line."""
    from nuwave_jax import inference
    try:
      audio, rate = inference.read_input(path, mono=self.args.mono)
      if self.args.simulate is not None and rate == self.upsampler.sample_rate_hz:
        self.simulated.append((path, out_path, self.ground_truth(path)))
        return
      try:
        condition, note = self.upsampler.condition_from_file(audio, rate, path, self.args.resample, self.bandwidth)
      except inference.InputError as error:
        only = f'; --simulate takes only {self.upsampler.sample_rate_hz} Hz files as ground truth' \
            if self.args.simulate is not None else ''
        raise inference.InputError(f'{error}{only}') from None
    except inference.InputError as error:
      self.fail(error)
      return
    if note:
      print(f'{path}: {rate} Hz, {note}')
    float_samples = float(np.max(np.abs(audio))) > 1.0
    if condition is None:  # nothing to add: the file's band already reaches 24 kHz
      hint = '' if self.bandwidth else ', --bandwidth auto looks for a lower cutoff'
      resampled = '' if rate == self.upsampler.sample_rate_hz else ' resampled'
      self.write(path, out_path, inference.full_band_copy(audio, rate, self.upsampler.sample_rate_hz), float_samples,
                 f'  (already full band at {self.upsampler.sample_rate_hz} Hz: copied{resampled}; --simulate RATE '
                 f'scores the model on it{hint})')
      return
    self.group.append(PreparedFile(path, out_path, condition, float_samples))
    if sum(item.condition.signal.size for item in self.group) >= GROUP_SECONDS * self.upsampler.sample_rate_hz:
      self.flush()

  def ground_truth(self, path) -> np.ndarray:
    """A 48 kHz file read as evaluate reads its files: one channel, trimmed, peak 1."""
    from nuwave_jax import evaluation
    from nuwave_jax import inference
    from nuwave_jax.data import audio as audio_io
    if self.args.simulate == 0 and self.upsampler.input_rate_hz is None:
      raise inference.InputError(f'{path}: {self.upsampler.family.title} simulates any rate: give it, as in '
                                 '--simulate 16000')
    try:
      reference = audio_io.utterance_to_float(
          audio_io.prepare_utterance(path, self.upsampler.config.data.trim_top_db))
    except audio_io.AudioError as error:
      raise inference.InputError(str(error)) from None
    multiple = self.upsampler.trim_multiple
    if not evaluation.scorable([(path, reference)], multiple)[0]:
      raise inference.InputError(f'{path}: cannot be scored (silent, or shorter than {multiple} samples once trimmed)')
    return reference

  def flush(self) -> None:
    """Samples the queued files together and writes them."""
    from tqdm import tqdm

    from nuwave_jax import inference
    if not self.group:
      return
    lengths = [len(channel) for item in self.group for channel in item.condition.signal]
    with tqdm(total=self.upsampler.count_chunks(lengths), unit='chunk', desc='sampling', dynamic_ncols=True) as bar:
      outputs = self.upsampler.sample([item.condition for item in self.group],
                                      [inference.seed_for(str(item.path), self.seed) for item in self.group],
                                      bar.update)
    for item, output in zip(self.group, outputs):
      self.write(item.path, item.out_path, self.upsampler.finish(item.condition, output, self.args.keep_input_band),
                 item.float_samples)
    self.group.clear()

  def score_simulated(self) -> None:
    """Upsamples the --simulate ground truth from its simulated input and prints its scores."""
    from tqdm import tqdm

    from nuwave_jax import evaluation
    if not self.simulated:
      return
    upsampler, keep = self.upsampler, self.args.keep_input_band
    utterances = [(str(path), reference) for path, _, reference in self.simulated]
    total = upsampler.count_chunks([len(evaluation.prepare_reference(r, upsampler.trim_multiple))
                                    for _, r in utterances])
    with tqdm(total=total, unit='chunk', desc='sampling', dynamic_ncols=True) as bar:
      result = evaluation.evaluate(upsampler, utterances, 1, self.seed, bar.update, keep, self.args.simulate or None)
    outputs = result.outputs_keep_input_band if keep else result.outputs
    for (path, out_path, _), scores, output in zip(self.simulated, result.report['per_utterance'], outputs):
      m, baseline = scores['model_keep_input_band' if keep else 'model'], scores['input']
      self.write(path, out_path, output, False, f"  SNR {m['snr']:.2f} dB, LSD {m['lsd']:.3f} "
                                                f"(input: {baseline['snr']:.2f} dB, {baseline['lsd']:.3f})")

  def write(self, path, out_path, audio: np.ndarray, float_samples: bool, note: str = '') -> None:
    from nuwave_jax.data import audio as audio_io
    try:
      audio_io.write_wav(out_path, audio, self.upsampler.sample_rate_hz, float_samples=float_samples)
    except audio_io.AudioError as error:
      self.fail(error)
      return
    extra = '  (32-bit float WAV: the input goes beyond full scale)' if float_samples else ''
    print(f'{path} -> {out_path}{extra}{note}')
    self.done += 1

  def fail(self, error: Exception) -> None:
    print(f'error: {error}', file=sys.stderr)
    self.failures += 1


def main(argv=None) -> int:
  args, overrides = common.parse(parser(), argv)
  if args.checkpoint is None:
    from nuwave_jax import models
    args.checkpoint = models.DEFAULT
    print(f'upsampling with the bundled {models.DEFAULT} (nuwave-jax models lists it); {models.OFFICIAL}')
  try:
    upsampler = common.load_upsampler(args.checkpoint, not args.no_ema, sample_overrides(args) + overrides,
                                      args.schedule, args.steps)
    run = UpsampleRun(upsampler, args)
    output_dir = pathlib.Path(args.output)
    if output_dir.exists() and not output_dir.is_dir():
      raise ValueError(f'--output {output_dir}: exists and is not a folder')
    pairs, errors = check_outputs(find_inputs(args.inputs, output_dir))
    output_dir.mkdir(parents=True, exist_ok=True)
  except (OSError, ValueError) as error:
    return common.fail(error)
  for error in errors:
    run.fail(error)
  for path, out_path in pairs:
    run.add(path, out_path)
  run.flush()
  try:
    run.score_simulated()
  except ValueError as error:
    return common.fail(error)
  print(f'upsampled {run.done} file(s) to {output_dir}' + (f'; {run.failures} failed' if run.failures else ''))
  return 1 if run.failures else 0


if __name__ == '__main__':
  sys.exit(main())
