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
import pathlib
import sys

import numpy as np

from nuwave_jax.cli import common


def parser() -> argparse.ArgumentParser:
  p = common.parser('upsample', __doc__, "Upsample audio files and folders to 48 kHz. NU-Wave: inputs at the "
                    "checkpoint's input rate (24000 Hz for x2, 16000 Hz for x3); NU-Wave 2: any rate from 6000 Hz. "
                    'Outputs mirror the inputs.',
                    usage='INPUT [INPUT ...] --output DIR [--checkpoint DIR|NAME] [flags]')
  p.add_argument('inputs', nargs='+', metavar='INPUT', help='audio files or folders (searched recursively)')
  p.add_argument('--checkpoint', metavar='DIR|NAME', help='a checkpoint or bundled model (default nuwave2-small-2step)')
  p.add_argument('--output', required=True, metavar='DIR', help='folder for the 48 kHz files and manifest.jsonl')
  p.add_argument('--format', choices=('wav', 'flac'), default='wav', help='of the outputs (default: wav)')
  p.add_argument('--sample-format', choices=('16', '24', 'float'), metavar='BITS',
                 help='16, 24 or float (default 16; float for WAV beyond full scale)')
  p.add_argument('--overwrite', action='store_true', help='redo outputs that are complete (default: skip them)')
  p.add_argument('--shard', metavar='I/N', help='only shard I (from 0) of N of the files, split by duration')
  p.add_argument('--workers', type=int, metavar='N', help='threads decoding files (default: one per core)')
  p.add_argument('--group-seconds', type=float, default=600.0, metavar='T',
                 help='audio decoded and sampled at a time (memory; default 600)')
  p.add_argument('--simulate', nargs='?', type=int, const=0, metavar='RATE',
                 help='score 48 kHz inputs upsampled from RATE (NU-Wave: its own rate)')
  p.add_argument('--resample', action='store_true', help="NU-Wave: resample other rates to the checkpoint's input rate")
  p.add_argument('--mono', action='store_true', help='mix the channels to one (default: every channel upsampled)')
  p.add_argument('--keep-input-band', action='store_true', help="keep the input's band; the model adds the rest")
  p.add_argument('--schedule', metavar='S', help="NU-Wave: 'paper' (8 steps, the default), 'training' or b1,b2,...")
  p.add_argument('--noise-scale', type=float, metavar='X',
                 help="NU-Wave: each step's noise x X; NU-Wave 2: the starting noise x X")
  p.add_argument('--steps', type=int, metavar='N', help='NU-Wave 2: N DDIM steps on a uniform log-SNR grid')
  p.add_argument('--bandwidth', metavar='auto|HZ',
                 help="NU-Wave 2: where content stops ('auto': per file; default: rate / 2)")
  p.add_argument('--chunk-seconds', type=float, metavar='T', help='long files are sampled in chunks of T s')
  p.add_argument('--overlap-seconds', type=float, metavar='T', help='of neighbouring chunks')
  p.add_argument('--batch-size', type=int, metavar='N', help='chunks per device per call')
  p.add_argument('--seed', type=int, metavar='N', help='sampling seed (each file\'s also depends on its name)')
  p.add_argument('--no-ema', action='store_true', help='the raw instead of the EMA parameters')
  common.add_multihost_flags(p)
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


def this_shard(args) -> tuple[int, int]:
  """(shard, shards) of this worker: --shard I/N, or this host of a multi-host run, or (0, 1)."""
  import jax

  from nuwave_jax import corpus
  multihost = args.multihost or args.coordinator_address
  if args.shard and multihost:
    raise ValueError('--shard and --multihost: each host of a multi-host run takes its own shard already')
  if args.shard:
    return corpus.parse_shard(args.shard)
  return (jax.process_index(), jax.process_count()) if multihost else (0, 1)


def ground_truth(path, upsampler, simulate_rate) -> np.ndarray:
  """A 48 kHz file read as evaluate reads its files (one channel, trimmed, peak 1), for --simulate."""
  from nuwave_jax import evaluation
  from nuwave_jax import inference
  from nuwave_jax.data import audio as audio_io
  if not simulate_rate and upsampler.input_rate_hz is None:
    raise inference.InputError(f'{path}: {upsampler.family.title} simulates any rate: give it, as in '
                               '--simulate 16000')
  try:
    reference = audio_io.utterance_to_float(audio_io.prepare_utterance(path, upsampler.config.data.trim_top_db))
  except audio_io.AudioError as error:
    raise inference.InputError(str(error)) from None
  multiple = upsampler.trim_multiple
  if not evaluation.scorable([(path, reference)], multiple)[0]:
    raise inference.InputError(f'{path}: cannot be scored (silent, or shorter than {multiple} samples once trimmed)')
  return reference


