"""Does silence stay silent? The band a checkpoint adds above its input's cutoff, in the input's pauses
against in its speech.

  python benchmarks/diagnostics/pause_floor.py --checkpoint nuwave2-small-2step [--data data/speech/eval]
      [--rates 8000 16000] [--limit 30]

Each clip, whole (read as `evaluate` reads it, but not trimmed: its leading and trailing silence are
pauses too), is simulated at each input rate and upsampled; its frames (20 ms, hop 10 ms) are classed
by the input's own level: speech within 20 dB of the clip's loudest frames (their 95th percentile),
pauses more than 30 dB under it (these recordings' room noise sits 30-40 dB under their speech).
Printed per rate: the added band's mean
power (above the cutoff, in dB relative to full scale, power-averaged over frames) in speech frames
and in pause frames, and how far the pauses sit under the speech; the same for the ground truth (what
real speech holds there) beside. A model that fills pauses with a uniform floor shows a small gap.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import numpy as np  # noqa: E402

from benchmarks import common  # noqa: E402
from nuwave_jax import evaluation  # noqa: E402
from nuwave_jax import inference  # noqa: E402
from nuwave_jax.data import audio as audio_io  # noqa: E402

FRAME, HOP = 960, 480  # 20 ms frames every 10 ms at 48 kHz
SPEECH_DB, PAUSE_DB = 20.0, 30.0


def frame_power(audio: np.ndarray, low_hz: float = 0.0) -> np.ndarray:
  """Mean power per frame of the part of `audio` [time] at 48 kHz above low_hz: [frames]."""
  frames = np.lib.stride_tricks.sliding_window_view(audio, FRAME)[::HOP] * np.hanning(FRAME)
  spectrum = np.abs(np.fft.rfft(frames, axis=-1)) ** 2
  keep = np.fft.rfftfreq(FRAME, 1 / 48000) >= low_hz
  return spectrum[:, keep].sum(axis=-1) / FRAME ** 2


def db(power) -> float:
  return float(10 * np.log10(max(np.mean(power), 1e-20)))


def pause_gap(reference, output, condition, cutoff_hz) -> dict[str, float]:
  """The added band's level in speech and pause frames of the input (dB), the gap, and the ground
  truth's, for one clip."""
  level = 10 * np.log10(frame_power(condition) + 1e-20)
  top = np.percentile(level, 95)
  speech, pause = level >= top - SPEECH_DB, level <= top - PAUSE_DB
  added, truth = frame_power(output, cutoff_hz), frame_power(reference, cutoff_hz)
  return {'speech_frames': int(speech.sum()), 'pause_frames': int(pause.sum()),
          'model_speech_db': db(added[speech]), 'model_pause_db': db(added[pause]) if pause.any() else np.nan,
          'truth_speech_db': db(truth[speech]), 'truth_pause_db': db(truth[pause]) if pause.any() else np.nan}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--checkpoint', required=True, help='a checkpoint directory or a bundled model')
  parser.add_argument('--data', default=common.EVAL_DATA)
  parser.add_argument('--rates', type=int, nargs='+', default=[8000, 16000])
  parser.add_argument('--limit', type=int, default=30)
  parser.add_argument('--seed', type=int, default=0)
  args = parser.parse_args()
  upsampler = inference.load(args.checkpoint)
  utterances, _ = evaluation.scorable(audio_io.read_utterances(args.data, 0.0, args.limit), upsampler.trim_multiple)
  print(f'{args.checkpoint}: {len(utterances)} clips of {args.data}; frames of 20 ms, speech within {SPEECH_DB:g} dB '
        f'of the loudest, pauses {PAUSE_DB:g} dB under; {common.machine()}')
  print('| input rate | speech / pause frames | added band in speech (dB) | in pauses (dB) | pauses under speech '
        '(dB) | ground truth: in speech, in pauses, gap (dB) |')
  print('|---|---|---|---|---|---|')
  for rate in args.rates:
    result = evaluation.evaluate(upsampler, utterances, 1, args.seed, input_rate_hz=rate)
    rows = [pause_gap(r, o, c, rate / 2) for r, o, c in zip(result.references, result.outputs, result.conditions)]
    frames = lambda key: sum(row[key] for row in rows)
    # Power-average over clips, weighted by their frames: the level of all speech and all pauses.
    mean_db = lambda key, count: db([10 ** (row[key] / 10) * row[count] for row in rows if row[count]]) \
        - db([row[count] for row in rows if row[count]])
    speech, pause = mean_db('model_speech_db', 'speech_frames'), mean_db('model_pause_db', 'pause_frames')
    truth_speech, truth_pause = mean_db('truth_speech_db', 'speech_frames'), mean_db('truth_pause_db', 'pause_frames')
    print(f"| {rate} | {frames('speech_frames')} / {frames('pause_frames')} | {speech:.1f} | {pause:.1f} | "
          f'{speech - pause:.1f} | {truth_speech:.1f}, {truth_pause:.1f}, {truth_speech - truth_pause:.1f} |',
          flush=True)


if __name__ == '__main__':
  main()
