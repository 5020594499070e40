"""The TFDS builders: VCTK's real layout and split, audio folders, real speech, and bad files."""

import logging
import os

import numpy as np
import pytest
import soundfile
import tensorflow_datasets as tfds

from nuwave_jax import metrics
from nuwave_jax.data import audio as audio_io
from nuwave_jax.data import builders
from nuwave_jax.data import pipeline
from nuwave_jax.nuwave import conditioning
from tests.conftest import write_fake_vctk

# The 110 speakers of VCTK 0.92 (speaker-info.txt): p225..p376 with gaps, and s5.
VCTK_SPEAKERS = (
    'p225 p226 p227 p228 p229 p230 p231 p232 p233 p234 p236 p237 p238 p239 p240 p241 p243 p244 p245 '
    'p246 p247 p248 p249 p250 p251 p252 p253 p254 p255 p256 p257 p258 p259 p260 p261 p262 p263 p264 '
    'p265 p266 p267 p268 p269 p270 p271 p272 p273 p274 p275 p276 p277 p278 p279 p280 p281 p282 p283 '
    'p284 p285 p286 p287 p288 p292 p293 p294 p295 p297 p298 p299 p300 p301 p302 p303 p304 p305 p306 '
    'p307 p308 p310 p311 p312 p313 p314 p315 p316 p317 p318 p323 p326 p329 p330 p333 p334 p335 p336 '
    'p339 p340 p341 p343 p345 p347 p351 p360 p361 p362 p363 p364 p374 p376 s5').split()


def test_paper_split_of_the_real_vctk_speakers():
  assert len(VCTK_SPEAKERS) == 110
  split = builders.vctk_speaker_split(VCTK_SPEAKERS)
  assert len(split['train']) == 100 and split['train'][0] == 'p225' and split['train'][-1] == 'p351'
  assert split['test'] == ['p360', 'p361', 'p362', 'p363', 'p364', 'p374', 'p376', 's5']
  # The explicit test list is exactly the last 8 of the 108 sorted speakers: NU-Wave's split and
  # NU-Wave 2's (its paper's 'last 8 speakers'; docs/reference.md §8).
  kept = sorted(set(VCTK_SPEAKERS) - {'p280', 'p315'})
  assert len(kept) == 108 and kept[-8:] == split['test'] and kept[:100] == split['train']
  assert 'p280' not in split['train'] and 'p315' not in split['train']


def test_a_vctk_tree_without_the_test_speakers_is_named(tmp_path):
  root = write_fake_vctk(tmp_path / 'vctk', ['p225', 'p360'], utterances=1)
  with pytest.raises(ValueError, match=r"test speakers \['p361'.* are missing under .*vctk/wav48"):
    builders.NuwaveVctk(data_dir=str(tmp_path / 'tfds')).split_files(root)


def test_single_speaker_split():
  utterances = [f'p225_{i:03d}_mic1.flac' for i in range(231, 0, -1)]
  split = builders.vctk_single_split(utterances)
  assert len(split['train']) == 223 and len(split['test']) == 8
  assert split['train'][0] == 'p225_001_mic1.flac' and split['test'][-1] == 'p225_231_mic1.flac'


def test_vctk_builder_on_a_fake_tree_yields_the_expected_speakers(tmp_path, caplog):
  speakers = ['p225', 'p226', 'p280', 'p315', 'p351'] + list(builders.VCTK_TEST_SPEAKERS)
  root = write_fake_vctk(tmp_path / 'VCTK-Corpus-0.92', speakers)
  builder = builders.NuwaveVctk(variant='multi', trim_top_db=0, data_dir=str(tmp_path / 'tfds'))
  with caplog.at_level(logging.WARNING):
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(root)))
  assert '3 train speakers under' in caplog.text and 'the paper trains on 100' in caplog.text
  names = {split: [x['name'].decode() for x in tfds.as_numpy(builder.as_dataset(split=split))]
           for split in ('train', 'test')}
  speakers_of = lambda split: sorted({n.split('/')[0] for n in names[split]})
  assert speakers_of('train') == ['p225', 'p226', 'p351']
  assert speakers_of('test') == sorted(builders.VCTK_TEST_SPEAKERS)
  assert all(n.endswith('_mic1.flac') for split in names for n in names[split])
  assert len(names['train']) == 3 * 2 and len(names['test']) == 8 * 2


