"""The training loop: SIGTERM and resume, NaN handling, checkpoints and the config check."""

import os
import shutil
import signal

import jax
import numpy as np
import pytest

from nuwave_jax import checkpoints
from nuwave_jax import training
from nuwave_jax.data import pipeline


def _config(config):
  config.train.num_steps = 8
  config.train.batch_size = 8  # one example per fake CPU device
  config.train.checkpoint_every = 100  # only SIGTERM and the end save
  config.train.log_every = 2
  config.train.eval_every = 4
  return config


def _data(config, sigterm_at=None, nan_at=None, signals=(signal.SIGTERM,)):
  """train_data(start_step) over the real pipeline; optionally `signals` (SIGTERM) sent to this
  process, or NaN audio, at a global step."""
  builder = pipeline.make_builder(config)

  def train_data(start_step):
    for step, batch in enumerate(pipeline.train_dataset(config, start_step=start_step, builder=builder)
                                 .as_numpy_iterator(), start_step):
      if step == sigterm_at:
        for s in signals:  # handled: the loop finishes this step, saves, returns
          os.kill(os.getpid(), s)
      if step == nan_at:
        batch = dict(batch, audio=np.full_like(batch['audio'], np.nan))
      yield batch

  return train_data


def _params(state):
  return jax.tree.leaves(jax.device_get(state.params))


def test_sigterm_then_resume_equals_an_uninterrupted_run(tiny_folder_config, tmp_path):
  config = _config(tiny_folder_config)
  eval_set = pipeline.eval_utterances(config, 2)
  whole = training.train_and_evaluate(config, tmp_path / 'whole', _data(config), eval_set)
  stopped = training.train_and_evaluate(config, tmp_path / 'run', _data(config, sigterm_at=3), eval_set)
  assert int(stopped.step) == 4  # the step in flight finishes, then the run saves and stops
  manager = checkpoints.make_manager(tmp_path / 'run')
  assert manager.all_steps() == [4]
  manager.close()
  resumed = training.train_and_evaluate(config, tmp_path / 'run', _data(config), eval_set)
  assert int(resumed.step) == 8
  for a, b in zip(_params(whole), _params(resumed)):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
  assert (tmp_path / 'run' / 'tensorboard').is_dir()
  assert any((tmp_path / 'run' / 'tensorboard').iterdir())


def test_a_first_sigint_saves_and_stops_a_second_aborts(tiny_folder_config, tmp_path, capsys):
  config = _config(tiny_folder_config)
  before = signal.getsignal(signal.SIGINT)
  stopped = training.train_and_evaluate(config, tmp_path / 'run', _data(config, 1, signals=(signal.SIGINT,)))
  assert int(stopped.step) == 2
  assert 'interrupted: saving a checkpoint after this step' in capsys.readouterr().out
  manager = checkpoints.make_manager(tmp_path / 'run')
  assert manager.all_steps() == [2]
  manager.close()
  with pytest.raises(KeyboardInterrupt):
    training.train_and_evaluate(config, tmp_path / 'run', _data(config, 3, signals=(signal.SIGINT,) * 2))
  assert signal.getsignal(signal.SIGINT) is before  # the handlers are put back
  manager = checkpoints.make_manager(tmp_path / 'run')
  assert manager.all_steps() == [2]  # aborted: nothing saved
  manager.close()