def score_simulated(upsampler, jobs, args, run) -> None:
  """--simulate: the 48 kHz files upsampled from their simulated input, scored, written."""
  from tqdm import tqdm

  from nuwave_jax import evaluation
  from nuwave_jax import inference
  found = []
  for job in jobs:
    try:
      found.append((job, ground_truth(job.path, upsampler, args.simulate)))
    except inference.InputError as error:
      run.on_message(f'error: {error}', True)
      run.summary.failed += 1
  if not found:
    return
  utterances = [(str(job.path), reference) for job, reference in found]
  total = upsampler.count_chunks([len(evaluation.prepare_reference(r, upsampler.trim_multiple)) for _, r in utterances])
  with tqdm(total=total, unit='chunk', desc='sampling', dynamic_ncols=True) as bar:
    result = evaluation.evaluate(upsampler, utterances, 1, upsampler.config.sample.seed, bar.update,
                                 args.keep_input_band, args.simulate or None)
  outputs = result.outputs_keep_input_band if args.keep_input_band else result.outputs
  for (job, _), scores, output in zip(found, result.report['per_utterance'], outputs):
    m, baseline = scores['model_keep_input_band' if args.keep_input_band else 'model'], scores['input']
    run.write_scored(job, output[None], f"SNR {m['snr']:.2f} dB, LSD {m['lsd']:.3f} (input: "
                     f"{baseline['snr']:.2f} dB, {baseline['lsd']:.3f})")


def main(argv=None) -> int:
  args, overrides = common.parse(parser(), argv)
  from tqdm import tqdm

  from nuwave_jax import corpus
  if args.checkpoint is None:
    from nuwave_jax import models
    args.checkpoint = models.DEFAULT
    print(f'upsampling with the bundled {models.DEFAULT} (nuwave-jax models lists it); {models.OFFICIAL}')
  try:
    output_dir = pathlib.Path(args.output)
    if output_dir.exists() and not output_dir.is_dir():
      raise ValueError(f'--output {output_dir}: exists and is not a folder')
    jobs, errors = corpus.find_jobs(args.inputs, output_dir, f'.{args.format}')
    common.initialize_multihost(args)
    index, count = this_shard(args)
    upsampler = common.load_upsampler(args.checkpoint, not args.no_ema, sample_overrides(args) + overrides,
                                      args.schedule, args.steps)
    progress = tqdm(unit='file', desc='upsampling', dynamic_ncols=True, mininterval=1.0)
    manifest = output_dir / (f'manifest-{index}-of-{count}.jsonl' if count > 1 else 'manifest.jsonl')
    message = lambda line, error=False: progress.write(line, file=sys.stderr if error else sys.stdout)
    run = corpus.CorpusRun(upsampler, mono=args.mono, resample=args.resample, bandwidth=parse_bandwidth(args.bandwidth),
                           keep_input_band=args.keep_input_band, file_format=args.format,
                           sample_format=args.sample_format, overwrite=args.overwrite, workers=args.workers,
                           manifest=manifest, seed=upsampler.config.sample.seed, progress=progress, on_message=message,
                           group_seconds=args.group_seconds,
                           error_hint='' if args.simulate is None else
                           f'; --simulate takes only {upsampler.sample_rate_hz} Hz files as ground truth')
  except (OSError, ValueError) as error:
    return common.fail(error)
  mine = corpus.shard(jobs, index, count)
  where = f'; shard {index} of {count}: {len(mine)} of {len(jobs)} files' if count > 1 else ''
  print(f'sampling on {upsampler.devices.describe()}, {upsampler.config.sample.batch_size} chunk(s) each per call'
        f'{where}')
  for error in errors if index == 0 else ():  # inputs with no output of their own: reported once
    run.on_message(f'error: {error}', True)
    run.summary.failed += 1
  simulated = [job for job in mine if args.simulate is not None
               and corpus.header_rate(job.path) == upsampler.sample_rate_hz]
  try:
    run.run([job for job in mine if job not in simulated])
    score_simulated(upsampler, simulated, args, run)
  except ValueError as error:
    return common.fail(error)
  finally:
    progress.close()
  for line in run.summary.lines():
    print(line)
  return 1 if run.summary.failed else 0


if __name__ == '__main__':
  sys.exit(main())
