"""The sharded train step: device-count invariance, multi-host equivalence, optimizer and EMA."""

import os
import socket
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nuwave_jax import training
from tests import conftest
from tests import training_fixtures


def _flat(params):
  return {jax.tree_util.keystr(k): np.asarray(v) for k, v in jax.tree_util.tree_leaves_with_path(params)}


def _assert_trees_close(a, b, rtol=2e-5, atol=2e-6):
  a, b = _flat(a), _flat(b)
  assert a.keys() == b.keys()
  for k in a:
    np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=atol, err_msg=k)


def test_steps_on_8_devices_equal_steps_on_1_device():
  assert jax.device_count() == 8
  eight = training_fixtures.run_steps(devices=jax.devices())
  one = training_fixtures.run_steps(devices=jax.devices()[:1])
  _assert_trees_close(eight, one)
  initial = jax.device_get(training.init_state(training_fixtures.config(),
                                               training.make_mesh(jax.devices()[:1])).params)
  assert not np.allclose(_flat(initial)["['output_projection']['kernel']"],
                         _flat(one)["['output_projection']['kernel']"])


def test_microbatches_give_the_same_update():
  whole = training_fixtures.run_steps(devices=jax.devices()[:2])
  in_parts = training_fixtures.run_steps(devices=jax.devices()[:2], microbatches=4)
  _assert_trees_close(in_parts, whole)
  c = training_fixtures.config()
  c.train.microbatches = 3
  with pytest.raises(ValueError, match='multiple of train.microbatches'):
    training.make_train_step(c, training.make_mesh(jax.devices()[:2]))


def test_prediction_is_a_checked_config_choice():
  c = training_fixtures.config()
  mesh = training.make_mesh(jax.devices()[:1])
  batch = training.global_batch(training_fixtures.batch_rows(0), mesh)
  losses = {}
  for prediction in ('eps', 'v'):
    c.model.prediction = prediction
    _, metrics = training.make_train_step(c, mesh)(training.init_state(c, mesh), batch)
    losses[prediction] = float(metrics['loss'])
  assert losses['eps'] != losses['v']
  c.model.prediction = 'x0'
  with pytest.raises(ValueError, match='model.prediction must be one of'):
    training.make_train_step(c, mesh)


def test_residual_input_is_a_checked_config_choice_that_subtracts_the_condition():
  c = training_fixtures.config()
  mesh = training.make_mesh(jax.devices()[:1])
  rows = training_fixtures.batch_rows(0)
  silent = {'audio': rows['audio'], 'condition': np.zeros_like(rows['condition'])}
  losses = {}
  for network_input in ('noisy', 'residual'):
    c.model.network_input = network_input
    step = training.make_train_step(c, mesh)
    for name, batch in (('cond', rows), ('silent', silent)):
      _, metrics = step(training.init_state(c, mesh), training.global_batch(batch, mesh))
      losses[network_input, name] = float(metrics['loss'])
  # With a silent condition y_t - l y_c is y_t: the same loss; with the real one, another.
  assert losses['residual', 'silent'] == pytest.approx(losses['noisy', 'silent'], rel=1e-6)
  assert abs(losses['residual', 'cond'] / losses['noisy', 'cond'] - 1) > 1e-3
  c.model.network_input = 'clean'
  with pytest.raises(ValueError, match='model.network_input must be one of'):
    training.make_train_step(c, mesh)


def test_log_uniform_fraction_is_a_checked_config_choice():
  c = training_fixtures.config()
  mesh = training.make_mesh(jax.devices()[:1])
  batch = training_fixtures.batch_rows(0)
  losses = {}
  for fraction in (0.0, 1.0):
    c.diffusion.log_uniform_fraction = fraction
    _, metrics = training.make_train_step(c, mesh)(training.init_state(c, mesh),
                                                   training.global_batch(batch, mesh))
    losses[fraction] = float(metrics['loss'])
  assert losses[0.0] != losses[1.0]
  c.diffusion.log_uniform_fraction = 1.5
  with pytest.raises(ValueError, match='log_uniform_fraction must be in'):
    training.make_train_step(c, mesh)
  c.diffusion.log_uniform_fraction = 0.5
  c.diffusion.noise_std_min = 1.0
  with pytest.raises(ValueError, match='noise_std_min must be in'):
    training.make_train_step(c, mesh)