def test_vctk_single_variant_and_trim(tmp_path):
  root = write_fake_vctk(tmp_path / 'vctk', ['p225'] + list(builders.VCTK_TEST_SPEAKERS), utterances=10)
  builder = builders.NuwaveVctk(variant='single', trim_top_db=15, data_dir=str(tmp_path / 'tfds'))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(root)))
  assert builder.info.splits['train'].num_examples == 2  # 10 utterances: 223 cap, last 8 test
  assert builder.info.splits['test'].num_examples == 8


def test_trim_removes_silence_at_both_ends(tmp_path):
  clip = np.concatenate([np.zeros(4800), 0.5 * np.sin(np.arange(9600) / 5), np.zeros(4800)])
  soundfile.write(tmp_path / 'a.wav', clip.astype(np.float32), 48000)
  trimmed = audio_io.prepare_utterance(tmp_path / 'a.wav', trim_top_db=15)
  assert trimmed.dtype == np.int16 and abs(np.abs(trimmed).max() - 32767) <= 1
  assert 9600 <= len(trimmed) <= 9600 + 2 * 2048  # librosa trims on 2048-sample frames, hop 512
  assert len(audio_io.prepare_utterance(tmp_path / 'a.wav', trim_top_db=0)) == 19200


def test_prepared_vctk_no_longer_needs_the_corpus(tiny_config, tmp_path):
  speakers = ['p225'] + list(builders.VCTK_TEST_SPEAKERS)
  root = write_fake_vctk(tmp_path / 'vctk', speakers)
  tiny_config.data.source, tiny_config.data.dir = 'vctk', str(root)
  tiny_config.data.tfds_data_dir = str(tmp_path / 'tfds')
  assert pipeline.make_builder(tiny_config).info.splits['test'].num_examples == 16
  assert pipeline.make_builder(tiny_config).info.splits['train'].num_examples == 2  # reused as is
  # The corpus grown since (a second download finished): the prepared copy no longer matches it.
  write_fake_vctk(tmp_path / 'more', ['p226'])
  (tmp_path / 'more' / 'wav48_silence_trimmed' / 'p226').rename(root / 'wav48_silence_trimmed' / 'p226')
  with pytest.raises(ValueError, match=r"tfds.* was prepared from another corpus \(\{'test': 16, 'train': 2\}"
                                       r".*make \{'test': 16, 'train': 4\}"):
    pipeline.make_builder(tiny_config)
  tiny_config.data.dir = str(tmp_path / 'unzipped-elsewhere')  # e.g. a new Colab runtime
  assert pipeline.make_builder(tiny_config).info.splits['test'].num_examples == 16
  tiny_config.data.tfds_data_dir = str(tmp_path / 'empty')
  with pytest.raises(FileNotFoundError, match='unzipped-elsewhere.*not prepared in'):
    pipeline.make_builder(tiny_config)


def test_missing_vctk_folder_is_named(tmp_path):
  with pytest.raises(FileNotFoundError, match='has no wav48_silence_trimmed'):
    builders.NuwaveVctk(data_dir=str(tmp_path)).split_files(tmp_path)


def test_folder_builder_reports_bad_files(tmp_path, caplog):
  folder = tmp_path / 'corpus'
  (folder / 'train').mkdir(parents=True)
  for i in range(3):
    soundfile.write(folder / 'train' / f'{i}.wav', np.full(800, 0.1 * (i + 1), np.float32), 48000)
  (folder / 'train' / 'broken.wav').write_bytes(b'not audio at all')
  with pytest.raises(audio_io.AudioError, match='broken.wav.*on_bad_file=skip'):
    builders.NuwaveAudioFolder(folder=folder, data_dir=str(tmp_path / 'a')).download_and_prepare()
  with caplog.at_level(logging.WARNING):
    builder = builders.NuwaveAudioFolder(folder=folder, on_bad_file='skip', data_dir=str(tmp_path / 'b'))
    builder.download_and_prepare()
  assert builder.info.splits['train'].num_examples == 3
  assert 'broken.wav' in caplog.text and 'skipped 1 bad file(s) of 4' in caplog.text
  for i in range(3):
    (folder / 'train' / f'{i}.wav').write_bytes(b'')
  with pytest.raises(audio_io.AudioError, match=r'all 4 file\(s\) of a split under .*corpus are bad'):
    builders.NuwaveAudioFolder(folder=folder, on_bad_file='skip',
                               data_dir=str(tmp_path / 'c')).download_and_prepare()


