"""tf.data pipelines: random 48 kHz training segments with the condition made on the fly, and eval sets.

Training, per utterance (docs/reference.md §4): peak-normalise, a random `segment_samples` crop (shorter
utterances zero-padded at a random offset), a random gain U(gain_min, gain_max), then the condition
in TensorFlow, as the config's family makes it (`Family.training_condition_tf`): NU-Wave's per batch
(held to its numpy definition by the tests), NU-Wave 2's per example from a random cutoff, filter
order and ripple (§8), with its band mask.

The stream is a pure function of (seed, records consumed): epoch e reads this process's shard with
files and records shuffled by seeds derived from (seed, e), and each record's crop and gain are
stateless functions of its index in the stream. Resuming at step s rebuilds the stream at record
s * local_batch, so a resumed run sees exactly the batches of an uninterrupted one, with nothing but
the step to save.
"""

import pathlib

import ml_collections
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from nuwave_jax import configuration
from nuwave_jax import families
from nuwave_jax.data import audio as audio_io
from nuwave_jax.data import builders

tf.config.set_visible_devices([], 'GPU')  # the input pipeline stays on the host CPU, never on JAX's GPUs

TRAIN_SPLIT = 'train'
EVAL_SPLITS = tuple(split for split in builders.LISTED_SPLITS if split != 'train')


def _check_prepared_from(builder, split_files: dict[str, list]) -> None:
  """Refuses a prepared dataset whose splits do not hold one example per file of the corpus now."""
  prepared = {split: builder.info.splits[split].num_examples for split in sorted(builder.info.splits)}
  now = {split: len(split_files[split]) for split in sorted(split_files)}
  if prepared != now:
    raise ValueError(f'{builder.data_dir} was prepared from another corpus ({prepared} examples; the '
                     f'files there now make {now}): delete it, or set config.data.tfds_data_dir elsewhere')


def make_builder(config: ml_collections.ConfigDict) -> tfds.core.DatasetBuilder:
  """The prepared TFDS builder that config.data names, building it on first use.

  source 'folder': config.data.dir is a folder of audio files; 'vctk': config.data.dir is VCTK 0.92's
  folder (manual_dir); 'tfds': config.data.tfds_name is a dataset already prepared in tfds_data_dir
  with an int16 or float 'audio' feature.
  """
  d = config.data
  data_dir = d.tfds_data_dir or None
  if d.source == 'folder':
    if not d.dir or not pathlib.Path(d.dir).is_dir():
      raise FileNotFoundError(f'config.data.dir={d.dir!r} is not a folder of audio files')
    builder = builders.NuwaveAudioFolder(folder=d.dir, trim_top_db=d.trim_top_db,
                                         on_bad_file=d.on_bad_file, data_dir=data_dir)
    builder.download_and_prepare()
  elif d.source == 'vctk':
    builder = builders.NuwaveVctk(variant=d.vctk_variant, trim_top_db=d.trim_top_db,
                                  on_bad_file=d.on_bad_file, data_dir=data_dir)
    if builder.is_prepared():  # prepared by an earlier run (e.g. on Drive): the corpus is not needed
      if d.dir and pathlib.Path(d.dir).is_dir() and d.on_bad_file == 'fail':
        _check_prepared_from(builder, builder.split_files(d.dir))
      return builder
    if not d.dir or not pathlib.Path(d.dir).is_dir():
      raise FileNotFoundError(f'config.data.dir={d.dir!r} (VCTK manual_dir) does not exist and VCTK '
                              f'is not prepared in {builder.data_dir}. '
                              + builders.NuwaveVctk.MANUAL_DOWNLOAD_INSTRUCTIONS)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=d.dir))
  elif d.source == 'tfds':
    if not d.tfds_name:
      raise ValueError("config.data.source='tfds' needs config.data.tfds_name")
    builder = tfds.builder(d.tfds_name, data_dir=data_dir)
    if not builder.is_prepared():
      raise FileNotFoundError(f'TFDS dataset {d.tfds_name} is not prepared in {builder.data_dir}')
  else:
    configuration.check_choice('data.source', d.source)
  return builder


def _eval_split(builder) -> str:
  for split in EVAL_SPLITS:
    if split in builder.info.splits:
      return split
  where = getattr(builder.builder_config, 'description', None) or builder.name
  raise ValueError(f'{where} has no eval split (one of {EVAL_SPLITS}); it has '
                   f'{list(builder.info.splits)}: add one, or set train.eval_utterances=0')


def _to_float(audio: tf.Tensor) -> tf.Tensor:
  if audio.dtype == tf.int16:
    return tf.cast(audio, tf.float32) / 32767.0
  return tf.cast(audio, tf.float32)


