"""Score a checkpoint with the paper's metrics (SNR, LSD, LSD-HF, LSD-LF) over N sampling runs.

  python evaluate.py --checkpoint runs/nuwave_x2 --data data/speech/eval --runs 5 --output reports/x2

--data is a folder of audio files (any format and rate), read as a dataset's utterances are prepared:
48 kHz, trimmed at the checkpoint's data.trim_top_db (15 dB: the paper's test set was trimmed too),
peak-normalised, 16-bit; or 'config' for the checkpoint's own eval split (config.data: VCTK's test
speakers, a folder's eval/), which gives the same numbers for the same files.
Writes OUTPUT/report.json (mean and std over runs, the linear-interpolation baseline beside the model,
per-utterance scores) and OUTPUT/spectrograms/*.png for the first --plots utterances. Utterances the
metrics cannot score (silent, or shorter than the ratio) are left out with a warning that names them.
"""

import argparse
import os
import pathlib
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

from tqdm import tqdm  # noqa: E402

from nuwave_jax import evaluation  # noqa: E402
from nuwave_jax import host_memory  # noqa: E402
from nuwave_jax import inference  # noqa: E402
from nuwave_jax.data import audio as audio_io  # noqa: E402
from nuwave_jax.data import pipeline  # noqa: E402


def load_utterances(data: str, upsampler, limit: int | None):
  """(name, 48 kHz audio) pairs from a folder, or from the checkpoint config's eval split."""
  if data == 'config':
    return pipeline.eval_utterances(upsampler.config, limit)
  folder = pathlib.Path(data)
  if not folder.is_dir():
    raise FileNotFoundError(f'--data {folder} is not a folder')
  utterances = audio_io.read_utterances(folder, upsampler.config.data.trim_top_db, limit)
  if not utterances:
    raise FileNotFoundError(f'--data {folder} holds no audio files ({", ".join(audio_io.AUDIO_EXTENSIONS)})')
  return utterances


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--checkpoint', required=True)
  parser.add_argument('--data', required=True, help="a folder of audio files, or 'config'")
  parser.add_argument('--output', required=True, help='folder for report.json and spectrograms')
  parser.add_argument('--runs', type=int, default=5, help='sampling runs (the paper: 5)')
  parser.add_argument('--limit', type=int, default=None, help='only the first N utterances')
  parser.add_argument('--plots', type=int, default=3, help='spectrogram images to write')
  parser.add_argument('--seed', type=int, default=None, help='default: config.sample.seed')
  parser.add_argument('--noise-scale', type=float, default=None,
                      help="each sampling step's added noise x this, in [0, 1] "
                           '(default: config.sample.noise_scale)')
  parser.add_argument('--no-ema', action='store_true')
  args = parser.parse_args(argv)
  try:
    upsampler = inference.Upsampler.from_checkpoint(args.checkpoint, use_ema=not args.no_ema,
                                                    noise_scale=args.noise_scale)
    if args.runs < 1:
      raise ValueError(f'--runs {args.runs}: must be at least 1')
    utterances, skipped = evaluation.scorable(load_utterances(args.data, upsampler, args.limit),
                                              upsampler.ratio)
    for reason in skipped:
      print(f'warning: not scored: {reason}', file=sys.stderr)
    if not utterances:
      raise ValueError(f'--data {args.data}: no utterance can be scored')
  except (FileNotFoundError, ValueError) as error:
    print(f'error: {error}', file=sys.stderr)
    return 2
  s = upsampler.config.sample
  seed = s.seed if args.seed is None else args.seed
  total = args.runs * upsampler.count_chunks(
      [len(a) // upsampler.ratio * upsampler.ratio for _, a in utterances], s.chunk_seconds,
      s.overlap_seconds)
  with tqdm(total=total, unit='chunk', desc=f'{args.runs} runs', dynamic_ncols=True) as bar:
    report, references, conditions, outputs = evaluation.evaluate(upsampler, utterances, args.runs, seed,
                                                                   bar.update)
  report['checkpoint'] = str(args.checkpoint)
  report['noise_scale'] = upsampler.config.sample.noise_scale
  report['data'] = args.data
  report['not_scored'] = skipped
  output = pathlib.Path(args.output)
  evaluation.write_report(report, output / 'report.json')
  for i in range(min(args.plots, len(utterances))):
    name = utterances[i][0]
    evaluation.plot_spectrograms(
        output / 'spectrograms' / f'{i:03d}_{pathlib.Path(name).stem}.png', name,
        {'ground truth (48 kHz)': references[i],
         f'input ({upsampler.input_rate_hz // 1000} kHz, linear interpolation)': conditions[i],
         'NU-Wave output': outputs[i]})
  m, lin = report['model'], report['linear']
  print(f"{len(utterances)} utterances x {args.runs} runs, x{upsampler.ratio}:")
  print('| | SNR (dB) | LSD | LSD-HF | LSD-LF |\n|---|---|---|---|---|')
  print(f"| NU-Wave | {m['snr']['mean']:.2f} ± {m['snr']['std']:.2f} | {m['lsd']['mean']:.3f} ± "
        f"{m['lsd']['std']:.3f} | {m['lsd_hf']['mean']:.3f} | {m['lsd_lf']['mean']:.3f} |")
  print(f"| linear | {lin['snr']:.2f} | {lin['lsd']:.3f} | {lin['lsd_hf']:.3f} | {lin['lsd_lf']:.3f} |")
  print(f'wrote {output / "report.json"}')
  return 0


if __name__ == '__main__':
  host_memory.reuse_freed_host_memory()  # before JAX starts its threads
  sys.exit(main())
