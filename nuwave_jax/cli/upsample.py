"""nuwave-jax upsample: audio files and folders to 48 kHz with a trained or converted checkpoint.

  nuwave-jax upsample --checkpoint runs/nuwave_x2 speech_24k.wav recordings/ --output upsampled/

Inputs are files or folders (searched recursively for audio files; the output tree mirrors the
input's). NU-Wave: a file must be at the checkpoint's input rate, 48000 / data.ratio Hz (24000 Hz for
x2, 16000 Hz for x3); --resample takes any other rate. NU-Wave 2: any rate from 6000 Hz, its band
half the file's rate, or its content's cutoff with --bandwidth auto (detected from the spectrum) or
--bandwidth HZ; a file whose band is already full at 48 kHz is copied (resampled to 48 kHz if it is
above) with a note. With --simulate a 48000 Hz file is ground truth, scored as `nuwave-jax evaluate`
scores it. Every channel is upsampled (--mono mixes them first). Each output is OUTPUT/<path>.wav:
16-bit PCM, or 32-bit float when the input goes beyond full scale. A file that cannot be upsampled
gets a one-line error and the others still finish (exit status 1).
"""

import argparse
import pathlib
import sys

import numpy as np

from nuwave_jax.cli import common

# Files are read and sampled in groups of at most this much audio (all channels), which bounds memory.
GROUP_SECONDS = 600.0


def parser() -> argparse.ArgumentParser:
  p = common.parser('upsample', __doc__, "Upsample audio files and folders to 48 kHz. Inputs at the checkpoint's "
                    'input rate, 48000 / data.ratio Hz (24000 Hz for x2, 16000 Hz for x3); outputs mirror the inputs.')
  p.add_argument('inputs', nargs='+', metavar='INPUT', help='audio files or folders (searched recursively)')
  p.add_argument('--checkpoint', required=True, metavar='DIR', help='a training workdir or a converted checkpoint')
  p.add_argument('--output', required=True, metavar='DIR', help='folder for the 48 kHz WAV files')
  p.add_argument('--simulate', nargs='?', type=int, const=0, metavar='RATE',
                 help='48000 Hz inputs are ground truth: upsample their version simulated at RATE Hz (NU-Wave: '
                      'its own rate), print SNR/LSD')
  p.add_argument('--resample', action='store_true', help="resample other rates to the checkpoint's input rate")
  p.add_argument('--mono', action='store_true', help='mix the channels to one (default: every channel upsampled)')
  p.add_argument('--keep-input-band', action='store_true',
                 help="keep the input's own audio below its cutoff; the model adds the band above")
  p.add_argument('--schedule', default='paper', metavar='S', help="NU-Wave: 'paper' (8 steps), 'training' or b1,b2,...")
  p.add_argument('--noise-scale', type=float, metavar='X',
                 help="NU-Wave: each step's added noise x X; NU-Wave 2: the starting noise x X; in [0, 1]")
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


def schedule_overrides(args, checkpoint) -> list[str]:
  """The flags as config.sample overrides; --schedule 'training' reads the checkpoint's diffusion."""
  from nuwave_jax import configuration
  from nuwave_jax import diffusion
  saved = pathlib.Path(checkpoint, configuration.CONFIG_FILENAME)
  saved = configuration.load_saved_config(checkpoint) if saved.is_file() else None  # else restoring names it
  nuwave2 = saved is not None and saved.model.name == 'nuwave2'
  given = lambda *flags: [flag for flag, value in flags if value not in (None, 'paper')]
  wrong = given(('--schedule', args.schedule)) if nuwave2 else given(('--steps', args.steps))
  if args.bandwidth is not None and saved is not None and not nuwave2:
    wrong.append('--bandwidth')
  if wrong:
    family, instead = ('NU-Wave 2', '--steps') if nuwave2 else ('NU-Wave', '--schedule')
    raise ValueError(f'{", ".join(wrong)}: not for a {family} checkpoint (use {instead})')
  overrides = [f'sample.{key}={value}' for key, value in
               (('noise_scale', args.noise_scale), ('chunk_seconds', args.chunk_seconds),
                ('overlap_seconds', args.overlap_seconds), ('batch_size', args.batch_size),
                ('seed', args.seed), ('steps', args.steps)) if value is not None]
  if args.schedule == 'training' and saved is not None:
    d = saved.diffusion
    betas = diffusion.training_betas(d.num_steps, d.beta_start, d.beta_end)
    overrides.append(f'sample.betas={tuple(float(b) for b in betas)}')
  elif args.schedule != 'paper':
    try:
      overrides.append(f'sample.betas={tuple(float(b) for b in args.schedule.split(","))}')
    except ValueError:
      raise ValueError(f"--schedule {args.schedule!r}: use 'paper', 'training' or comma-separated betas") from None
  return overrides


