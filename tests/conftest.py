"""Shared test setup: the repo root importable, configs at hand, JAX on 8 fake CPU devices."""

import os
import pathlib
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
# 8 CPU devices for the sharding tests; harmless elsewhere. Must precede the first jax import.
os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                           ' --xla_force_host_platform_device_count=8').strip()

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pytest  # noqa: E402

from configs import nuwave_x2  # noqa: E402
from configs import nuwave_x3  # noqa: E402
from configs import tiny  # noqa: E402


@pytest.fixture
def tiny_config():
  return tiny.get_config()


@pytest.fixture
def paper_config():
  return nuwave_x2.get_config()


@pytest.fixture
def paper_config_x3():
  return nuwave_x3.get_config()


def write_clips(folder: pathlib.Path, counts: dict[str, int], rate: int = 48000, seed: int = 0):
  """Short synthetic speech-like clips (a tone plus noise) in folder/<split>/, WAV at `rate`."""
  import numpy as np
  import soundfile
  rng = np.random.default_rng(seed)
  for split, n in counts.items():
    (folder / split).mkdir(parents=True, exist_ok=True)
    for i in range(n):
      t = np.arange(int(rng.integers(3000, 9000))) / rate
      clip = 0.5 * np.sin(2 * np.pi * rng.uniform(200, 4000) * t) + 0.05 * rng.normal(size=t.size)
      soundfile.write(folder / split / f'clip{i:03d}.wav', clip.astype(np.float32), rate)
  return folder


def write_fake_vctk(root: pathlib.Path, speakers, utterances: int = 2, samples: int = 600):
  """VCTK 0.92's layout (wav48_silence_trimmed/<speaker>/<speaker>_<nnn>_mic{1,2}.flac) with noise clips."""
  import numpy as np
  import soundfile
  audio_dir = root / 'wav48_silence_trimmed'
  rng = np.random.default_rng(0)
  for speaker in speakers:
    (audio_dir / speaker).mkdir(parents=True)
    for u in range(1, utterances + 1):
      for mic in ('mic1', 'mic2'):
        clip = 0.3 * rng.normal(size=samples).astype(np.float32)
        soundfile.write(audio_dir / speaker / f'{speaker}_{u:03d}_{mic}.flac', clip, 48000)
  (root / 'txt').mkdir()
  (root / 'speaker-info.txt').write_text('ID AGE GENDER ACCENTS\n')
  return root


@pytest.fixture(scope='package')  # once for the tests/ package: the whole run
def synthetic_folder(tmp_path_factory):
  """folder/train (12 clips) and folder/eval (3 clips) of 48 kHz WAV."""
  return write_clips(tmp_path_factory.mktemp('synthetic'), {'train': 12, 'eval': 3})


SPEECH_CLIPS = {'train': 734, 'eval': 90}  # what scripts/fetch_speech.sh lays out


@pytest.fixture(scope='package')  # once for the tests/ package: the whole run
def real_speech():
  """Real recorded speech (44.1 kHz Ogg), fetched once into .cache/speech by scripts/fetch_speech.sh
  (under a lock: the test processes of `pytest -n` share it)."""
  import fcntl
  import shutil
  import subprocess
  dest = REPO / '.cache' / 'speech'
  counts = lambda: {split: len(list((dest / split).glob('*.ogg'))) for split in SPEECH_CLIPS}
  dest.parent.mkdir(exist_ok=True)
  with open(dest.parent / 'speech.lock', 'w') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if counts() != SPEECH_CLIPS:
      if shutil.which('apt-get') is None:
        pytest.skip('scripts/fetch_speech.sh needs apt-get (Debian or Ubuntu), which this machine lacks')
      result = subprocess.run(['bash', str(REPO / 'scripts' / 'fetch_speech.sh'), str(dest)],
                              capture_output=True, text=True, timeout=900)
      if result.returncode != 0:
        pytest.skip(f'apt-get could not download the speech package: {result.stderr.strip()[-500:]}')
      assert counts() == SPEECH_CLIPS, result.stdout
  return dest


@pytest.fixture
def tiny_folder_config(tiny_config, synthetic_folder, tmp_path):
  """The tiny config reading the synthetic folder, with TFDS data prepared under tmp_path."""
  tiny_config.data.dir = str(synthetic_folder)
  tiny_config.data.tfds_data_dir = str(tmp_path / 'tfds')
  tiny_config.data.trim_top_db = 0.0
  return tiny_config


@pytest.fixture
def nuwave2_tiny_folder_config(synthetic_folder, tmp_path):
  """configs/nuwave2_tiny.py reading the synthetic folder, with TFDS data prepared under tmp_path."""
  from configs import nuwave2_tiny
  config = nuwave2_tiny.get_config()
  config.data.dir = str(synthetic_folder)
  config.data.tfds_data_dir = str(tmp_path / 'tfds')
  config.data.trim_top_db = 0.0
  return config


def init_params(config, seed: int = 0):
  """Fresh parameters of the network `config` describes (its family's init)."""
  import jax

  from nuwave_jax import families
  family = families.of(config)
  return family.init_params(family.build_model(config), jax.random.key(seed))


@pytest.fixture(scope='package')
def tiny_checkpoint(tmp_path_factory):
  """A tiny (untrained) checkpoint directory, as training writes it (params and EMA params)."""
  from nuwave_jax import checkpoints
  config = tiny.get_config()
  directory = tmp_path_factory.mktemp('checkpoint')
  params = init_params(config)
  checkpoints.save_params(directory, config, {'params': params, 'ema_params': params}, step=10)
  return directory
