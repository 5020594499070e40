"""nuwave-jax evaluate: score a checkpoint with the paper's metrics over N sampling runs.

  nuwave-jax evaluate --checkpoint runs/nuwave_x2 --data data/speech/eval --output reports/x2
  nuwave-jax evaluate --checkpoint ckpt/nuwave2 --data vctk_test/ --rates 8000 16000 --output r2

--data is a folder of audio files (any format and rate), read as a dataset's utterances are prepared:
48 kHz, trimmed at the checkpoint's data.trim_top_db (15 dB: the paper's test set was trimmed too),
peak-normalised, 16-bit; or 'config' for the checkpoint's own eval split (VCTK's test speakers, a
folder's eval/), which gives the same numbers for the same files. The checkpoint is scored at each of
--rates (default: NU-Wave's one input rate; NU-Wave 2's config's data.eval_rates_hz), each input
simulated from the ground truth as the family's test set makes it, beside that input itself as the
network's condition brings it to 48 kHz (NU-Wave: linear interpolation; NU-Wave 2: resampling).
Writes OUTPUT/report.json (per rate: SNR, LSD, LSD-HF, LSD-LF, mean and std over runs, the input
beside the model, per utterance) and OUTPUT/spectrograms/*.png. Utterances that cannot be scored
(silent, too short) are left out with a warning naming them.
"""

import argparse
import pathlib
import sys

from nuwave_jax.cli import common


def parser() -> argparse.ArgumentParser:
  p = common.parser('evaluate', __doc__, 'Score a checkpoint (SNR, LSD, LSD-HF, LSD-LF) on 48 kHz ground truth '
                    'beside its input, at each input rate, over N sampling runs.')
  p.add_argument('--checkpoint', required=True, metavar='DIR|NAME',
                 help='a training workdir, a converted checkpoint or a bundled model (nuwave-jax models)')
  p.add_argument('--data', required=True, metavar='DIR',
                 help="a folder of 48000 Hz ground truth (trimmed as the data), or 'config': its eval split")
  p.add_argument('--output', required=True, metavar='DIR', help='folder for report.json and spectrograms')
  p.add_argument('--runs', type=int, default=5, metavar='N', help='sampling runs (the paper: 5)')
  p.add_argument('--rates', type=int, nargs='+', metavar='HZ',
                 help="input rates to simulate (default: NU-Wave's one; NU-Wave 2's config's data.eval_rates_hz)")
  p.add_argument('--limit', type=int, metavar='N', help='only the first N utterances')
  p.add_argument('--plots', type=int, default=3, metavar='N', help='spectrogram images to write')
  p.add_argument('--keep-input-band', action='store_true',
                 help="also score the outputs with the input's own band kept below its cutoff")
  p.add_argument('--steps', type=int, metavar='N', help='NU-Wave 2: N DDIM steps on a uniform log-SNR grid')
  p.add_argument('--schedule', metavar='S', help="NU-Wave: 'paper' (8 steps, the default), 'training' or b1,b2,...")
  p.add_argument('--noise-scale', type=float, metavar='X',
                 help="NU-Wave: each step's added noise x X; NU-Wave 2: the starting noise x X; in [0, 1]")
  p.add_argument('--seed', type=int, metavar='N', help='sampling seed (each file\'s also depends on its name)')
  p.add_argument('--no-ema', action='store_true', help='the raw instead of the EMA parameters')
  p.add_argument('--step', type=int, metavar='N', help="a training run's checkpoint of step N (default: the latest)")
  common.add_multihost_flags(p)
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
  """The rates to score at: --rates, each one the checkpoint takes, or its family's default."""
  rates = args.rates or list(upsampler.family.eval_rates(upsampler.config))
  for rate in rates:
    try:
      upsampler.family.check_input_rate(upsampler.config, rate)
    except ValueError as error:
      raise ValueError(f'--rates: {error}') from None
  return rates


