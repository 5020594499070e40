"""Upsample audio files to 48 kHz with a trained or converted NU-Wave checkpoint.

  python sample.py --checkpoint runs/nuwave_x2 speech_24k.wav other.flac --output upsampled/

Inputs at the checkpoint's input rate (24 kHz for x2, 16 kHz for x3) are upsampled as the model was
trained. --simulate treats 48 kHz inputs as ground truth (the low-resolution input is made from them)
and prints SNR and LSD against them; --resample resamples inputs of any other rate to the input rate.
Long files are sampled in overlapping chunks, batched across files. Each output is OUTPUT/<name>.wav:
16-bit PCM, or 32-bit float when the input goes beyond full scale (a float file's level is kept).
A file that cannot be upsampled gets a one-line error and the others still finish (exit status 1).
"""

import argparse
import os
import pathlib
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from nuwave_jax import diffusion  # noqa: E402
from nuwave_jax import host_memory  # noqa: E402
from nuwave_jax import inference  # noqa: E402
from nuwave_jax import metrics  # noqa: E402
from nuwave_jax.data import audio as audio_io  # noqa: E402

# Files are read and sampled in groups of at most this much audio, which bounds host memory.
GROUP_SECONDS = 600.0


def parse_schedule(text: str, config):
  """'paper' (config.sample.betas), 'training' (the 1000-step training schedule) or betas 'b1,b2,...'."""
  if text == 'paper':
    return list(config.sample.betas)
  if text == 'training':
    d = config.diffusion
    return np.asarray(diffusion.training_schedule(d.num_steps, d.beta_start, d.beta_end).betas)
  try:
    return [float(b) for b in text.split(',')]
  except ValueError:
    raise inference.InputError(f"--schedule {text!r}: use 'paper', 'training' or comma-separated betas")


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('inputs', nargs='+', help='audio files (any format soundfile reads)')
  parser.add_argument('--checkpoint', required=True, help='a training workdir or a converted checkpoint')
  parser.add_argument('--output', required=True, help='folder for the 48 kHz WAV files')
  parser.add_argument('--simulate', action='store_true',
                      help='48 kHz inputs are ground truth: upsample their simulated low-rate version')
  parser.add_argument('--resample', action='store_true',
                      help="resample inputs of other rates to the checkpoint's input rate first")
  parser.add_argument('--schedule', default='paper', help="'paper' (8 steps), 'training' or betas")
  parser.add_argument('--seed', type=int, default=None, help='default: config.sample.seed')
  parser.add_argument('--noise-scale', type=float, default=None,
                      help="each sampling step's added noise x this, in [0, 1] "
                           '(default: config.sample.noise_scale)')
  parser.add_argument('--chunk-seconds', type=float, default=None)
  parser.add_argument('--overlap-seconds', type=float, default=None)
  parser.add_argument('--batch-size', type=int, default=None, help='chunks sampled at once')
  parser.add_argument('--no-ema', action='store_true', help='use the raw instead of the EMA parameters')
  args = parser.parse_args(argv)

  try:
    upsampler = inference.Upsampler.from_checkpoint(args.checkpoint, use_ema=not args.no_ema,
                                                    noise_scale=args.noise_scale)
    upsampler.schedule = diffusion.make_schedule(parse_schedule(args.schedule, upsampler.config),
                                                 upsampler.config.sample.noise_scale)
    s = upsampler.config.sample
    seed = s.seed if args.seed is None else args.seed
    chunk = s.chunk_seconds if args.chunk_seconds is None else args.chunk_seconds
    overlap = s.overlap_seconds if args.overlap_seconds is None else args.overlap_seconds
    batch_size = s.batch_size if args.batch_size is None else args.batch_size
    if batch_size < 1:
      raise inference.InputError(f'--batch-size {batch_size}: must be at least 1')
    upsampler.chunk_samples(chunk, overlap)
    output_dir = pathlib.Path(args.output)
    if output_dir.exists() and not output_dir.is_dir():
      raise inference.InputError(f'--output {output_dir}: exists and is not a folder')
    output_dir.mkdir(parents=True, exist_ok=True)
  except (OSError, ValueError) as error:
    print(f'error: {error}', file=sys.stderr)
    return 2
  rate = upsampler.config.data.sample_rate_hz
  inputs = {pathlib.Path(path).resolve() for path in args.inputs}

  failures, done = 0, 0
  planned: dict[pathlib.Path, str] = {}
  group: list[tuple[str, pathlib.Path, np.ndarray, np.ndarray | None]] = []

  def flush():
    nonlocal done, failures
    if not group:
      return
    total = upsampler.count_chunks([len(c) for _, _, c, _ in group], chunk, overlap)
    with tqdm(total=total, unit='chunk', desc='sampling', dynamic_ncols=True) as bar:
      outputs = upsampler.upsample_signals([c for _, _, c, _ in group],
                                           [inference.seed_for(p, seed) for p, *_ in group],
                                           chunk, overlap, batch_size, bar.update)
    for (path, out_path, cond, reference), output in zip(group, outputs):
      beyond_full_scale = len(cond) > 0 and float(np.max(np.abs(cond))) > 1.0
      try:
        audio_io.write_wav(out_path, output, rate, float_samples=beyond_full_scale)
      except audio_io.AudioError as error:
        print(f'error: {path}: {error}', file=sys.stderr)
        failures += 1
        continue
      note = '  (32-bit float WAV: the input goes beyond full scale)' if beyond_full_scale else ''
      if reference is not None:
        note += (f'  SNR {metrics.snr(reference, output):.2f} dB, LSD {metrics.lsd(reference, output):.3f}'
                 f' (linear: {metrics.snr(reference, cond):.2f} dB, {metrics.lsd(reference, cond):.3f})')
      print(f'{path} -> {out_path}{note}')
      done += 1
    group.clear()

  for path in args.inputs:
    out_path = output_dir / (pathlib.Path(path).stem + '.wav')
    try:
      if out_path.resolve() in inputs:
        raise inference.InputError(f'{path}: its output {out_path} would overwrite an input; '
                                   'choose another --output')
      if out_path.resolve() in planned:
        raise inference.InputError(f'{path}: {planned[out_path.resolve()]} already writes {out_path}')
      audio, file_rate = inference.read_input(path)
      cond, reference = upsampler.condition_from_file(audio, file_rate, path, args.simulate, args.resample)
    except inference.InputError as error:
      print(f'error: {error}', file=sys.stderr)
      failures += 1
      continue
    planned[out_path.resolve()] = path
    group.append((path, out_path, cond, reference))
    if sum(len(c) for _, _, c, _ in group) >= GROUP_SECONDS * rate:
      flush()
  flush()
  print(f'upsampled {done} file(s) to {output_dir}' + (f'; {failures} failed' if failures else ''))
  return 1 if failures else 0


if __name__ == '__main__':
  host_memory.reuse_freed_host_memory()  # before JAX starts its threads
  sys.exit(main())
