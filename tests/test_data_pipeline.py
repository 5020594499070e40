"""The tf.data pipeline: the TF condition against numpy, crops, gains, shards, resume and eval sets."""

import numpy as np
import pytest
import soundfile
import tensorflow as tf

from nuwave_jax.data import audio as audio_io
from nuwave_jax.data import pipeline
from nuwave_jax.nuwave import conditioning
from nuwave_jax.nuwave import conditioning_tf


@pytest.mark.parametrize('ratio,length', [(2, 2048), (3, 2048), (2, 5001), (3, 32768)])
def test_tf_condition_equals_numpy_reference(ratio, length):
  audio = np.random.default_rng(ratio + length).uniform(-1, 1, (3, length)).astype(np.float32)
  got = conditioning_tf.make_condition_tf(tf.constant(audio), ratio).numpy()
  np.testing.assert_allclose(got, conditioning.make_condition(audio, ratio), atol=1e-5)


def test_tf_linear_interpolation_has_half_pixel_edges():
  low = tf.constant([[0.0, 1.0, 2.0]])
  np.testing.assert_allclose(conditioning_tf.upsample_linear_tf(low, 2, 6).numpy(),
                             [[0, 0.25, 0.75, 1.25, 1.75, 2]], atol=1e-7)


def _take(ds, n):
  it = ds.as_numpy_iterator()
  return [next(it) for _ in range(n)]


def test_train_batches_are_crops_with_gain_and_their_condition(tiny_folder_config):
  config = tiny_folder_config
  batches = _take(pipeline.train_dataset(config, seed=3), 4)
  for batch in batches:
    assert batch['audio'].shape == (4, 2048) and batch['audio'].dtype == np.float32
    np.testing.assert_allclose(batch['condition'], conditioning.make_condition(batch['audio'], 2),
                               atol=1e-5)
    peaks = np.abs(batch['audio']).max(axis=1)
    # peak-normalised then scaled by U(0.5, 1); a crop may miss the utterance's own peak
    assert np.all(peaks <= 1.0 + 1e-6) and np.all(peaks > 0.05)
  # Clips of 3000-9000 samples are longer than the 2048 crop: no zero padding appears (a lone
  # int16-quantised zero can, a run of them cannot).
  for row in np.concatenate([b['audio'] for b in batches]):
    zero = np.concatenate([[0], (row == 0).astype(int), [0]])
    runs = np.flatnonzero(np.diff(zero) == -1) - np.flatnonzero(np.diff(zero) == 1)
    assert runs.max(initial=0) < 4


def test_short_utterances_are_zero_padded_at_a_random_offset(tiny_folder_config):
  tiny_folder_config.data.segment_samples = 16384  # longer than every synthetic clip
  batch = _take(pipeline.train_dataset(tiny_folder_config, seed=0), 1)[0]
  starts = [np.flatnonzero(row)[0] for row in batch['audio']]
  assert all(np.count_nonzero(row) < 16384 for row in batch['audio'])
  assert len(set(starts)) > 1  # the offset is random, not always 0


def test_the_stream_is_deterministic_and_resumable(tiny_folder_config):
  first = _take(pipeline.train_dataset(tiny_folder_config, seed=5), 7)
  again = _take(pipeline.train_dataset(tiny_folder_config, seed=5), 7)
  other = _take(pipeline.train_dataset(tiny_folder_config, seed=6), 1)
  for a, b in zip(first, again):
    np.testing.assert_array_equal(a['audio'], b['audio'])
  assert not np.array_equal(first[0]['audio'], other[0]['audio'])
  # 12 clips / batch 4: step 5 lies in the second epoch.
  resumed = _take(pipeline.train_dataset(tiny_folder_config, seed=5, start_step=5), 2)
  np.testing.assert_array_equal(resumed[0]['audio'], first[5]['audio'])
  np.testing.assert_array_equal(resumed[1]['audio'], first[6]['audio'])


def test_processes_read_disjoint_shards(tiny_config, tmp_path):
  # Clips shorter than the crop, each of a distinct length: the nonzero count names the clip.
  lengths = [300 + 17 * i for i in range(12)]
  for i, n in enumerate(lengths):
    (tmp_path / 'data' / 'train').mkdir(parents=True, exist_ok=True)
    soundfile.write(tmp_path / 'data' / 'train' / f'{i}.wav', np.full(n, 0.5, np.float32), 48000)
  tiny_config.data.dir = str(tmp_path / 'data')
  tiny_config.data.tfds_data_dir = str(tmp_path / 'tfds')
  tiny_config.data.trim_top_db = 0.0
  tiny_config.train.batch_size = 4
  seen = []
  for process in range(2):
    batches = _take(pipeline.train_dataset(tiny_config, process_index=process, process_count=2), 3)
    assert batches[0]['audio'].shape == (2, 2048)  # the local batch
    seen.append({int(np.count_nonzero(row)) for b in batches for row in b['audio']})
  assert seen[0].isdisjoint(seen[1])
  assert seen[0] | seen[1] == set(lengths)  # one epoch: 6 clips each


def test_eval_utterances_are_whole_sorted_and_peak_normalised(tiny_folder_config, synthetic_folder):
  utterances = pipeline.eval_utterances(tiny_folder_config)
  assert [n for n, _ in utterances] == ['eval/clip000.wav', 'eval/clip001.wav', 'eval/clip002.wav']
  for name, audio in utterances:
    source, _ = soundfile.read(synthetic_folder / name)
    assert len(audio) == len(source)
    np.testing.assert_allclose(np.abs(audio).max(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(audio, source / np.abs(source).max(), atol=1e-4)  # int16 storage
  assert len(pipeline.eval_utterances(tiny_folder_config, limit=2)) == 2


@pytest.mark.parametrize('trim_top_db', [0.0, 15.0])
def test_a_folder_read_for_evaluation_equals_its_prepared_eval_split(tiny_folder_config, synthetic_folder,
                                                                     trim_top_db):
  # evaluate.py --data FOLDER and --data config (the TFDS split prepared from the same files) score
  # the same arrays, so they report the same linear baseline.
  tiny_folder_config.data.trim_top_db = trim_top_db
  prepared = pipeline.eval_utterances(tiny_folder_config)
  read = audio_io.read_utterances(synthetic_folder, trim_top_db)
  read = [(f'{name}', audio) for name, audio in read if name.startswith('eval/')]
  assert [n for n, _ in read] == [n for n, _ in prepared]
  for (_, a), (_, b) in zip(read, prepared):
    assert a.dtype == b.dtype == np.float32
    np.testing.assert_array_equal(a, b)


def test_bad_sources_fail_clearly(tiny_config, tmp_path):
  tiny_config.data.dir = str(tmp_path / 'missing')
  with pytest.raises(FileNotFoundError, match='missing.*not a folder'):
    pipeline.make_builder(tiny_config)
  tiny_config.data.source, tiny_config.data.tfds_data_dir = 'vctk', str(tmp_path / 'tfds')
  with pytest.raises(FileNotFoundError, match='VCTK manual_dir'):
    pipeline.make_builder(tiny_config)
  tiny_config.data.source = 'kaggle'
  with pytest.raises(ValueError, match=r"data.source must be one of \('vctk', 'folder', 'tfds'\), got 'kaggle'"):
    pipeline.make_builder(tiny_config)
  tiny_config.data.source = 'folder'
  tiny_config.train.batch_size = 5
  with pytest.raises(ValueError, match='not a multiple of 2 processes'):
    pipeline.train_dataset(tiny_config, process_count=2)
