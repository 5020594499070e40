"""The linear-interpolation baseline on the real speech eval split: a free check of the metric code.

  python benchmarks/diagnostics/linear_baseline.py [--data data/speech/eval]

Every clip is read as evaluate.py reads a folder (`audio.read_utterances`: 48 kHz, trimmed at 15 dB,
peak-normalised, 16-bit), so this is the baseline evaluate.py reports beside a model. Its
low-resolution version (x2 and x3) is brought back by linear interpolation and scored with SNR, LSD,
LSD-HF and LSD-LF (docs/reference.md §5). The paper's VCTK rows are printed
beside ours; the corpora differ (ours: 44.1 kHz recordings, so nothing above 22.05 kHz).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from benchmarks import common  # noqa: E402
from nuwave_jax import evaluation  # noqa: E402
from nuwave_jax.data import audio as audio_io  # noqa: E402
from nuwave_jax.nuwave import conditioning  # noqa: E402

PAPER = {2: (19.38, 1.80, 22.2, 1.93), 3: (16.08, 1.72, 17.42, 1.74)}  # single SNR/LSD, multi SNR/LSD


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--data', default=common.EVAL_DATA)
  args = parser.parse_args()
  clips = [a for _, a in audio_io.read_utterances(args.data, 15.0)]
  print(f'{len(clips)} clips, {sum(map(len, clips)) / 48000:.0f} s, from {args.data}')
  print('| ratio | SNR (dB) | LSD | LSD-HF | LSD-LF | paper VCTK single SNR / LSD | paper VCTK multi SNR / LSD |')
  print('|---|---|---|---|---|---|---|')
  for ratio in (2, 3):
    scores = []
    for clip in clips:
      reference = evaluation.prepare_reference(clip, ratio)
      cond = conditioning.make_condition(reference[None], ratio)[0]
      scores.append(evaluation.score(reference, cond, 48000 // ratio))
    m = evaluation.mean_scores(scores)
    p = PAPER[ratio]
    print(f"| x{ratio} | {m['snr']:.2f} | {m['lsd']:.3f} | {m['lsd_hf']:.3f} | {m['lsd_lf']:.3f} | "
          f'{p[0]} / {p[1]} | {p[2]} / {p[3]} |')


if __name__ == '__main__':
  main()
