"""Reading real users' files: formats, rates, channels, and clear errors for bad ones."""

import numpy as np
import pytest
import soundfile

from nuwave_jax.data import audio as audio_io


def test_stereo_is_mixed_to_mono_and_44k1_is_resampled_keeping_the_frequency(tmp_path):
  t = np.arange(44100) / 44100
  left, right = np.sin(2 * np.pi * 1000 * t), 0.5 * np.sin(2 * np.pi * 1000 * t)
  path = tmp_path / 'stereo.flac'
  soundfile.write(path, np.stack([left, right], 1) * 0.5, 44100)
  native, rate = audio_io.read_audio_native(path)
  assert rate == 44100 and native.ndim == 1
  np.testing.assert_allclose(native, 0.5 * (left + right) / 2, atol=1e-4)  # 16-bit FLAC
  audio = audio_io.read_audio(path, 48000)
  assert audio.dtype == np.float32 and abs(len(audio) - 48000) <= 1
  spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
  assert abs(np.argmax(spectrum) * 48000 / len(audio) - 1000) < 2
  # VHQ resampling: the tone's amplitude survives and nothing else appears.
  np.testing.assert_allclose(np.abs(audio[1000:-1000]).max(), 0.375, rtol=0.01)


@pytest.mark.parametrize('suffix', ['.wav', '.ogg'])
def test_formats_round_trip(tmp_path, suffix):
  clip = (0.3 * np.sin(np.arange(24000) / 10)).astype(np.float32)
  path = tmp_path / f'clip{suffix}'
  soundfile.write(path, clip, 24000)
  audio, rate = audio_io.read_audio_native(path)
  assert rate == 24000 and len(audio) == 24000
  np.testing.assert_allclose(audio, clip, atol=0.02 if suffix == '.ogg' else 1e-4)


def test_bad_files_raise_audio_error_naming_the_file(tmp_path):
  corrupt = tmp_path / 'corrupt.wav'
  corrupt.write_bytes(b'RIFF\x00\x00\x00\x00WAVEnot really audio')
  empty = tmp_path / 'empty.wav'
  soundfile.write(empty, np.zeros(0, np.float32), 48000)
  nan = tmp_path / 'nan.wav'
  soundfile.write(nan, np.array([0.1, np.nan, 0.2], np.float32), 48000, subtype='FLOAT')
  zero_bytes = tmp_path / 'zero.flac'
  zero_bytes.write_bytes(b'')
  for path, problem in ((corrupt, 'cannot be read'), (empty, 'no samples'), (nan, 'NaN'),
                        (zero_bytes, 'cannot be read'), (tmp_path / 'missing.wav', 'cannot be read')):
    with pytest.raises(audio_io.AudioError, match=problem) as error:
      audio_io.read_audio(path, 48000)
    assert str(path) in str(error.value)


def test_write_wav_clips_and_is_16_bit(tmp_path):
  path = tmp_path / 'out' / 'x.wav'
  audio_io.write_wav(path, np.array([0.5, 1.5, -2.0], np.float32), 48000)
  info = soundfile.info(path)
  assert info.subtype == 'PCM_16' and info.samplerate == 48000
  np.testing.assert_allclose(soundfile.read(path)[0], [0.5, 1.0, -1.0], atol=1e-4)
  audio_io.write_wav(path, np.array([0.5, 1.5, -2.0], np.float32), 48000, float_samples=True)
  assert soundfile.info(path).subtype == 'FLOAT'
  np.testing.assert_array_equal(soundfile.read(path, dtype='float32')[0], [0.5, 1.5, -2.0])
  (tmp_path / 'taken').mkdir()
  with pytest.raises(audio_io.AudioError, match='taken: cannot be written'):
    audio_io.write_wav(tmp_path / 'taken', np.zeros(3), 48000)
