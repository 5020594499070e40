"""Reading and writing audio files: any format soundfile reads, any rate, any channel count.

Audio is read with all its channels (`read_audio_channels`) or mixed to mono (the channel mean),
resampled with soxr's very-high-quality resampler when a target rate is given, and returned as
float32 in [-1, 1] (for PCM files). Problems raise AudioError
with the file's name: an unreadable or corrupt file, no samples, NaN or Inf samples.

An utterance of a corpus, for training or evaluation, is `prepare_utterance`'s: 48 kHz, trimmed,
peak-normalised, 16-bit (what the TFDS datasets store). `read_utterances` reads a folder's files that
way, so a folder scored by evaluate.py gives the numbers its prepared eval split gives.
"""

import pathlib

import numpy as np
import soundfile
import soxr

AUDIO_EXTENSIONS = ('.wav', '.flac', '.ogg', '.oga', '.opus', '.mp3', '.aiff', '.aif', '.au')


class AudioError(ValueError):
  """An audio file that cannot be used; the message names the file and the problem."""


def read_audio_channels(path) -> tuple[np.ndarray, int]:
  """(float32 [channels, time], sample rate in Hz) of a file, at its own rate."""
  try:
    audio, rate = soundfile.read(str(path), dtype='float32', always_2d=True)
  except Exception as error:  # soundfile raises LibsndfileError, RuntimeError, TypeError, ...
    raise AudioError(f'{path}: cannot be read as audio ({error})') from None
  if audio.shape[0] == 0:
    raise AudioError(f'{path}: holds no samples')
  if not np.all(np.isfinite(audio)):
    raise AudioError(f'{path}: has NaN or infinite samples')
  return np.ascontiguousarray(audio.T), int(rate)


def read_audio_native(path) -> tuple[np.ndarray, int]:
  """(mono float32 [time], sample rate in Hz) of a file, at its own rate: the channels' mean."""
  audio, rate = read_audio_channels(path)
  return np.ascontiguousarray(audio.mean(axis=0) if len(audio) > 1 else audio[0], np.float32), rate


def read_audio(path, sample_rate_hz: int) -> np.ndarray:
  """Mono float32 [time] at `sample_rate_hz`, resampled with soxr (VHQ) if the file differs."""
  audio, rate = read_audio_native(path)
  if rate != sample_rate_hz:
    audio = soxr.resample(audio, rate, sample_rate_hz, quality='VHQ').astype(np.float32)
  return audio


def resample(audio: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
  """[channels, n] at `rate` -> [channels, m] float32 at `target_rate` (soxr VHQ, linear phase)."""
  audio = np.asarray(audio, np.float32)
  return soxr.resample(audio.T, rate, target_rate, quality='VHQ').T.reshape(len(audio), -1)


def prepare_utterance(path, trim_top_db: float, sample_rate_hz: int = 48000) -> np.ndarray:
  """int16 [time]: read at `sample_rate_hz`, mono, trimmed with librosa (leading and trailing audio
  `trim_top_db` dB below the peak; 0 keeps it all), peak-normalised to full scale. Raises AudioError."""
  audio = read_audio(path, sample_rate_hz)
  if trim_top_db > 0 and np.any(audio):
    import librosa  # here: its import takes seconds
    audio, _ = librosa.effects.trim(audio, top_db=trim_top_db)
  if len(audio) == 0:
    raise AudioError(f'{path}: no samples left')
  peak = float(np.max(np.abs(audio)))
  scaled = audio / peak * 32767.0 if peak > 0 else audio
  return np.round(scaled).astype(np.int16)


def utterance_to_float(audio: np.ndarray) -> np.ndarray:
  """A stored utterance (int16, or float from another TFDS dataset) as float32, peak-normalised to 1
  (silence stays silent). [time] -> [time]."""
  audio = audio.astype(np.float32) / np.float32(32767.0) if audio.dtype == np.int16 else audio.astype(np.float32)
  peak = np.max(np.abs(audio)) if len(audio) else np.float32(0.0)
  return audio / peak if peak > 0 else audio


def read_utterances(folder, trim_top_db: float, limit: int | None = None) -> list[tuple[str, np.ndarray]]:
  """(path relative to `folder`, 48 kHz float32 audio, peak 1) for the audio files below `folder`,
  sorted, as a prepared dataset holds them (`prepare_utterance`, then `utterance_to_float`)."""
  folder = pathlib.Path(folder)
  return [(str(p.relative_to(folder)), utterance_to_float(prepare_utterance(p, trim_top_db)))
          for p in find_audio_files(folder)[:limit]]


def write_wav(path, audio: np.ndarray, sample_rate_hz: int, float_samples: bool = False) -> None:
  """A WAV of audio [time] (mono) or [channels, time]: 16-bit PCM with samples beyond [-1, 1]
  clipped, or 32-bit float samples as they are (`float_samples`). An AudioError names the file if it
  cannot be written."""
  frames = np.asarray(audio, np.float32)
  frames = frames.T if frames.ndim == 2 else frames
  try:
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    if float_samples:
      soundfile.write(str(path), frames, sample_rate_hz, subtype='FLOAT')
    else:
      soundfile.write(str(path), np.clip(frames, -1.0, 1.0), sample_rate_hz, subtype='PCM_16')
  except Exception as error:  # OSError from mkdir, LibsndfileError from soundfile
    raise AudioError(f'{path}: cannot be written ({error})') from None


def find_audio_files(folder) -> list[pathlib.Path]:
  """Audio files below `folder` (recursively, skipping hidden files and folders), sorted by path."""
  folder = pathlib.Path(folder)
  return sorted(p for p in folder.rglob('*')
                if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
                and not any(part.startswith('.') for part in p.relative_to(folder).parts))
