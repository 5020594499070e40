"""notebooks/colab_tpu.ipynb, executed headless on the CPU with the tiny config so that it never rots.

The parameters cell is overridden (as papermill does) to point at a fake VCTK zip in VCTK's real
layout, with Drive and the VM's disk as folders and the CPU as JAX's only platform, and the notebook
runs twice: the second run is a new Colab runtime (the VM's disk wiped, the zip deleted), which must
copy the prepared set back from Drive and resume the run from its workdir.
"""

import json
import pathlib
import shutil

import nbclient
import nbformat
import numpy as np
import pytest
import soundfile

from nuwave_jax.data import builders
from nuwave_jax.data import prepared
from tests import conftest

NOTEBOOK = conftest.REPO / 'notebooks' / 'colab_tpu.ipynb'


def execute(parameters: dict) -> str:
  """Runs the notebook with `parameters` set after its parameters cell; returns its printed output."""
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  tagged = [i for i, c in enumerate(notebook.cells) if 'parameters' in c.metadata.get('tags', [])]
  assert len(tagged) == 1, 'the notebook needs exactly one cell tagged "parameters"'
  overrides = '\n'.join(f'{name} = {value!r}' for name, value in parameters.items())
  notebook.cells.insert(tagged[0] + 1, nbformat.v4.new_code_cell(overrides))
  nbclient.NotebookClient(notebook, timeout=1200, kernel_name='python3',
                          resources={'metadata': {'path': str(conftest.REPO)}}).execute()
  return ''.join(o.get('text', '') for c in notebook.cells if c.cell_type == 'code' for o in c.outputs)


def drive_and_vm(tmp_path) -> dict:
  """The settings cell's paths, with Drive and the VM's disk as folders of tmp_path, and the CPU as
  the only platform."""
  return dict(REPO_DIR=str(conftest.REPO), WORKDIR=str(tmp_path / 'drive' / 'run'),
              DRIVE_DATA_DIR=str(tmp_path / 'drive' / 'tfds'), LOCAL_DATA_DIR=str(tmp_path / 'vm' / 'tfds'),
              VCTK_DIR=str(tmp_path / 'vm' / 'VCTK-Corpus-0.92'), PLATFORM='cpu', UPSAMPLE_FILES=[])


@pytest.mark.slow
def test_colab_notebook_trains_resumes_and_upsamples(tmp_path):
  speakers = ['p225', 'p226'] + list(builders.VCTK_TEST_SPEAKERS)
  corpus = conftest.write_fake_vctk(tmp_path / 'download', speakers, utterances=2, samples=24000)
  zip_path = pathlib.Path(shutil.make_archive(str(tmp_path / 'drive' / 'VCTK-Corpus-0.92'), 'zip', corpus))
  parameters = dict(
      drive_and_vm(tmp_path), CONFIG='configs/tiny.py', VCTK_ZIP=str(zip_path), CHECKPOINT_EVERY=1000,
      # x3 as configs/nuwave_x3.py; the global batch of 8 is sharded over the 8 CPU devices the
      # tests run on, as over the 8 chips of a v5e-8.
      TRAIN_FLAGS=['--config.data.ratio=3', '--config.train.batch_size=8',
                   '--config.train.num_steps=4', '--config.train.eval_every=4'])
  workdir, vctk_dir = pathlib.Path(parameters['WORKDIR']), pathlib.Path(parameters['VCTK_DIR'])
  local, on_drive = pathlib.Path(parameters['LOCAL_DATA_DIR']), pathlib.Path(parameters['DRIVE_DATA_DIR'])

  output = execute(parameters)
  assert '8 x cpu' in output  # the chip check ran on the only platform allowed
  unzipped = sorted(p.name for p in (vctk_dir / 'wav48_silence_trimmed').rglob('*.flac'))
  assert len(unzipped) == 2 * len(speakers) and all(n.endswith('_mic1.flac') for n in unzipped)
  assert prepared.datasets_under(local) and prepared.datasets_under(on_drive)
  assert 'can be deleted' in output
  assert sorted(p.name for p in (workdir / 'checkpoints').iterdir()) == ['4']
  assert '8 utterances x 1 runs, 1 input rate(s)' in output and (workdir / 'report' / 'report.json').is_file()
  assert len(list((workdir / 'report' / 'spectrograms').glob('*.png'))) == 2
  upsampled = sorted((workdir / 'upsampled').glob('*.wav'))
  assert [p.name for p in upsampled] == ['p360_001_mic1.wav', 'p360_002_mic1.wav']
  audio, rate = soundfile.read(upsampled[0])
  assert rate == 48000 and len(audio) == 24000 and np.all(np.isfinite(audio)) and np.abs(audio).max() > 0

  # A new runtime: the VM's disk is wiped and the zip deleted; Drive keeps the run and the prepared set.
  shutil.rmtree(tmp_path / 'vm')
  zip_path.unlink()
  parameters['TRAIN_FLAGS'] = parameters['TRAIN_FLAGS'][:2] + ['--config.train.num_steps=8']
  output = execute(parameters)
  assert 'shard 2/2 verified' in output and prepared.datasets_under(local) and not vctk_dir.exists()
  assert f'resumed {workdir} at step 4' in output
  assert sorted(int(p.name) for p in (workdir / 'checkpoints').iterdir()) == [4, 8]
  assert 'nothing to upsample' in output


@pytest.mark.slow
def test_colab_notebook_trains_evaluates_and_upsamples_nuwave2(tmp_path):
  speakers = ['p225', 'p226'] + list(builders.VCTK_TEST_SPEAKERS)
  corpus = conftest.write_fake_vctk(tmp_path / 'download', speakers, utterances=1, samples=24000)
  zip_path = shutil.make_archive(str(tmp_path / 'VCTK-Corpus-0.92'), 'zip', corpus)
  parameters = dict(
      drive_and_vm(tmp_path), MODEL='nuwave2', CONFIG='configs/nuwave2_tiny.py', VCTK_ZIP=zip_path,
      TRAIN_FLAGS=['--config.train.batch_size=8', '--config.train.num_steps=2', '--config.train.eval_every=2',
                   '--config.train.eval_utterances=1'], SIMULATE_RATE=12000)
  workdir = pathlib.Path(parameters['WORKDIR'])
  output = execute(parameters)
  assert sorted(p.name for p in (workdir / 'checkpoints').iterdir()) == ['2']
  assert 'step 2: eval at 8 kHz' in output and 'step 2: eval at 24 kHz' in output
  report = json.loads((workdir / 'report' / 'report.json').read_text())
  assert sorted(report['per_rate']) == ['12000', '16000', '24000', '8000']
  upsampled = sorted((workdir / 'upsampled').glob('*.wav'))
  assert [p.name for p in upsampled] == ['p360_001_mic1.wav']
  assert 'SNR' in output and '(input:' in output  # --simulate 12000 scored the file beside its input


@pytest.mark.slow
def test_colab_notebook_stops_without_the_platform(tmp_path):
  """A runtime without a TPU stops at the chip check instead of training on the CPU."""
  parameters = dict(drive_and_vm(tmp_path), CONFIG='configs/tiny.py', VCTK_ZIP=str(tmp_path / 'none.zip'),
                    PLATFORM='tpu')
  with pytest.raises(nbclient.exceptions.CellExecutionError, match='nuwave_jax.chips'):
    execute(parameters)
  assert not (tmp_path / 'drive').exists()