def test_recordings_below_44k1_are_named_in_a_warning(tmp_path, caplog):
  (tmp_path / 'corpus' / 'train').mkdir(parents=True)
  for name, rate in (('cd', 44100), ('phone', 8000), ('wide', 16000), ('full', 48000)):
    soundfile.write(tmp_path / 'corpus' / 'train' / f'{name}.wav', np.full(rate // 10, 0.2, np.float32), rate)
  with caplog.at_level(logging.WARNING):
    builders.NuwaveAudioFolder(folder=tmp_path / 'corpus', data_dir=str(tmp_path / 'tfds')).download_and_prepare()
  assert 'recorded at 8000, 16000 Hz (e.g.' in caplog.text and 'phone.wav' in caplog.text
  assert 'empty above half that rate' in caplog.text


def test_byte_identical_files_are_counted_in_a_warning_and_preparation_says_where_it_goes(tmp_path, caplog,
                                                                                         capsys):
  (tmp_path / 'corpus' / 'train').mkdir(parents=True)
  rng = np.random.default_rng(3)
  for name in ('a', 'b', 'c'):
    soundfile.write(tmp_path / 'corpus' / 'train' / f'{name}.wav', rng.uniform(-0.3, 0.3, 4800), 48000)
  for copy in ('a_again', 'a_once_more'):
    (tmp_path / 'corpus' / 'train' / f'{copy}.wav').write_bytes((tmp_path / 'corpus' / 'train' / 'a.wav').read_bytes())
  builder = builders.NuwaveAudioFolder(folder=tmp_path / 'corpus', data_dir=str(tmp_path / 'tfds'))
  with caplog.at_level(logging.WARNING):
    builder.download_and_prepare()
  assert ('train split under' in caplog.text and '2 of its 5 files are byte-identical copies' in caplog.text
          and 'train/a_again.wav and train/a.wav' in caplog.text)
  assert builder.info.splits['train'].num_examples == 5  # kept: the folder is the user's
  out = capsys.readouterr().out
  assert f'preparing audio files under {tmp_path / "corpus"} once as a TFDS dataset in {builder.data_dir}' in out
  assert 'prepared train 5 utterances' in out and 'Downloading' not in out + caplog.text
  assert 'Using custom data configuration' not in caplog.text


def test_folder_builder_errors(tmp_path):
  (tmp_path / 'empty').mkdir()
  with pytest.raises(FileNotFoundError, match='holds no audio files'):
    builders.NuwaveAudioFolder(folder=tmp_path / 'empty', data_dir=str(tmp_path)).split_files()
  with pytest.raises(FileNotFoundError, match='does not exist'):
    builders.NuwaveAudioFolder(folder=tmp_path / 'nowhere', data_dir=str(tmp_path)).split_files()
  with pytest.raises(ValueError, match=r"data.on_bad_file must be one of \('fail', 'skip'\)"):
    builders.NuwaveAudioFolder(folder=tmp_path, on_bad_file='ignore')


def test_folder_builder_skips_hidden_folders(tmp_path):
  for split in ('train', 'eval', '.cache/unpacked'):
    (tmp_path / split).mkdir(parents=True)
    soundfile.write(tmp_path / split / 'a.wav', np.full(500, 0.2, np.float32), 16000)
  soundfile.write(tmp_path / 'train' / '.hidden.wav', np.full(500, 0.2, np.float32), 16000)
  splits = builders.NuwaveAudioFolder(folder=tmp_path, data_dir=str(tmp_path / 'tfds')).split_files()
  assert sorted(splits) == ['eval', 'train'] and [p.name for p in splits['train']] == ['a.wav']


def test_a_changed_folder_is_prepared_anew(tmp_path):
  (tmp_path / 'train').mkdir()
  soundfile.write(tmp_path / 'train' / 'a.wav', np.full(500, 0.2, np.float32), 16000)
  name = lambda: builders.NuwaveAudioFolder(folder=tmp_path, data_dir=str(tmp_path / 'tfds')).builder_config.name
  before = name()
  assert name() == before
  soundfile.write(tmp_path / 'train' / 'b.wav', np.full(500, 0.2, np.float32), 16000)
  after_adding = name()
  assert after_adding != before
  # Rewritten in place with other samples of the same size: a new modification time.
  stat = (tmp_path / 'train' / 'a.wav').stat()
  soundfile.write(tmp_path / 'train' / 'a.wav', np.full(500, -0.3, np.float32), 16000)
  os.utime(tmp_path / 'train' / 'a.wav', ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
  assert (tmp_path / 'train' / 'a.wav').stat().st_size == stat.st_size and name() != after_adding


def test_other_text_files_are_not_split_lists(tmp_path):
  for split in ('train', 'eval'):
    (tmp_path / split).mkdir()
    soundfile.write(tmp_path / split / 'a.wav', np.full(500, 0.2, np.float32), 16000)
  (tmp_path / 'notes.txt').write_text('')
  (tmp_path / 'README.txt').write_text('Recorded in 2024.\nSee LICENSE.\n')
  name = lambda: builders.NuwaveAudioFolder(folder=tmp_path, data_dir=str(tmp_path / 'tfds')).builder_config.name
  before = name()
  splits = builders.NuwaveAudioFolder(folder=tmp_path, data_dir=str(tmp_path / 'tfds')).split_files()
  assert {k: [p.name for p in v] for k, v in splits.items()} == {'eval': ['a.wav'], 'train': ['a.wav']}
  (tmp_path / 'README.txt').write_text('changed')
  assert name() == before  # not part of the data


def test_folder_builder_takes_file_lists(tmp_path):
  for name in ('a', 'b', 'c'):
    soundfile.write(tmp_path / f'{name}.wav', np.full(500, 0.2, np.float32), 16000)
  (tmp_path / 'train.txt').write_text('a.wav\nb.wav\n')
  (tmp_path / 'eval.txt').write_text('c.wav\n')
  builder = builders.NuwaveAudioFolder(folder=tmp_path, data_dir=str(tmp_path / 'tfds'))
  splits = builder.split_files()
  assert [p.name for p in splits['train']] == ['a.wav', 'b.wav'] and [p.name for p in splits['eval']] == ['c.wav']


def test_folder_builder_on_real_speech(real_speech, tiny_config, tmp_path):
  """Real 44.1 kHz Ogg speech, a subset of fetch-speech's train and eval clips, through the pipeline."""
  subset = tmp_path / 'speech'
  for split, n in (('train', 16), ('eval', 4)):
    (subset / split).mkdir(parents=True)
    for clip in sorted((real_speech / split).glob('*.ogg'))[:n]:
      (subset / split / clip.name).symlink_to(clip)
  tiny_config.data.dir = str(subset)
  tiny_config.data.tfds_data_dir = str(tmp_path / 'tfds')
  builder = pipeline.make_builder(tiny_config)
  assert builder.info.splits['train'].num_examples == 16
  utterances = pipeline.eval_utterances(tiny_config, builder=builder)
  assert len(utterances) == 4
  name, audio = utterances[0]
  rate = soundfile.info(real_speech / 'eval' / name.split('/')[-1]).samplerate
  assert rate == 44100
  # Resampled to 48 kHz and trimmed (top_db 15): shorter than the source, never longer.
  frames = soundfile.info(real_speech / 'eval' / name.split('/')[-1]).frames
  assert 0.2 * frames * 48000 / 44100 < len(audio) <= frames * 48000 / 44100 + 1
  # Real speech carries energy above 12 kHz: the condition keeps the band below and loses the band above.
  batch = next(pipeline.train_dataset(tiny_config, builder=builder).as_numpy_iterator())
  assert batch['audio'].shape == (4, 2048)
  reference = audio[:len(audio) // 2 * 2]
  cond = conditioning.make_condition(reference[None], 2)[0]
  assert metrics.lsd_low(reference, cond, 24000) < 0.5 < 1.0 < metrics.lsd_high(reference, cond, 24000)


def test_a_folder_without_an_eval_split_says_what_to_do(tmp_path):
  (tmp_path / 'corpus' / 'train').mkdir(parents=True)
  soundfile.write(tmp_path / 'corpus' / 'train' / 'a.wav', np.full(500, 0.2, np.float32), 48000)
  builder = builders.NuwaveAudioFolder(folder=tmp_path / 'corpus', data_dir=str(tmp_path / 'tfds'))
  builder.download_and_prepare()
  with pytest.raises(ValueError, match=r'corpus has no eval split .* set train.eval_utterances=0'):
    pipeline.eval_utterances(None, builder=builder)