def _row(label: str, m: dict) -> str:
  if isinstance(m['snr'], dict):  # the model: mean and std over runs
    return (f"| {label} | {m['snr']['mean']:.2f} ± {m['snr']['std']:.2f} | {m['lsd']['mean']:.3f} ± "
            f"{m['lsd']['std']:.3f} | {m['lsd_hf']['mean']:.3f} | {m['lsd_lf']['mean']:.3f} |")
  return f"| {label} | {m['snr']:.2f} | {m['lsd']:.3f} | {m['lsd_hf']:.3f} | {m['lsd_lf']:.3f} |"


def main(argv=None) -> int:
  args, overrides = common.parse(parser(), argv)
  import jax
  from tqdm import tqdm

  from nuwave_jax import evaluation
  flags = [f'sample.{key}={value}' for key, value in (('noise_scale', args.noise_scale), ('seed', args.seed))
           if value is not None]
  try:
    if args.runs < 1:
      raise ValueError(f'--runs {args.runs}: must be at least 1')
    common.initialize_multihost(args)
    upsampler = common.load_upsampler(args.checkpoint, not args.no_ema, flags + overrides, args.schedule,
                                      args.steps, args.step)
    rates = input_rates(args, upsampler)
    utterances, skipped = evaluation.scorable(load_utterances(args.data, upsampler, args.limit),
                                              upsampler.trim_multiple)
    for reason in skipped:
      print(f'warning: not scored: {reason}', file=sys.stderr)
    if not utterances:
      raise ValueError(f'--data {args.data}: no utterance can be scored')
  except (FileNotFoundError, ValueError) as error:
    return common.fail(error)
  multiple, name = upsampler.trim_multiple, upsampler.family.title
  process = (jax.process_index(), jax.process_count())
  lengths = [len(evaluation.prepare_reference(a, multiple)) for _, a in utterances]
  mine = evaluation.split(lengths, *process)
  total = args.runs * len(rates) * upsampler.count_chunks([lengths[i] for i in mine])
  hosts = f' on {process[1]} hosts, this one {len(mine)} utterances' if process[1] > 1 else ''
  print(f'sampling on {upsampler.devices.describe()}{hosts}')
  results = {}
  with tqdm(total=total, unit='chunk', desc=f'{args.runs} runs x {len(rates)} rates', dynamic_ncols=True) as bar:
    for rate in rates:
      results[rate] = evaluation.evaluate(upsampler, utterances, args.runs, upsampler.config.sample.seed,
                                          bar.update, args.keep_input_band, rate, process)
  report = {'checkpoint': str(args.checkpoint), 'step': args.step, 'data': args.data,
            'family': upsampler.config.model.name, 'utterances': len(utterances), 'runs': args.runs,
            'input': upsampler.family.input_baseline, 'not_scored': skipped,
            'sample': upsampler.config.sample.to_dict(),
            'per_rate': {str(rate): r.report for rate, r in results.items()}}
  output = pathlib.Path(args.output)
  for rate, result in results.items():  # each host plots the first utterances it sampled
    for row, i in enumerate(result.indices):
      if i >= args.plots:
        continue
      signals = {'ground truth (48 kHz)': result.references[row],
                 f'input ({rate} Hz, {upsampler.family.input_baseline})': result.conditions[row],
                 f'{name} output': result.outputs[row]}
      if args.keep_input_band:
        signals[f'{name} output, input band kept'] = result.outputs_keep_input_band[row]
      stem = pathlib.Path(utterances[i][0]).stem
      evaluation.plot_spectrograms(output / 'spectrograms' / f'{i:03d}_{stem}_{rate}hz.png',
                                   f'{utterances[i][0]} ({rate} Hz input)', signals)
  if process[0] != 0:
    return 0
  evaluation.write_report(report, output / 'report.json')
  print(f'{len(utterances)} utterances x {args.runs} runs, {len(rates)} input rate(s):')
  print('| | SNR (dB) | LSD | LSD-HF | LSD-LF |\n|---|---|---|---|---|')
  for rate, result in results.items():
    r, at = result.report, f'{rate / 1000:g} kHz, '
    print(_row(f'{at}{name}', r['model']))
    if 'model_keep_input_band' in r:
      print(_row(f'{at}{name}, input band kept', r['model_keep_input_band']))
    print(_row(f'{at}input', r['input']))
  print(f'wrote {output / "report.json"}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
