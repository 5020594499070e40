"""TFDS builders that prepare 48 kHz utterances offline: VCTK 0.92 and any folder of audio files.

Audio is decoded once, at build time (`download_and_prepare`, a thread per core), with soundfile:
mono, 48 kHz, optionally trimmed with librosa (top_db), peak-normalised and stored as int16 (-90 dB
quantisation relative to the peak; the pipeline peak-normalises again). Each example is
{'audio': int16 [time], 'name': text}.

VCTK (docs/reference.md §4): mic1 only, speakers p280 and p315 dropped (108 left); 'multi' trains on the
first 100 speakers by sorted id and tests on p360 p361 p362 p363 p364 p374 p376 s5; 'single' is p225,
its first 223 utterances (sorted) train and the last 8 test.
"""

import collections
import concurrent.futures
import hashlib
import logging
import os
import pathlib
import re

import numpy as np
import soundfile
import tensorflow_datasets as tfds
import tqdm

from nuwave_jax import configuration
from nuwave_jax.data import audio as audio_io

SAMPLE_RATE_HZ = configuration.SAMPLE_RATE_HZ
# `<split>.txt` files at an audio folder's root that list a split's files (other .txt files, such as
# a README.txt, are not lists): training's split and the eval split names the pipeline looks for.
LISTED_SPLITS = ('train', 'eval', 'test', 'valid', 'validation')
# Recordings below this rate are empty above half their rate in the 48 kHz training targets, so a
# model trained on them learns to leave that band empty: preparation warns (44.1 kHz, empty only above
# 22.05 kHz, is common and fine for speech).
LOW_RATE_HZ = 44100
VCTK_DROPPED = ('p280', 'p315')
VCTK_TEST_SPEAKERS = ('p360', 'p361', 'p362', 'p363', 'p364', 'p374', 'p376', 's5')
VCTK_TRAIN_SPEAKERS = 100
VCTK_SINGLE_SPEAKER = 'p225'
VCTK_SINGLE_TRAIN = 223
VCTK_SINGLE_TEST = 8
VCTK_AUDIO_DIR = 'wav48_silence_trimmed'
# Threads decoding files during preparation: every core (a one-time step, before training starts).
WORKERS = os.cpu_count() or 1


