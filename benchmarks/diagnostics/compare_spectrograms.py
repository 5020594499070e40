"""One clip upsampled by several models, their spectrograms stacked under its ground truth and input
(the figures of docs/models.md).

  python benchmarks/diagnostics/compare_spectrograms.py --models nuwave2-small nuwave2-small:2 \
      nuwave2-small-2step --rate 8000 --clip 3 --output docs/images/models_8khz.png

A model is a bundled name or a checkpoint directory; NAME:N samples it on a uniform grid of N steps
(evaluate's --steps N). The clip (the --clip-th file of --data, trimmed as evaluate trims) is simulated
at --rate from its 48 kHz ground truth, as `evaluate` does, and sampled with evaluate's seed; each
panel's title gives the model's LSD on it.
"""

import argparse
import os
import pathlib
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from benchmarks import common  # noqa: E402
from nuwave_jax import evaluation  # noqa: E402
from nuwave_jax import inference  # noqa: E402
from nuwave_jax.data import audio as audio_io  # noqa: E402


def load(model: str) -> tuple[inference.Upsampler, str]:
  """(the Upsampler of NAME or NAME:N, its label)."""
  name, _, steps = model.partition(':')
  upsampler = inference.load(name, overrides=[f'sample.steps={int(steps)}'] if steps else [])
  return upsampler, f'{pathlib.Path(name).name}, {upsampler.sampler.steps} steps'


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--models', nargs='+', required=True)
  parser.add_argument('--data', default=common.EVAL_DATA)
  parser.add_argument('--clip', type=int, default=0, help='which file of --data (sorted)')
  parser.add_argument('--rate', type=int, default=8000, help='the simulated input rate (Hz)')
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--output', required=True, help='the PNG to write')
  args = parser.parse_args()
  signals, title = {}, None
  for model in args.models:
    upsampler, label = load(model)
    utterances, _ = evaluation.scorable(audio_io.read_utterances(args.data, upsampler.config.data.trim_top_db,
                                                                 args.clip + 1), upsampler.trim_multiple)
    utterance = utterances[-1]
    result = evaluation.evaluate(upsampler, [utterance], 1, args.seed, input_rate_hz=args.rate)
    if not signals:
      title = f'{utterance[0]}, {args.rate / 1000:g} kHz input'
      signals['ground truth (48 kHz)'] = result.references[0]
      signals[f'input ({args.rate / 1000:g} kHz), LSD {result.report["input"]["lsd"]:.2f}'] = result.conditions[0]
    signals[f'{label}, LSD {result.report["model"]["lsd"]["mean"]:.2f}'] = result.outputs[0]
  evaluation.plot_spectrograms(pathlib.Path(args.output), title, signals)
  print(f'wrote {args.output}')


if __name__ == '__main__':
  main()