def parse_bandwidth(text: str | None) -> float | str | None:
  """--bandwidth: None, 'auto', or a cutoff in Hz of at least NU-Wave 2's lowest (3000)."""
  from nuwave_jax import configuration
  if text is None or text == 'auto':
    return text
  lowest = configuration.NUWAVE2_MIN_RATE_HZ // 2
  try:
    hz = float(text)
  except ValueError:
    raise ValueError(f"--bandwidth {text!r}: give 'auto' or a cutoff in Hz, as in --bandwidth 8000") from None
  if not hz >= lowest:
    raise ValueError(f'--bandwidth {text}: below {lowest} Hz, the lowest cutoff NU-Wave 2 was trained for')
  return hz


def input_cutoff(audio: np.ndarray, file_rate: int, bandwidth, sample_rate_hz: int) -> tuple[float, str]:
  """(the cutoff in Hz NU-Wave 2 takes for a file, a note saying where it came from): half the
  file's rate (at most 24 kHz), a detected (`bandwidth` 'auto') or a forced one, never above that."""
  from nuwave_jax import bandwidth as bandwidth_lib
  from nuwave_jax import configuration
  nyquist = min(file_rate, sample_rate_hz) / 2
  if bandwidth is None:
    return nyquist, ''
  if bandwidth == 'auto':
    cutoff = min(bandwidth_lib.effective_bandwidth(audio, file_rate), nyquist)
    lowest = configuration.NUWAVE2_MIN_RATE_HZ // 2
    if cutoff < lowest:
      return lowest, (f'content up to {cutoff / 1000:g} kHz (detected), below the lowest cutoff: '
                      f'{lowest / 1000:g} kHz used')
    return cutoff, f'content up to {cutoff / 1000:g} kHz (detected)'
  return min(bandwidth, nyquist), f'band up to {min(bandwidth, nyquist) / 1000:g} kHz (--bandwidth)'


def find_inputs(inputs: list[str], output_dir: pathlib.Path):
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