def test_an_incomplete_newest_checkpoint_falls_back_to_the_one_before(tiny_folder_config, tmp_path, capsys):
  config = _config(tiny_folder_config)
  config.train.checkpoint_every = 2
  config.train.num_steps = 6
  whole = training.train_and_evaluate(config, tmp_path / 'whole', _data(config))
  config.train.num_steps = 4
  training.train_and_evaluate(config, tmp_path / 'run', _data(config))
  # Step 4 arrived half-way (a Drive sync cut off): its training state is gone.
  shutil.rmtree(tmp_path / 'run' / 'checkpoints' / '4' / 'train')
  config.train.num_steps = 6
  resumed = training.train_and_evaluate(config, tmp_path / 'run', _data(config))
  printed = capsys.readouterr().out
  assert 'warning: ' in printed and 'checkpoints/4: has no train item' in printed
  assert 'moved aside to 4.incomplete' in printed and 'at step 2' in printed
  assert (tmp_path / 'run' / 'checkpoints' / '4.incomplete').is_dir()
  for a, b in zip(_params(whole), _params(resumed)):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_nuwave2_trains_resumes_exactly_and_evaluates_every_input_rate(nuwave2_tiny_folder_config, tmp_path,
                                                                      capsys):
  config = _config(nuwave2_tiny_folder_config)
  config.train.num_steps = 6
  config.train.eval_every = 6
  eval_set = pipeline.eval_utterances(config, 1)
  whole = training.train_and_evaluate(config, tmp_path / 'whole', _data(config), eval_set)
  printed = capsys.readouterr().out
  for rate in ('8', '12', '16', '24'):
    assert f'step 6: eval at {rate} kHz SNR' in printed
  stopped = training.train_and_evaluate(config, tmp_path / 'run', _data(config, sigterm_at=2), eval_set)
  assert int(stopped.step) == 3
  resumed = training.train_and_evaluate(config, tmp_path / 'run', _data(config), eval_set)
  for a, b in zip(_params(whole), _params(resumed)):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tiny_folder_config, tmp_path):
  config = _config(tiny_folder_config)
  config.train.checkpoint_every = 2
  with pytest.raises(FloatingPointError, match='step 6.*not finite.*last good checkpoint'):
    training.train_and_evaluate(config, tmp_path / 'run', _data(config, nan_at=5))
  manager = checkpoints.make_manager(tmp_path / 'run')
  assert manager.latest_step() == 4  # step 6 (after the NaN batch) was never saved
  manager.close()
  params, _, step = checkpoints.restore_params(tmp_path / 'run', config, use_ema=False)
  assert step == 4 and all(np.all(np.isfinite(p)) for p in jax.tree.leaves(params))


def test_resuming_with_another_model_config_or_lr_decay_is_refused(tiny_folder_config, tmp_path):
  config = _config(tiny_folder_config)
  config.train.num_steps = 2
  training.train_and_evaluate(config, tmp_path / 'run', _data(config))
  config.model.residual_channels = 16
  with pytest.raises(ValueError, match='model.residual_channels: 8 -> 16'):
    training.check_workdir(config, tmp_path / 'run')
  config.model.residual_channels = 8
  config.train.lr_decay = 'cosine'  # another optimizer state
  with pytest.raises(ValueError, match="train.lr_decay='constant', not 'cosine'"):
    training.check_workdir(config, tmp_path / 'run')


def test_an_interrupted_save_leaves_the_previous_checkpoint_usable(tiny_folder_config, tmp_path):
  config = _config(tiny_folder_config)
  config.train.num_steps = 4
  config.train.checkpoint_every = 2
  training.train_and_evaluate(config, tmp_path / 'run', _data(config))
  # A crash while writing step 6 leaves orbax's temporary folder behind, never a step folder.
  (tmp_path / 'run' / 'checkpoints' / '6.orbax-checkpoint-tmp-1234').mkdir()
  config.train.num_steps = 6
  resumed = training.train_and_evaluate(config, tmp_path / 'run', _data(config))
  assert int(resumed.step) == 6