class _WithoutConfigNotice(logging.Filter):
  """TFDS warns 'Using custom data configuration' for every builder config; ours are all custom."""

  def filter(self, record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith('Using custom data configuration')


logging.getLogger('absl').addFilter(_WithoutConfigNotice())
tfds.disable_progress_bar()  # the preparation's own progress bar is ours (_examples)

_FEATURES = dict(audio=tfds.features.Tensor(shape=(None,), dtype=np.int16),
                 name=tfds.features.Text())


def _features():
  return tfds.features.FeaturesDict(dict(_FEATURES))


def vctk_speaker_split(speakers: list[str]) -> dict[str, list[str]]:
  """The paper's split of VCTK speaker ids: {'train': first 100 sorted, 'test': the 8 test speakers}."""
  kept = sorted(s for s in speakers if s not in VCTK_DROPPED)
  missing = [s for s in VCTK_TEST_SPEAKERS if s not in kept]
  if missing:
    raise ValueError(f'VCTK test speakers {missing} are missing')
  rest = [s for s in kept if s not in VCTK_TEST_SPEAKERS]
  return {'train': rest[:VCTK_TRAIN_SPEAKERS], 'test': list(VCTK_TEST_SPEAKERS)}


def vctk_single_split(utterances: list[str]) -> dict[str, list[str]]:
  """p225's sorted utterances: the last 8 test, the first 223 of the rest train (never overlapping)."""
  ordered = sorted(utterances)
  return {'train': ordered[:-VCTK_SINGLE_TEST][:VCTK_SINGLE_TRAIN], 'test': ordered[-VCTK_SINGLE_TEST:]}


def _decode(path: pathlib.Path, trim_top_db: float):
  """(int16 audio or the AudioError, sha1 of the file's bytes, its rate) of one file, for a worker."""
  try:
    audio = audio_io.prepare_utterance(path, trim_top_db, SAMPLE_RATE_HZ)
  except audio_io.AudioError as error:
    return error, None, None
  return audio, hashlib.sha1(path.read_bytes()).hexdigest(), soundfile.info(str(path)).samplerate


def _in_order(fn, items: list, workers: int):
  """fn(item) for each item, in order, computed by `workers` threads (decoding and resampling release
  the GIL) with at most 4 x workers results held at once."""
  if workers <= 1:
    yield from map(fn, items)
    return
  with concurrent.futures.ThreadPoolExecutor(workers) as pool:
    pending = collections.deque()
    for item in items:
      pending.append(pool.submit(fn, item))
      if len(pending) >= 4 * workers:
        yield pending.popleft().result()
    while pending:
      yield pending.popleft().result()


def _examples(paths: list[pathlib.Path], root: pathlib.Path, trim_top_db: float, on_bad_file: str, split: str,
              workers: int = 1):
  """(key, example) pairs, decoded by `workers` threads, with a progress bar; a bad file raises
  (on_bad_file='fail') or is skipped with a warning. Byte-identical files (one recording under several
  names) are kept, and counted in a warning: each weighs as many times as it is there."""
  skipped, low_rates, first_of = [], {}, {}
  duplicates = []  # (file, the earlier file with the same bytes)
  decoded = _in_order(lambda path: (path, *_decode(path, trim_top_db)), paths, workers)
  for path, audio, digest, rate in tqdm.tqdm(decoded, total=len(paths), desc=f'preparing {split}', unit='file',
                                             dynamic_ncols=True, leave=False):
    if isinstance(audio, audio_io.AudioError):
      if on_bad_file == 'fail':
        raise audio_io.AudioError(f'{audio} (set config.data.on_bad_file=skip to skip bad files)') from None
      logging.warning('skipping %s', audio)
      skipped.append(path)
      continue
    if digest in first_of:
      duplicates.append((path, first_of[digest]))
    first_of.setdefault(digest, path)
    if rate < LOW_RATE_HZ:
      low_rates.setdefault(rate, path)
    name = str(path.relative_to(root))
    yield name, {'audio': audio, 'name': name}
  if skipped and len(skipped) == len(paths):
    raise audio_io.AudioError(f'all {len(paths)} file(s) of a split under {root} are bad (the first: '
                              f'{skipped[0]}); nothing is left to prepare')
  if skipped:
    logging.warning('skipped %d bad file(s) of %d under %s', len(skipped), len(paths), root)
  if duplicates:
    copy, original = duplicates[0]
    logging.warning('%s split under %s: %d of its %d files are byte-identical copies of another file in it '
                    '(e.g. %s and %s); they are prepared as they are, each copy weighing once more',
                    split, root, len(duplicates), len(paths), copy.relative_to(root), original.relative_to(root))
  if low_rates:
    logging.warning('files under %s recorded at %s Hz (e.g. %s): their 48 kHz training targets are '
                    'empty above half that rate, so a model learns to leave that band empty',
                    root, ', '.join(map(str, sorted(low_rates))), low_rates[min(low_rates)])


class _Prepared:
  """Our own lines for a dataset's one-time preparation, in place of TFDS's ("Downloading and
  preparing dataset Unknown size ..." for files on a local disk)."""

  def _log_download_bytes(self):
    print(f'preparing {self.info.description} once as a TFDS dataset in {self.data_dir} (later runs read it)',
          flush=True)

  def _log_download_done(self):
    counts = ', '.join(f'{split} {info.num_examples}' for split, info in sorted(self.info.splits.items()))
    print(f'prepared {counts} utterances in {self.data_dir}', flush=True)


class NuwaveAudioFolder(_Prepared, tfds.core.GeneratorBasedBuilder):
  """Any folder of audio files. Splits are its subfolders (train/, eval/, ...; hidden ones are skipped)
  or, when it has `<split>.txt` files (LISTED_SPLITS), those lists of paths relative to the folder;
  otherwise everything is 'train'."""

  VERSION = tfds.core.Version('1.0.0')

  def __init__(self, *, folder, trim_top_db: float = 0.0, on_bad_file: str = 'fail', **kwargs):
    self._folder = pathlib.Path(folder).absolute()
    self._trim_top_db = float(trim_top_db)
    configuration.check_choice('data.on_bad_file', on_bad_file)
    self._on_bad_file = on_bad_file
    # The prepared dataset is keyed by the folder, the trim, the files' names, sizes and modification
    # times and the split lists, so a changed folder is prepared anew rather than served stale.
    listing = sorted(f'{p.relative_to(self._folder)}:{p.stat().st_size}:{p.stat().st_mtime_ns}'
                     for p in audio_io.find_audio_files(self._folder)) if self._folder.is_dir() else []
    listing += [p.read_text() for p in self.split_lists()]
    digest = hashlib.sha1('|'.join([str(self._folder), str(self._trim_top_db), *listing]).encode())
    digest = digest.hexdigest()[:12]
    config = tfds.core.BuilderConfig(name=f'{re.sub(r"[^a-z0-9_]", "_", self._folder.name.lower())}_'
                                          f'{digest}', description=str(self._folder))
    super().__init__(config=config, **kwargs)

  def _info(self):
    return self.dataset_info_from_configs(features=_features(),
                                          description=f'audio files under {self._folder}')

  def split_lists(self) -> list[pathlib.Path]:
    """The folder's `<split>.txt` lists (LISTED_SPLITS), if any."""
    return [self._folder / f'{split}.txt' for split in LISTED_SPLITS
            if (self._folder / f'{split}.txt').is_file()]

  def split_files(self) -> dict[str, list[pathlib.Path]]:
    if not self._folder.is_dir():
      raise FileNotFoundError(f'audio folder {self._folder} does not exist')
    lists = self.split_lists()
    if lists:
      splits = {}
      for listing in lists:
        paths = [self._folder / line.strip() for line in listing.read_text().splitlines() if line.strip()]
        absent = [p for p in paths if not p.is_file()]
        if absent:
          raise FileNotFoundError(f'{listing} names files that do not exist: {absent[:3]}')
        splits[listing.stem] = paths
    else:
      subfolders = sorted(p for p in self._folder.iterdir() if p.is_dir() and not p.name.startswith('.'))
      splits = {p.name: audio_io.find_audio_files(p) for p in subfolders}
      splits = {k: v for k, v in splits.items() if v}
      if not splits:
        splits = {'train': audio_io.find_audio_files(self._folder)}
    if not any(splits.values()):
      raise FileNotFoundError(f'audio folder {self._folder} holds no audio files '
                              f'({", ".join(audio_io.AUDIO_EXTENSIONS)})')
    return splits

  def _split_generators(self, dl_manager):
    del dl_manager
    return {split: _examples(paths, self._folder, self._trim_top_db, self._on_bad_file, split, WORKERS)
            for split, paths in self.split_files().items()}

  def _generate_examples(self):  # splits are generated by _split_generators directly
    raise NotImplementedError


class NuwaveVctk(_Prepared, tfds.core.GeneratorBasedBuilder):
  """VCTK 0.92 from its on-disk layout (manual_dir): wav48_silence_trimmed/<speaker>/<utt>_mic1.flac."""

  VERSION = tfds.core.Version('1.0.0')
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      'Download VCTK-Corpus-0.92 (https://datashare.ed.ac.uk/handle/10283/3443), unzip it and pass '
      'the folder holding wav48_silence_trimmed/ as manual_dir (config.data.dir).')

  def __init__(self, *, variant: str = 'multi', trim_top_db: float = 15.0, on_bad_file: str = 'fail',
               **kwargs):
    configuration.check_choice('data.vctk_variant', variant)
    self._variant = variant
    self._trim_top_db = float(trim_top_db)
    configuration.check_choice('data.on_bad_file', on_bad_file)
    self._on_bad_file = on_bad_file
    name = f'{variant}_trim{self._trim_top_db:g}'.replace('.', '_')
    super().__init__(config=tfds.core.BuilderConfig(name=name), **kwargs)

  def _info(self):
    return self.dataset_info_from_configs(features=_features(), homepage='https://doi.org/10.7488/ds/2645',
                                          description=f'VCTK 0.92 ({self._variant}-speaker split)')

  def split_files(self, manual_dir) -> dict[str, list[pathlib.Path]]:
    root = pathlib.Path(manual_dir) / VCTK_AUDIO_DIR
    if not root.is_dir():
      raise FileNotFoundError(f'VCTK manual_dir {manual_dir} has no {VCTK_AUDIO_DIR}/ folder. '
                              + self.MANUAL_DOWNLOAD_INSTRUCTIONS)
    mic1 = lambda speaker: sorted((root / speaker).glob(f'{speaker}_*_mic1.flac'))
    speakers = sorted(p.name for p in root.iterdir() if p.is_dir() and mic1(p.name))
    if self._variant == 'single':
      if VCTK_SINGLE_SPEAKER not in speakers:
        raise FileNotFoundError(f'VCTK speaker {VCTK_SINGLE_SPEAKER} is missing under {root}')
      split = vctk_single_split([p.name for p in mic1(VCTK_SINGLE_SPEAKER)])
      return {k: [root / VCTK_SINGLE_SPEAKER / n for n in v] for k, v in split.items()}
    try:
      split = vctk_speaker_split(speakers)
    except ValueError as error:
      raise ValueError(f'{error} under {root}') from None
    if len(split['train']) < VCTK_TRAIN_SPEAKERS:
      logging.warning('VCTK: %d train speakers under %s, where the paper trains on %d (an incomplete '
                      'corpus?)', len(split['train']), root, VCTK_TRAIN_SPEAKERS)
    return {k: [f for s in v for f in mic1(s)] for k, v in split.items()}

  def _split_generators(self, dl_manager):
    root = pathlib.Path(dl_manager.manual_dir)
    return {split: _examples(paths, root / VCTK_AUDIO_DIR, self._trim_top_db, self._on_bad_file, split,
                             WORKERS)
            for split, paths in self.split_files(root).items()}

  def _generate_examples(self):
    raise NotImplementedError
