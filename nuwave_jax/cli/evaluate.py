"""nuwave-jax evaluate: score a checkpoint with the paper's metrics over N sampling runs.

  nuwave-jax evaluate --checkpoint runs/nuwave_x2 --data data/speech/eval --output reports/x2
  nuwave-jax evaluate --checkpoint ckpt/nuwave2 --data vctk_test/ --rates 8000 16000 --output r2

--data is a folder of audio files (any format and rate), read as a dataset's utterances are prepared:
48 kHz, trimmed at the checkpoint's data.trim_top_db (15 dB: the paper's test set was trimmed too),
peak-normalised, 16-bit; or 'config' for the checkpoint's own eval split (VCTK's test speakers, a
folder's eval/), which gives the same numbers for the same files. A NU-Wave checkpoint is scored at its
one input rate beside linear interpolation; a NU-Wave 2 checkpoint at each of --rates (default: its
config's data.eval_rates_hz), each input simulated from the ground truth as the original's test does,
beside that input itself. Writes OUTPUT/report.json (SNR, LSD, LSD-HF, LSD-LF: mean and std over runs,
the baseline beside the model, per utterance; NU-Wave 2: one such report per rate) and
OUTPUT/spectrograms/*.png. Utterances that cannot be scored (silent, too short) are left out with a
warning naming them.
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
  p.add_argument('--rates', type=int, nargs='+', metavar='HZ',
                 help="NU-Wave 2: input rates to simulate (default: the config's data.eval_rates_hz)")
  p.add_argument('--limit', type=int, metavar='N', help='only the first N utterances')
  p.add_argument('--plots', type=int, default=3, metavar='N', help='spectrogram images to write')
  p.add_argument('--keep-input-band', action='store_true',
                 help="also score the outputs with the input's own band kept below its cutoff")
  p.add_argument('--noise-scale', type=float, metavar='X',
                 help="NU-Wave: each step's added noise x X; NU-Wave 2: the starting noise x X; in [0, 1]")
  p.add_argument('--seed', type=int, metavar='N', help='sampling seed (each file\'s also depends on its name)')
  p.add_argument('--no-ema', action='store_true', help='the raw instead of the EMA parameters')
  p.add_argument('--step', type=int, metavar='N', help="a training run's checkpoint of step N (default: the latest)")
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


def input_rates(args, upsampler) -> list[int]:
  """The rates to score at: NU-Wave's one, or NU-Wave 2's --rates (its config's by default)."""
  from nuwave_jax import configuration
  if not upsampler.any_rate:
    if args.rates and args.rates != [upsampler.input_rate_hz]:
      raise ValueError(f'--rates: {args.checkpoint} upsamples {upsampler.input_rate_hz} Hz only (NU-Wave x'
                       f'{upsampler.ratio}); --rates is for NU-Wave 2 checkpoints')
    return [upsampler.input_rate_hz]
  rates = args.rates or list(upsampler.config.data.eval_rates_hz)
  top = upsampler.config.data.sample_rate_hz
  low = configuration.NUWAVE2_MIN_RATE_HZ
  bad = [r for r in rates if not low <= r < top]
  if bad:
    raise ValueError(f'--rates {bad}: NU-Wave 2 takes inputs from {low} to below {top} Hz')
  return rates


def _row(label: str, m: dict) -> str:
  if isinstance(m['snr'], dict):  # the model: mean and std over runs
    return (f"| {label} | {m['snr']['mean']:.2f} ± {m['snr']['std']:.2f} | {m['lsd']['mean']:.3f} ± "
            f"{m['lsd']['std']:.3f} | {m['lsd_hf']['mean']:.3f} | {m['lsd_lf']['mean']:.3f} |")
  return f"| {label} | {m['snr']:.2f} | {m['lsd']:.3f} | {m['lsd_hf']:.3f} | {m['lsd_lf']:.3f} |"


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
                                                    overrides=flags + overrides, step=args.step)
    rates = input_rates(args, upsampler)
    utterances, skipped = evaluation.scorable(load_utterances(args.data, upsampler, args.limit),
                                              upsampler.trim_multiple)
    for reason in skipped:
      print(f'warning: not scored: {reason}', file=sys.stderr)
    if not utterances:
      raise ValueError(f'--data {args.data}: no utterance can be scored')
  except (FileNotFoundError, ValueError) as error:
    return common.fail(error)
  multiple, name = upsampler.trim_multiple, 'NU-Wave 2' if upsampler.any_rate else 'NU-Wave'
  lengths = [len(evaluation.prepare_reference(a, multiple)) for _, a in utterances]
  total = args.runs * len(rates) * upsampler.count_chunks(lengths)
  results = {}
  desc = f'{args.runs} runs' + (f' x {len(rates)} rates' if upsampler.any_rate else '')
  with tqdm(total=total, unit='chunk', desc=desc, dynamic_ncols=True) as bar:
    for rate in rates:
      results[rate] = evaluation.evaluate(upsampler, utterances, args.runs, upsampler.config.sample.seed,
                                          bar.update, args.keep_input_band, rate)
  common_fields = dict(checkpoint=str(args.checkpoint), step=args.step, data=args.data, not_scored=skipped,
                       sample=upsampler.config.sample.to_dict())
  if upsampler.any_rate:
    report = {'utterances': len(utterances), 'runs': args.runs,
              'per_rate': {str(rate): r.report for rate, r in results.items()}, **common_fields}
  else:
    report = {**results[rates[0]].report, **common_fields}
  output = pathlib.Path(args.output)
  evaluation.write_report(report, output / 'report.json')
  baseline = 'linear interpolation' if upsampler.baseline == 'linear' else 'resampled to 48 kHz'
  for rate, result in results.items():
    suffix = f'_{rate}hz' if upsampler.any_rate else ''
    for i in range(min(args.plots, len(utterances))):
      signals = {'ground truth (48 kHz)': result.references[i], f'input ({rate} Hz, {baseline})': result.conditions[i],
                 f'{name} output': result.outputs[i]}
      if args.keep_input_band:
        signals[f'{name} output, input band kept'] = result.outputs_keep_input_band[i]
      stem = pathlib.Path(utterances[i][0]).stem
      evaluation.plot_spectrograms(output / 'spectrograms' / f'{i:03d}_{stem}{suffix}.png',
                                   f'{utterances[i][0]} ({rate} Hz input)', signals)
  scope = f'x{upsampler.ratio}' if not upsampler.any_rate else f'{len(rates)} input rates'
  print(f'{len(utterances)} utterances x {args.runs} runs, {scope}:')
  print('| | SNR (dB) | LSD | LSD-HF | LSD-LF |\n|---|---|---|---|---|')
  for rate, result in results.items():
    r, at = result.report, f'{rate / 1000:g} kHz, ' if upsampler.any_rate else ''
    print(_row(f'{at}{name}', r['model']))
    if 'model_keep_input_band' in r:
      print(_row(f'{at}{name}, input band kept', r['model_keep_input_band']))
    print(_row(f'{at}{upsampler.baseline}', r[upsampler.baseline]))
  print(f'wrote {output / "report.json"}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
