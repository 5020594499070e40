"""nuwave-jax evaluate: score a checkpoint with the paper's metrics over N sampling runs.

  nuwave-jax evaluate --checkpoint runs/nuwave_x2 --data data/speech/eval --output reports/x2

--data is a folder of audio files (any format and rate), read as a dataset's utterances are prepared:
48 kHz, trimmed at the checkpoint's data.trim_top_db (15 dB: the paper's test set was trimmed too),
peak-normalised, 16-bit; or 'config' for the checkpoint's own eval split (VCTK's test speakers, a
folder's eval/), which gives the same numbers for the same files. Writes OUTPUT/report.json (SNR, LSD,
LSD-HF, LSD-LF: mean and std over runs, linear interpolation beside the model, per utterance) and
OUTPUT/spectrograms/*.png. Utterances that cannot be scored (silent, shorter than the ratio) are left
out with a warning naming them.
"""

import argparse
import pathlib
import sys

from nuwave_jax.cli import common


def parser() -> argparse.ArgumentParser:
  p = common.parser('evaluate', __doc__, 'Score a checkpoint (SNR, LSD, LSD-HF, LSD-LF) on 48 kHz ground truth '
                    'against linear interpolation, over N sampling runs.')
  p.add_argument('--checkpoint', required=True, metavar='DIR', help='a training workdir or a converted checkpoint')
  p.add_argument('--data', required=True, metavar='DIR',
                 help="a folder of 48000 Hz ground truth (trimmed as the data), or 'config': its eval split")
  p.add_argument('--output', required=True, metavar='DIR', help='folder for report.json and spectrograms')
  p.add_argument('--runs', type=int, default=5, metavar='N', help='sampling runs (the paper: 5)')
  p.add_argument('--limit', type=int, metavar='N', help='only the first N utterances')
  p.add_argument('--plots', type=int, default=3, metavar='N', help='spectrogram images to write')
  p.add_argument('--keep-input-band', action='store_true',
                 help="also score the outputs with the input's own band kept below its cutoff")
  p.add_argument('--noise-scale', type=float, metavar='X', help="each step's added noise x X, in [0, 1]")
  p.add_argument('--seed', type=int, metavar='N', help='sampling seed (each file\'s also depends on its name)')
  p.add_argument('--no-ema', action='store_true', help='the raw instead of the EMA parameters')
  common.add_overrides_help(p, 'sample.batch_size=4 (defaults: the checkpoint\'s config.json)')
  return p


def load_utterances(data: str, upsampler, limit: int | None):
  """(name, 48 kHz audio) pairs from a folder, or from the checkpoint config's eval split."""
  from nuwave_jax.data import audio as audio_io
  if data == 'config':
    from nuwave_jax.data import pipeline  # TensorFlow: only for a prepared split
    return pipeline.eval_utterances(upsampler.config, limit)
  folder = pathlib.Path(data)
  if not folder.is_dir():
    raise FileNotFoundError(f'--data {folder} is not a folder')
  utterances = audio_io.read_utterances(folder, upsampler.config.data.trim_top_db, limit)
  if not utterances:
    raise FileNotFoundError(f'--data {folder} holds no audio files ({", ".join(audio_io.AUDIO_EXTENSIONS)})')
  return utterances


def main(argv=None) -> int:
  args, overrides = common.parse(parser(), argv)
  from tqdm import tqdm

  from nuwave_jax import evaluation
  from nuwave_jax import inference
  flags = [f'sample.{key}={value}' for key, value in (('noise_scale', args.noise_scale), ('seed', args.seed))
           if value is not None]
  try:
    if args.runs < 1:
      raise ValueError(f'--runs {args.runs}: must be at least 1')
    upsampler = inference.Upsampler.from_checkpoint(args.checkpoint, use_ema=not args.no_ema,
                                                    overrides=flags + overrides)
    if upsampler.any_rate:
      raise ValueError(f'{args.checkpoint} is a NU-Wave 2 checkpoint: evaluate scores NU-Wave checkpoints; '
                       'score a NU-Wave 2 one on a file with upsample --simulate RATE')
    utterances, skipped = evaluation.scorable(load_utterances(args.data, upsampler, args.limit),
                                              upsampler.trim_multiple)
    for reason in skipped:
      print(f'warning: not scored: {reason}', file=sys.stderr)
    if not utterances:
      raise ValueError(f'--data {args.data}: no utterance can be scored')
  except (FileNotFoundError, ValueError) as error:
    return common.fail(error)
  ratio, multiple = upsampler.ratio, upsampler.trim_multiple
  total = args.runs * upsampler.count_chunks([len(evaluation.prepare_reference(a, multiple)) for _, a in utterances])
  with tqdm(total=total, unit='chunk', desc=f'{args.runs} runs', dynamic_ncols=True) as bar:
    result = evaluation.evaluate(upsampler, utterances, args.runs, upsampler.config.sample.seed, bar.update,
                                 args.keep_input_band)
  report = result.report
  report.update(checkpoint=str(args.checkpoint), data=args.data, not_scored=skipped,
                sample=upsampler.config.sample.to_dict())
  output = pathlib.Path(args.output)
  evaluation.write_report(report, output / 'report.json')
  for i in range(min(args.plots, len(utterances))):
    name = utterances[i][0]
    signals = {'ground truth (48 kHz)': result.references[i],
               f'input ({upsampler.input_rate_hz} Hz, linear interpolation)': result.conditions[i],
               'NU-Wave output': result.outputs[i]}
    if args.keep_input_band:
      signals['NU-Wave output, input band kept'] = result.outputs_keep_input_band[i]
    evaluation.plot_spectrograms(output / 'spectrograms' / f'{i:03d}_{pathlib.Path(name).stem}.png', name,
                                 signals)
  print(f'{len(utterances)} utterances x {args.runs} runs, x{ratio}:')
  print('| | SNR (dB) | LSD | LSD-HF | LSD-LF |\n|---|---|---|---|---|')
  rows = [('NU-Wave', 'model'), ('NU-Wave, input band kept', 'model_keep_input_band')]
  for label, key in rows:
    if key in report:
      m = report[key]
      print(f"| {label} | {m['snr']['mean']:.2f} ± {m['snr']['std']:.2f} | {m['lsd']['mean']:.3f} ± "
            f"{m['lsd']['std']:.3f} | {m['lsd_hf']['mean']:.3f} | {m['lsd_lf']['mean']:.3f} |")
  lin = report['linear']
  print(f"| linear | {lin['snr']:.2f} | {lin['lsd']:.3f} | {lin['lsd_hf']:.3f} | {lin['lsd_lf']:.3f} |")
  print(f'wrote {output / "report.json"}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
