"""The sharded train step: device-count invariance, multi-host equivalence, optimizer and EMA."""

import os
import socket
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nuwave_jax import families
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


def test_microbatches_give_the_same_update_rolled_or_unrolled():
  """On the CPU the accumulation is unrolled; rolled (as on a TPU or GPU, where it holds 1/n of the
  activations: tests/test_tpu_fit.py) it is the same update."""
  whole = training_fixtures.run_steps(devices=jax.devices()[:2])
  in_parts = training_fixtures.run_steps(devices=jax.devices()[:2], microbatches=4)
  _assert_trees_close(in_parts, whole)
  rolled = training_fixtures.run_steps(devices=jax.devices()[:2], microbatches=4, unroll_microbatches=False)
  _assert_trees_close(rolled, whole)
  c = training_fixtures.config()
  c.train.microbatches = 3
  with pytest.raises(ValueError, match='multiple of train.microbatches'):
    training.make_train_step(c, training.make_mesh(jax.devices()[:2]))


def test_a_batch_the_devices_cannot_split_names_the_nearest_that_fit():
  with pytest.raises(ValueError, match=r'train.batch_size 36 must be a multiple of train.microbatches \(1\) x the 8 '
                                       r'devices: the nearest that fit are 32 or 40 \(--config.train.batch_size=32\); '
                                       r'train.microbatches=N then splits'):
    training.check_batch_fits(36, 1, 8)
  with pytest.raises(ValueError, match=r'nearest that fit are 32 or 48 .*a batch of 32 takes 1/2'):
    training.check_batch_fits(36, 2, 8)
  with pytest.raises(ValueError, match=r'the nearest that fit are 8 \(--config.train.batch_size=8\)'):
    training.check_batch_fits(4, 1, 8)
  training.check_batch_fits(24, 3, 8)  # fits: no error


@pytest.mark.parametrize('prediction, network_input, log_uniform_fraction, loss', [
    ('eps', 'noisy', 0.0, 'log_l1'), ('v', 'noisy', 0.0, 'log_l1'), ('eps', 'noisy_minus_condition', 0.0, 'l1'),
    ('v', 'noisy_minus_condition', 1.0, 'l1'), ('eps', 'noisy', 1.0, 'log_l1')])
def test_the_step_loss_is_the_configured_objective(prediction, network_input, log_uniform_fraction, loss):
  """The step's loss, recomputed in float64 numpy from the objective's draws (its levels, and its
  noise read back from the target) and the network's output: the network's input (y_t, or
  y_t - l y_c), the loss (log-L1 or L1) and the noise levels (the paper's, or log-uniform stds) are
  the config's."""
  c = training_fixtures.config()
  c.model.prediction, c.model.network_input, c.diffusion.loss = prediction, network_input, loss
  c.diffusion.log_uniform_fraction = log_uniform_fraction
  mesh = training.make_mesh(jax.devices()[:1])
  rows = training_fixtures.batch_rows(0)
  state = training.init_state(c, mesh)
  params, key = jax.device_get(state.params), jax.random.wrap_key_data(jnp.array(state.rng))
  _, step_metrics = training.make_train_step(c, mesh)(state, training.global_batch(rows, mesh))

  family = families.of(c)
  module = family.build_model(c)
  _, (given_input, _, level, std, target) = family.make_objective(c, module)[0](key, rows)
  level, std, target = (np.asarray(x, np.float64) for x in (level, std, target))
  clean, cond = (np.asarray(rows[k], np.float64) for k in ('audio', 'condition'))
  noise = target if prediction == 'eps' else (target + std[:, None] * clean) / level[:, None]
  if log_uniform_fraction == 1.0:  # every std log-uniform in [noise_std_min, 0.975]: median 0.01
    assert np.all((std >= c.diffusion.noise_std_min * 0.999) & (std <= 0.976)) and np.median(std) < 0.3
  else:  # the paper's levels in [sqrt(alpha_bar_T), 1] = [0.222, 1]: median std ~0.7
    assert np.all((level >= 0.2219) & (level <= 1.0)) and np.median(std) > 0.3
    np.testing.assert_allclose(std, np.sqrt(1 - level**2), atol=1e-6)
  noisy = level[:, None] * clean + std[:, None] * noise
  x = noisy if c.model.network_input == 'noisy' else noisy - level[:, None] * cond
  np.testing.assert_allclose(given_input, x, atol=1e-5)
  output = np.asarray(module.apply({'params': params}, x.astype(np.float32), rows['condition'],
                                   level.astype(np.float32), std.astype(np.float32)), np.float64)
  l1 = np.abs(output - target).mean(axis=-1)
  expected = np.log(l1).mean() if loss == 'log_l1' else l1.mean()
  np.testing.assert_allclose(float(step_metrics['loss']), expected, rtol=2e-5)


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


@pytest.mark.slow
def test_two_processes_save_and_restore_one_shared_checkpoint(tmp_path):
  p0, p1 = _two_processes(tmp_path, str(tmp_path / 'run'))  # each checks restored == saved
  for k in p0:
    np.testing.assert_array_equal(p0[k], p1[k], err_msg=k)
  assert sorted(p.name for p in (tmp_path / 'run' / 'checkpoints').iterdir()) == ['1']


@pytest.mark.slow
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


def _first_five_steps(config) -> list[float]:
  """The sizes of the optimizer's first 5 updates of a run of 4 steps: Adam on a constant gradient
  (not clipped) moves by lr_k * sign(g), so these are the learning rates."""
  config.train.num_steps = 4
  tx = training.make_optimizer(config)
  params, grads = {'w': jnp.zeros(1)}, {'w': jnp.array([0.1])}
  state, steps = tx.init(params), []
  for _ in range(5):
    updates, state = tx.update(grads, state, params)
    steps.append(-float(updates['w'][0]))
  return steps


def test_cosine_lr_decay_follows_the_closed_form(tiny_config):
  tiny_config.train.lr_decay = 'cosine'
  expected = [3e-5 * 0.5 * (1 + np.cos(np.pi * min(k, 4) / 4)) for k in range(5)]
  np.testing.assert_allclose(_first_five_steps(tiny_config), expected, rtol=1e-4, atol=1e-12)
  tiny_config.train.lr_decay = 'step'
  with pytest.raises(ValueError, match="unknown train.lr_decay 'step'"):
    training.make_optimizer(tiny_config)


def test_linear_lr_decay_reaches_zero_at_the_last_step(tiny_config):
  tiny_config.train.lr_decay = 'linear'
  expected = [3e-5 * (1 - min(k, 4) / 4) for k in range(5)]
  np.testing.assert_allclose(_first_five_steps(tiny_config), expected, rtol=1e-4, atol=1e-12)


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