def test_a_checkpoint_that_does_not_fit_is_named_and_the_workdir_left_as_it_was(tiny_folder_config,
                                                                                tmp_path):
  config = _config(tiny_folder_config)
  config.train.num_steps = 2
  run = tmp_path / 'run'
  training.train_and_evaluate(config, run, _data(config))
  # No config.json to compare with (copied without it): the restore itself must refuse, by folder,
  # and leave no config.json of the wrong model behind.
  (run / 'config.json').unlink()
  config.model.residual_channels = 16
  with pytest.raises(ValueError, match=r'checkpoints/2 was made with another model config: .*'
                                       r'input_projection/kernel has shape \(1, 1, 8\), the config wants '
                                       r'\(1, 1, 16\)'):
    training.train_and_evaluate(config, run, _data(config))
  assert not (run / 'config.json').exists()
  config.model.residual_channels = 8
  config.train.num_steps = 3
  assert int(training.train_and_evaluate(config, run, _data(config)).step) == 3
  # A step folder copied half-way (no items): named, with what to do, when sampling (training moves
  # it aside: test_an_incomplete_newest_checkpoint_falls_back_to_the_one_before).
  (run / 'checkpoints' / '9').mkdir()
  (run / 'checkpoints' / '9' / '_CHECKPOINT_METADATA').write_text('{}')
  with pytest.raises(ValueError, match=r'checkpoints/9: has no model.* item.*remove it to use the step before'):
    checkpoints.restore_params(run)
  shutil.rmtree(run / 'checkpoints' / '9')
  # A config.json cut short by a crash: named.
  (run / 'config.json').write_text('{"model": {')
  with pytest.raises(ValueError, match=r'run/config.json: not a saved config'):
    checkpoints.restore_params(run)
  # Parameters without training state, as nuwave_jax.convert writes them: sampled from, not resumed.
  manager = checkpoints.make_manager(tmp_path / 'converted')
  checkpoints.save(manager, 1, {'params': training.init_state(config, training.make_mesh()).params})
  manager.wait_until_finished()
  manager.close()
  with pytest.raises(ValueError, match=r'converted/checkpoints/1: has parameters but no training state'):
    training.train_and_evaluate(config, tmp_path / 'converted', _data(config))


def test_eval_utterances_that_cannot_be_scored_are_left_out_by_name(tiny_folder_config, tmp_path, capsys):
  config = _config(tiny_folder_config)
  config.train.num_steps = 2  # one eval, at the end
  eval_set = pipeline.eval_utterances(config, 1) + [
      ('silent.wav', np.zeros(4800, np.float32)),
      ('late.wav', np.concatenate([np.zeros(48000, np.float32), np.ones(10, np.float32)])),
      ('one.wav', np.array([0.5], np.float32))]
  config.train.eval_seconds = 0.5  # late.wav is silent in its first 0.5 s, all that is scored
  training.train_and_evaluate(config, tmp_path / 'run', _data(config), eval_set)
  out = capsys.readouterr().out
  assert ('eval utterances left out: silent.wav: silent; late.wav: silent; one.wav: shorter than 2 '
          'samples at 48 kHz') in out
  assert 'step 2: eval at 24 kHz SNR' in out


@pytest.mark.parametrize('override, expected', [
    ('--config.trian.lr=1', 'names no field of the config: \'trian\' (in --config.trian.lr=1)\nDid you mean "train"'),
    ('--config.train.batch_sise=3', 'names no field of the config: \'batch_sise\' (in --config.train.batch_sise=3)'
                                    '\nDid you mean "batch_size"'),
    ('--config.train.batch_size=abc', "--config.train.batch_size=abc: train.batch_size must be of type int, not 'abc'"),
    ('--config.train.keep_checkpoints=0', 'train.keep_checkpoints must be at least 1'),
])
def test_train_py_names_a_bad_config_override_in_one_error(override, expected, tmp_path):
  """With TensorFlow's oneDNN operations forced on (as they are by default on AVX-512 CPUs, whose
  notices would come first) and no log level set: the error is still the only output."""
  import subprocess
  import sys
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = {k: v for k, v in os.environ.items() if k != 'TF_CPP_MIN_LOG_LEVEL'}
  result = subprocess.run([sys.executable, 'train.py', '--config', 'configs/tiny.py', '--workdir',
                           str(tmp_path / 'run'), override], cwd=root, capture_output=True, text=True,
                          timeout=300, env=dict(env, TF_ENABLE_ONEDNN_OPTS='1'))
  assert result.returncode == 2
  assert expected in result.stderr and 'Traceback' not in result.stderr
  assert len(result.stderr.strip().splitlines()) <= 2  # one error (and its suggestion)
  assert not (tmp_path / 'run').exists()


def test_keep_checkpoints_0_is_refused_before_the_workdir_is_touched(tiny_folder_config, tmp_path):
  config = _config(tiny_folder_config)
  config.train.num_steps = 2
  run = tmp_path / 'run'
  training.train_and_evaluate(config, run, _data(config))
  config.train.keep_checkpoints, config.train.num_steps = 0, 4  # orbax would delete every step
  with pytest.raises(ValueError, match='train.keep_checkpoints must be at least 1'):
    training.train_and_evaluate(config, run, _data(config))
  assert [p.name for p in (run / 'checkpoints').iterdir()] == ['2']