def main(argv=None) -> int:
  args, overrides = common.parse(parser(), argv)
  import scipy.signal
  from tqdm import tqdm

  from nuwave_jax import band_merge
  from nuwave_jax import evaluation
  from nuwave_jax import inference
  from nuwave_jax.data import audio as audio_io
  try:
    upsampler = inference.Upsampler.from_checkpoint(args.checkpoint, use_ema=not args.no_ema,
                                                    overrides=schedule_overrides(args, args.checkpoint)
                                                    + overrides)
    upsampler.chunk_samples()
    bandwidth = parse_bandwidth(args.bandwidth)
    output_dir = pathlib.Path(args.output)
    if output_dir.exists() and not output_dir.is_dir():
      raise inference.InputError(f'--output {output_dir}: exists and is not a folder')
    pairs = find_inputs(args.inputs, output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
  except (OSError, ValueError) as error:
    return common.fail(error)
  config = upsampler.config
  rate, seed = config.data.sample_rate_hz, config.sample.seed
  simulate = args.simulate is not None
  simulate_rate = args.simulate or upsampler.input_rate_hz
  inputs = {path.resolve() for path, _ in pairs}
  failures, done = 0, 0
  planned: dict[pathlib.Path, pathlib.Path] = {}
  group = []  # (path, output path, conditions [C, T], the input's band at 48 kHz [C, T], bands, cutoff, float)
  simulated = []  # (path, output path, 48 kHz ground truth [T])

  def write(path, out_path, audio, float_samples, note=''):
    nonlocal done, failures
    try:
      audio_io.write_wav(out_path, audio, rate, float_samples=float_samples)
    except audio_io.AudioError as error:
      print(f'error: {path}: {error}', file=sys.stderr)
      failures += 1
      return
    extra = '  (32-bit float WAV: the input goes beyond full scale)' if float_samples else ''
    print(f'{path} -> {out_path}{extra}{note}')
    done += 1

  def flush():
    if not group:
      return
    signals = [(i, c) for i, item in enumerate(group) for c in item[2]]
    bands = [b for item in group for b in item[4]] if upsampler.any_rate else None
    with tqdm(total=upsampler.count_chunks([len(c) for _, c in signals]), unit='chunk', desc='sampling',
              dynamic_ncols=True) as bar:
      outputs = upsampler.upsample_signals([c for _, c in signals],
                                           [inference.seed_for(str(group[i][0]), seed) for i, _ in signals],
                                           bar.update, bands)
    for i, (path, out_path, _, kept, _, cutoff_hz, float_samples) in enumerate(group):
      audio = np.stack([o for (j, _), o in zip(signals, outputs) if j == i])
      if args.keep_input_band:
        audio = band_merge.keep_input_band(audio, kept, cutoff_hz)
      write(path, out_path, audio, float_samples)
    group.clear()

  for path, out_path in pairs:
    try:
      if out_path.resolve() in inputs:
        raise inference.InputError(f'{path}: its output {out_path} would overwrite an input; '
                                   'choose another --output')
      if out_path.resolve() in planned:
        raise inference.InputError(f'{path}: {planned[out_path.resolve()]} already writes {out_path}')
      audio, file_rate = inference.read_input(path, mono=args.mono)
      if simulate and file_rate == rate:
        if upsampler.any_rate and not args.simulate:
          raise inference.InputError(f'{path}: NU-Wave 2 simulates any rate: give it, as in --simulate 16000')
        try:  # read as evaluate reads its files: one channel, trimmed, peak 1
          reference = audio_io.utterance_to_float(audio_io.prepare_utterance(path, config.data.trim_top_db))
        except audio_io.AudioError as error:
          raise inference.InputError(str(error)) from None
        if not evaluation.scorable([(path, reference)], upsampler.trim_multiple)[0]:
          raise inference.InputError(f'{path}: cannot be scored (silent, or shorter than '
                                     f'{upsampler.trim_multiple} samples once trimmed)')
        planned[out_path.resolve()] = path
        simulated.append((path, out_path, reference))
        continue
      cutoff_hz = None if upsampler.any_rate else upsampler.input_rate_hz / 2
      if upsampler.any_rate:
        cutoff_hz, note = input_cutoff(audio, file_rate, bandwidth, rate)
        if note:
          print(f'{path}: {file_rate} Hz, {note}')
        if cutoff_hz >= rate / 2:  # nothing to add: the file's band already reaches 24 kHz
          full = audio if file_rate == rate else \
              scipy.signal.resample_poly(audio, rate, file_rate, axis=-1).astype(np.float32)
          planned[out_path.resolve()] = path
          hint = '' if bandwidth else ', --bandwidth auto looks for a lower cutoff'
          write(path, out_path, full, float(np.max(np.abs(audio))) > 1.0,
                f'  (already full band at {rate} Hz: copied' + ('' if file_rate == rate else ' resampled') +
                f'; --simulate RATE scores the model on it{hint})')
          continue
      try:
        conditions, kept, bands = upsampler.condition_from_file(audio, file_rate, path, args.resample,
                                                                cutoff_hz if upsampler.any_rate else None)
      except inference.InputError as error:
        only = f'; --simulate takes only {rate} Hz files as ground truth' if simulate else ''
        raise inference.InputError(f'{error}{only}') from None
    except inference.InputError as error:
      print(f'error: {error}', file=sys.stderr)
      failures += 1
      continue
    planned[out_path.resolve()] = path
    group.append((path, out_path, conditions, kept, bands, cutoff_hz, float(np.max(np.abs(audio))) > 1.0))
    if sum(item[2].size for item in group) >= GROUP_SECONDS * rate:
      flush()
  flush()

  if simulated:
    utterances = [(str(path), reference) for path, _, reference in simulated]
    multiple = upsampler.trim_multiple
    total = upsampler.count_chunks([len(evaluation.prepare_reference(r, multiple)) for _, r in utterances])
    with tqdm(total=total, unit='chunk', desc='sampling', dynamic_ncols=True) as bar:
      try:
        result = evaluation.evaluate(upsampler, utterances, 1, seed, bar.update, args.keep_input_band, simulate_rate)
      except ValueError as error:
        return common.fail(error)
    outputs = result.outputs_keep_input_band if args.keep_input_band else result.outputs
    for (path, out_path, _), scores, output in zip(simulated, result.report['per_utterance'], outputs):
      m, lin = scores['model_keep_input_band' if args.keep_input_band else 'model'], scores[upsampler.baseline]
      write(path, out_path, output, False, f"  SNR {m['snr']:.2f} dB, LSD {m['lsd']:.3f} "
                                           f"({upsampler.baseline}: {lin['snr']:.2f} dB, {lin['lsd']:.3f})")
  print(f'upsampled {done} file(s) to {output_dir}' + (f'; {failures} failed' if failures else ''))
  return 1 if failures else 0


if __name__ == '__main__':
  sys.exit(main())
