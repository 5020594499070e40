"""Throughput of the training input pipeline on real speech (the papers' crops and batches).

  python benchmarks/input_pipeline.py [--batches 30] [--speech DIR] [--family nuwave nuwave2]

Prepares the folder dataset from the train clips of --speech (default data/speech, which
scripts/fetch_speech.sh makes: 44.1 kHz Ogg), then times train_dataset at segment 32768: NU-Wave at
batch 36, ratios 2 and 3; NU-Wave 2 at batch 24, each example's random Chebyshev condition and band.
Prints segments per second and seconds of 48 kHz audio per second, condition included.
"""

import argparse
import pathlib
import sys
import time

import common
from configs import nuwave2
from configs import nuwave_x2
from nuwave_jax.data import pipeline

REPO = pathlib.Path(__file__).resolve().parents[1]


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--batches', type=int, default=30)
  parser.add_argument('--family', nargs='+', choices=('nuwave', 'nuwave2'), default=['nuwave', 'nuwave2'])
  parser.add_argument('--speech', default=str(REPO / 'data' / 'speech'),
                      help='a folder holding train/ (scripts/fetch_speech.sh data/speech makes one)')
  args = parser.parse_args()
  speech = pathlib.Path(args.speech)
  if not (speech / 'train').is_dir():
    sys.exit(f'error: {speech} has no train/ folder: run scripts/fetch_speech.sh {speech}, or pass --speech')
  corpus = REPO / '.cache' / 'speech-train'  # a stable path: the prepared dataset is reused
  corpus.mkdir(parents=True, exist_ok=True)
  link = corpus / 'train'
  if link.is_symlink() and link.resolve() != (speech / 'train').resolve():
    link.unlink()  # made for another --speech
  if not link.exists():
    link.symlink_to((speech / 'train').resolve())
  print(f'machine: {common.machine()}')
  print('| model | batch x segment | segments / s | audio s / s | first batch (s) |')
  print('|---|---|---|---|---|')
  for name, config in configs(args.family):
    config.data.source = 'folder'
    config.data.dir = str(corpus)
    config.data.tfds_data_dir = str(REPO / '.cache' / 'tfds')
    builder = pipeline.make_builder(config)
    iterator = pipeline.train_dataset(config, builder=builder).as_numpy_iterator()
    start = time.perf_counter()
    next(iterator)
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(args.batches):
      next(iterator)
    elapsed = time.perf_counter() - start
    segments = args.batches * config.train.batch_size / elapsed
    print(f'| {name} | {config.train.batch_size} x {config.data.segment_samples} | {segments:.0f} | '
          f'{segments * config.data.segment_samples / 48000:.0f} | {first:.2f} |', flush=True)


def configs(families):
  """(name, config) of each row: NU-Wave x2 and x3, NU-Wave 2."""
  rows = []
  if 'nuwave' in families:
    for ratio in (2, 3):
      config = nuwave_x2.get_config()
      config.data.ratio = ratio
      rows.append((f'NU-Wave x{ratio}', config))
  if 'nuwave2' in families:
    rows.append(('NU-Wave 2', nuwave2.get_config()))
  return rows


if __name__ == '__main__':
  main()
