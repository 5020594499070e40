"""The linear-interpolation baseline on the real speech eval split: a free check of the metric code.

  python benchmarks/linear_baseline.py [--data data/speech/eval]

Every clip is read at 48 kHz (soxr from 44.1 kHz), trimmed (top_db 15) and peak-normalised as the
eval pipeline does; its low-resolution version (x2 and x3) is brought back by linear interpolation
and scored with SNR, LSD, LSD-HF and LSD-LF (REFERENCE section 5). The paper's VCTK rows are printed
beside ours; the corpora differ (ours: 44.1 kHz recordings, so nothing above 22.05 kHz).
"""

import argparse

import common
from nuwave_jax import conditioning
from nuwave_jax import evaluation

PAPER = {2: (19.38, 1.80, 22.2, 1.93), 3: (16.08, 1.72, 17.42, 1.74)}  # single SNR/LSD, multi SNR/LSD


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--data', default=common.EVAL_DATA)
  args = parser.parse_args()
  _, clips = common.eval_clips(args.data)
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
