"""Preparing once, copying the prepared set between disks with every shard verified, and VCTK's mic1
recordings out of its zip: the Colab notebook's data path."""

import shutil
import zipfile

import numpy as np
import pytest

from nuwave_jax.cli import prepare
from nuwave_jax.data import builders
from nuwave_jax.data import prepared
from nuwave_jax.data import vctk_zip
from tests import conftest
from tests.conftest import write_clips
from tests.conftest import write_fake_vctk


@pytest.fixture
def prepared_folder(tmp_path):
  """(the tensorflow_datasets folder, the dataset's version folder) of a folder of 6 + 2 clips, prepared
  by `nuwave-jax prepare` with 1 shard per split."""
  clips = write_clips(tmp_path / 'clips', {'train': 6, 'eval': 2})
  data_dir = tmp_path / 'local'
  assert prepare.main(['--config', str(conftest.REPO / 'configs' / 'tiny.py'), '--config.data.source=folder',
                       f'--config.data.dir={clips}', f'--config.data.tfds_data_dir={data_dir}']) == 0
  (dataset,) = prepared.datasets_under(data_dir)
  return data_dir, dataset


def test_prepare_then_copy_gives_the_same_bytes_and_a_verified_dataset(prepared_folder, tmp_path, capsys):
  data_dir, dataset = prepared_folder
  assert [n for n, _ in prepared.shards(dataset)] == [
      'nuwave_audio_folder-eval.tfrecord-00000-of-00001', 'nuwave_audio_folder-train.tfrecord-00000-of-00001']
  assert [count for _, count in prepared.shards(dataset)] == [2, 6]
  prepared.copy(data_dir, tmp_path / 'drive')
  target = tmp_path / 'drive' / dataset.relative_to(data_dir)
  assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in dataset.iterdir())
  for path in dataset.iterdir():
    assert (target / path.name).read_bytes() == path.read_bytes()
  assert 'shard 2/2 verified' in capsys.readouterr().out


def test_a_copy_cut_short_is_not_a_dataset_and_a_second_copy_completes_it(prepared_folder, tmp_path):
  data_dir, dataset = prepared_folder
  target = tmp_path / 'drive' / dataset.relative_to(data_dir)
  prepared.copy(data_dir, tmp_path / 'drive')
  # What Drive may keep of a copy when the VM is recycled: a shard cut short and no metadata yet.
  train_shard = target / prepared.shards(dataset)[1][0]
  train_shard.write_bytes(train_shard.read_bytes()[:5000])
  (target / prepared.INFO).unlink()
  assert prepared.datasets_under(tmp_path / 'drive') == []
  prepared.copy(data_dir, tmp_path / 'drive', log=lambda _: None)
  assert train_shard.read_bytes() == (dataset / train_shard.name).read_bytes()
  prepared.verify(target, log=lambda _: None)


def test_damaged_or_short_shards_are_named(prepared_folder):
  _, dataset = prepared_folder
  name, _ = prepared.shards(dataset)[1]
  data = bytearray((dataset / name).read_bytes())
  data[len(data) // 2] ^= 0xFF
  (dataset / name).write_bytes(bytes(data))
  with pytest.raises(prepared.VerifyError, match=f'{name}: damaged'):
    prepared.verify(dataset)
  (dataset / name).write_bytes(bytes(data[:100]))
  with pytest.raises(prepared.VerifyError, match=f'{name}: damaged'):
    prepared.verify(dataset)
  (dataset / name).unlink()
  with pytest.raises(prepared.VerifyError, match=f'{name}: missing'):
    prepared.verify(dataset)


def test_copy_without_a_dataset_says_so(tmp_path, capsys):
  assert prepared.main(['copy', str(tmp_path), str(tmp_path / 'out')]) == 1
  assert 'no prepared dataset' in capsys.readouterr().err


def test_mic1_only_is_unzipped_in_parallel_whatever_the_top_folder(tmp_path):
  corpus = write_fake_vctk(tmp_path / 'corpus' / 'VCTK-Corpus-0.92', ['p225', 'p226', 'p227'], utterances=3)
  archive = shutil.make_archive(str(tmp_path / 'vctk'), 'zip', tmp_path / 'corpus')  # under a top folder
  destination = tmp_path / 'vm'
  assert vctk_zip.extract_mic1(archive, destination, workers=2, log=lambda _: None) == 9
  source = corpus / builders.VCTK_AUDIO_DIR
  unzipped = sorted(p.relative_to(destination / builders.VCTK_AUDIO_DIR)
                    for p in destination.rglob('*') if p.is_file())
  assert [str(p) for p in unzipped] == sorted(str(p.relative_to(source)) for p in source.rglob('*_mic1.flac'))
  for path in unzipped:
    assert (destination / builders.VCTK_AUDIO_DIR / path).read_bytes() == (source / path).read_bytes()
  # An unzip cut short: a partial file is rewritten, whole ones are kept.
  first = destination / builders.VCTK_AUDIO_DIR / unzipped[0]
  first.write_bytes(first.read_bytes()[:10])
  assert vctk_zip.extract_mic1(archive, destination, workers=2, log=lambda _: None) == 1
  assert first.read_bytes() == (source / unzipped[0]).read_bytes()


def test_a_zip_that_is_not_vctk_is_named(tmp_path):
  other = tmp_path / 'other.zip'
  with zipfile.ZipFile(other, 'w') as archive:
    archive.writestr('README.txt', 'not VCTK')
  with pytest.raises(ValueError, match='other.zip: no wav48_silence_trimmed'):
    vctk_zip.extract_mic1(other, tmp_path / 'out')
  (tmp_path / 'broken.zip').write_bytes(np.arange(100, dtype=np.uint8).tobytes())
  assert vctk_zip.main([str(tmp_path / 'broken.zip'), str(tmp_path / 'out')]) == 1