def _peak_normalize(audio: tf.Tensor) -> tf.Tensor:
  peak = tf.reduce_max(tf.abs(audio))
  return tf.where(peak > 0, audio / tf.maximum(peak, 1e-12), audio)


def _crop_or_pad(audio: tf.Tensor, segment: int, seed: tf.Tensor) -> tf.Tensor:
  """A random `segment`-sample crop, or the whole utterance zero-padded at a random offset."""
  length = tf.shape(audio)[0]
  span = tf.abs(length - segment) + 1
  offset = tf.random.stateless_uniform([], seed, 0, span, dtype=tf.int32)
  return tf.cond(length >= segment,
                 lambda: audio[offset:offset + segment],
                 lambda: tf.pad(audio, [[offset, segment - length - offset]]))


def train_dataset(config: ml_collections.ConfigDict, *, process_index: int = 0, process_count: int = 1,
                  seed: int = 0, start_step: int = 0, builder=None) -> tf.data.Dataset:
  """This process's batches {'audio', 'condition'}: [local_batch, segment_samples] float32, forever,
  and what else the family's condition makes (NU-Wave 2: 'band_mask' [local_batch, 513] int32).

  local_batch = config.train.batch_size // process_count. In every epoch the record files are read in
  a seeded order and process i keeps records i, i + process_count, ... (disjoint shards), shuffled
  in a buffer of config.data.shuffle_buffer. start_step: start where an uninterrupted run would be.
  """
  d, t = config.data, config.train
  if t.batch_size % process_count:
    raise ValueError(f'train.batch_size {t.batch_size} is not a multiple of {process_count} processes')
  local_batch = t.batch_size // process_count
  builder = builder or make_builder(config)
  if TRAIN_SPLIT not in builder.info.splits:
    raise ValueError(f'{builder.name} has no {TRAIN_SPLIT!r} split: {list(builder.info.splits)}')
  split = builder.info.splits[TRAIN_SPLIT]
  files = sorted(str(f) for f in split.filepaths)
  records = len(range(process_index, split.num_examples, process_count))
  if records == 0:
    raise ValueError(f'process {process_index} of {process_count} gets none of the '
                     f'{split.num_examples} training utterances')
  first = start_step * local_batch  # records this process consumed before start_step
  first_epoch, offset = divmod(first, records)
  features = builder.info.features

  def epoch(e):
    order = tf.data.Dataset.from_tensor_slices(files).shuffle(len(files), seed=seed * 7919 + e)
    ds = order.interleave(tf.data.TFRecordDataset, cycle_length=min(4, len(files)), block_length=1)
    ds = ds.shard(process_count, process_index)
    ds = ds.map(lambda r: features.deserialize_example(r)['audio'])
    return ds.shuffle(d.shuffle_buffer, seed=seed * 7919 + e + 1, reshuffle_each_iteration=False)

  stream = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max).flat_map(epoch).skip(offset)
  base_seed = tf.constant([seed, process_index], tf.int64)
  condition = families.of(config).training_condition_tf()

  def item(index, audio):
    key = tf.random.experimental.stateless_fold_in(base_seed, index)
    crop_key, gain_key = tf.unstack(tf.random.experimental.stateless_split(key, 2))
    audio = _crop_or_pad(_peak_normalize(_to_float(audio)), d.segment_samples, crop_key)
    audio = audio * tf.random.stateless_uniform([], gain_key, d.gain_min, d.gain_max)
    if condition.per_example:
      return condition.per_example(audio, tf.random.experimental.stateless_fold_in(key, 1), d)
    return {'audio': audio}

  ds = tf.data.Dataset.zip(tf.data.Dataset.range(first, np.iinfo(np.int64).max), stream)
  ds = ds.map(item, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  ds = ds.batch(local_batch, drop_remainder=True)
  if condition.per_batch:
    ds = ds.map(lambda batch: condition.per_batch(batch, d), num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True)
  return ds.prefetch(tf.data.AUTOTUNE)


def eval_utterances(config: ml_collections.ConfigDict, limit: int | None = None,
                    builder=None) -> list[tuple[str, np.ndarray]]:
  """(name, 48 kHz float32 audio, peak 1) of the eval split, sorted by name: the same arrays as
  `audio.read_utterances` gives for the files it was prepared from."""
  builder = builder or make_builder(config)
  ds = builder.as_dataset(split=_eval_split(builder), shuffle_files=False)
  utterances = sorted((x['name'].decode(), x['audio']) for x in tfds.as_numpy(ds))[:limit]
  return [(name, audio_io.utterance_to_float(audio)) for name, audio in utterances]