def _free_port():
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def _two_processes(tmp_path, *extra):
  """Runs multiprocess_worker.py as processes 0 and 1 of a run; their written params."""
  port = str(_free_port())
  env = dict(os.environ, PYTHONPATH=str(conftest.REPO))
  worker = str(conftest.REPO / 'tests' / 'multiprocess_worker.py')
  outs = [tmp_path / f'p{i}.npz' for i in range(2)]
  procs = [subprocess.Popen([sys.executable, worker, str(i), '2', port, str(outs[i]), *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
           for i in range(2)]
  for p in procs:
    output, _ = p.communicate(timeout=300)
    assert p.returncode == 0, output[-3000:]
  return [dict(np.load(o)) for o in outs]


def test_two_processes_save_and_restore_one_shared_checkpoint(tmp_path):
  p0, p1 = _two_processes(tmp_path, str(tmp_path / 'run'))  # each checks restored == saved
  for k in p0:
    np.testing.assert_array_equal(p0[k], p1[k], err_msg=k)
  assert sorted(p.name for p in (tmp_path / 'run' / 'checkpoints').iterdir()) == ['1']


def test_two_processes_with_gloo_match_the_single_process_run(tmp_path):
  p0, p1 = _two_processes(tmp_path)
  for k in p0:  # identical on both processes: replicated params after all-reduced gradients
    np.testing.assert_array_equal(p0[k], p1[k], err_msg=k)
  single = _flat(training_fixtures.run_steps(devices=jax.devices()))
  for k in single:
    np.testing.assert_allclose(p0[k], single[k], rtol=2e-5, atol=2e-6, err_msg=k)


def test_optimizer_is_clipped_adam_with_the_papers_hyperparameters(tiny_config):
  tx = training.make_optimizer(tiny_config)
  params = {'w': jnp.zeros(3)}
  grads = {'w': jnp.array([3.0, 4.0, 0.0])}  # global norm 5, clipped to 0.5
  updates, _ = tx.update(grads, tx.init(params), params)
  # Adam's first step is lr * m_hat / (sqrt(v_hat) + eps) = lr * sign(g) for the clipped g.
  np.testing.assert_allclose(updates['w'], [-3e-5, -3e-5, 0.0], rtol=1e-4)
  assert tiny_config.train.adam_b1 == 0.5 and tiny_config.train.adam_eps == 1e-9


def test_cosine_lr_decay_follows_the_closed_form(tiny_config):
  tiny_config.train.lr_decay = 'cosine'
  tiny_config.train.num_steps = 4
  tx = training.make_optimizer(tiny_config)
  params, grads = {'w': jnp.zeros(1)}, {'w': jnp.array([0.1])}  # not clipped
  state, steps = tx.init(params), []
  for _ in range(5):
    updates, state = tx.update(grads, state, params)
    steps.append(-float(updates['w'][0]))  # Adam on a constant gradient: lr_k * sign(g)
  expected = [3e-5 * 0.5 * (1 + np.cos(np.pi * min(k, 4) / 4)) for k in range(5)]
  np.testing.assert_allclose(steps, expected, rtol=1e-4, atol=1e-12)
  tiny_config.train.lr_decay = 'linear'
  with pytest.raises(ValueError, match="train.lr_decay must be one of .* got 'linear'"):
    training.make_optimizer(tiny_config)


def test_ema_styles():
  ema, params = {'w': jnp.array(0.0)}, {'w': jnp.array(1.0)}
  np.testing.assert_allclose(training.ema_update(ema, params, 0.999, 'standard')['w'], 0.001, rtol=1e-6)
  # Warm-up: at step 0 the decay is 1/10, so the average follows the first updates closely.
  np.testing.assert_allclose(training.ema_update(ema, params, 0.999, 'standard', 0)['w'], 0.9, rtol=1e-6)
  np.testing.assert_allclose(training.ema_update(ema, params, 0.999, 'standard', 10**6)['w'], 0.001,
                             rtol=1e-4)  # float32: 1 - 0.999
  # The original's callback weights the newest params by 0.999.
  np.testing.assert_allclose(training.ema_update(ema, params, 0.999, 'original')['w'], 0.999, rtol=1e-6)
  with pytest.raises(ValueError, match='ema_style'):
    training.ema_update(ema, params, 0.999, 'fancy')
