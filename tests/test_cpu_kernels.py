"""The network's CPU form (cpu_kernels.py) against the plain network, and each of its kernels against
what JAX computes for the plain operation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nuwave_jax.nuwave import cpu_kernels
from nuwave_jax.nuwave import model as model_lib


def _build(config, kernels):
  config.model.kernels = kernels
  return model_lib.build_model(config)


def _assert_trees_close(got, expected, rtol):
  flat_expected = dict(jax.tree_util.tree_leaves_with_path(expected))
  for path, value in jax.tree_util.tree_leaves_with_path(got):
    reference = flat_expected[path]
    scale = float(jnp.abs(reference).max())
    assert scale > 0, path
    np.testing.assert_allclose(value, reference, rtol=0, atol=rtol * scale, err_msg=str(path))


@pytest.mark.parametrize('config_name, time', [('tiny_config', 777), ('paper_config', 1500)])
def test_cpu_form_equals_the_plain_network_in_values_and_gradients(config_name, time, request):
  config = request.getfixturevalue(config_name)
  plain, cpu = _build(config, 'plain'), _build(config, 'cpu')
  params = model_lib.init_params(plain, jax.random.key(11))
  noisy, cond, target = jax.random.normal(jax.random.key(12), (3, 2, time))
  level, std = jnp.array([0.4, 0.97]), jnp.sqrt(1 - jnp.array([0.4, 0.97])**2)

  def loss(p, module, split):
    if split:  # the sampler's form: the condition path once, then denoise
      features = module.apply({'params': p}, cond, method='condition_features')
      out = module.apply({'params': p}, noisy, features, level, std, method='denoise')
    else:  # the training form
      out = module.apply({'params': p}, noisy, cond, level, std)
    return jnp.mean((out - target) ** 2), out

  grad = jax.jit(jax.value_and_grad(loss, has_aux=True), static_argnums=(1, 2))
  (_, expected_out), expected_grads = grad(params, plain, False)
  for split in (False, True):
    (_, out), grads = grad(params, cpu, split)
    np.testing.assert_allclose(out, expected_out, rtol=0, atol=2e-5 * float(jnp.abs(expected_out).max()))
    _assert_trees_close(grads, expected_grads, 2e-5)
  features = cpu.apply({'params': params}, cond, method='condition_features')
  _assert_trees_close(features, plain.apply({'params': params}, cond, method='condition_features'), 1e-6)


def test_auto_kernels_are_the_cpu_form_on_a_cpu(tiny_config):
  assert jax.default_backend() == 'cpu'
  assert _build(tiny_config, 'auto').kernels == 'cpu'
  assert _build(tiny_config, 'plain').kernels == 'plain'


@pytest.mark.parametrize('batch,time,dilation,kernel_size',
                         [(1, 4096, 32, 3), (3, 700, 4, 3), (2, 333, 1, 2), (1, 700, 4, 3),
                          (1, 512, 8, 2), (1, 96, 16, 4)])
def test_conv_kernel_gradient_equals_autodiff(batch, time, dilation, kernel_size):
  x = jax.random.normal(jax.random.key(9), (batch, time, 8))
  d_out = jax.random.normal(jax.random.key(10), (batch, time, 6))
  kernel = jnp.zeros((kernel_size, 8, 6))
  expected = jax.vjp(lambda k: cpu_kernels.conv1d_same(x, k, dilation), kernel)[1](d_out)[0]
  got = cpu_kernels.conv1d_same_kernel_grad(x, d_out, dilation, kernel_size)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * float(jnp.abs(expected).max()))


def test_conv_kernel_gradient_of_a_sharded_batch_is_summed_not_gathered():
  # Under data parallelism each device's part of the gradient is summed (all-reduce); gathering the
  # inputs instead would move every layer's activations between devices.
  mesh = jax.sharding.Mesh(np.array(jax.devices()), ('data',))
  sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec('data'))
  batch = jax.device_count()
  x = jax.device_put(jax.random.normal(jax.random.key(11), (batch, 256, 8)), sharding)
  d_out = jax.device_put(jax.random.normal(jax.random.key(12), (batch, 256, 6)), sharding)
  grad = jax.jit(lambda x, d: cpu_kernels.conv1d_same_kernel_grad(x, d, 16, 3))
  hlo = grad.lower(x, d_out).compile().as_text()
  assert 'all-reduce' in hlo and 'all-gather' not in hlo and 'all-to-all' not in hlo
  expected = cpu_kernels.conv1d_same_kernel_grad(np.asarray(x), np.asarray(d_out), 16, 3)
  np.testing.assert_allclose(grad(x, d_out), expected, rtol=1e-5,
                             atol=1e-5 * float(jnp.abs(expected).max()))


def test_two_dilated_convs_value_and_gradient_equal_autodiff_of_two_convs():
  h, c = jax.random.normal(jax.random.key(1), (2, 2, 300, 8))
  kernels = jax.random.normal(jax.random.key(2), (2, 3, 8, 12))
  biases = jax.random.normal(jax.random.key(3), (2, 12))
  d_out = jax.random.normal(jax.random.key(4), (2, 300, 12))
  args = (h, c, kernels[0], biases[0], kernels[1], biases[1])
  plain = lambda h, c, hk, hb, ck, cb: (cpu_kernels.dilated_conv1d(h, hk, hb, 4)
                                        + cpu_kernels.dilated_conv1d(c, ck, cb, 4))
  expected_out, expected_vjp = jax.vjp(plain, *args)
  got_out, got_vjp = jax.vjp(lambda *a: cpu_kernels.two_dilated_convs(*a, 4), *args)
  for got, expected in zip((got_out,) + got_vjp(d_out), (expected_out,) + expected_vjp(d_out)):
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * float(jnp.abs(expected).max()))


def test_two_projections_value_and_gradient_equal_autodiff_of_two_matmuls():
  x = jax.random.normal(jax.random.key(13), (2, 333, 8))
  kernel = jax.random.normal(jax.random.key(14), (8, 12))
  d_first, d_second = jax.random.normal(jax.random.key(15), (2, 2, 333, 6))
  plain = lambda x, k: (x @ k[:, :6], x @ k[:, 6:])
  expected_out, expected_vjp = jax.vjp(plain, x, kernel)
  got_out, got_vjp = jax.vjp(cpu_kernels.two_projections, x, kernel)
  for got, expected in zip(got_out + got_vjp((d_first, d_second)),
                           expected_out + expected_vjp((d_first, d_second))):
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * float(jnp.abs(expected).max()))


def test_materialized_returns_its_input_exactly():
  x = jnp.array([-0.0, 1.5, -3e-38, jnp.nan, jnp.inf], jnp.float32)
  for scalar in (0.25, jnp.nan):  # scalar == scalar picks one branch, NaN the other
    out = np.asarray(jax.jit(cpu_kernels.materialized)(x, jnp.float32(scalar)))
    np.testing.assert_array_equal(out, x)
    assert np.signbit(out[0])


def test_residual_chain_stays_materialized_through_the_cpu_compiler(tiny_config):
  # If XLA ever folds the conditionals away, each layer's fusions recompute the residual chain
  # from the first layer on again: a paper-size denoise call 1.75x slower.
  module = _build(tiny_config, 'cpu')
  params = model_lib.init_params(module, jax.random.key(7))
  noisy, cond = jax.random.normal(jax.random.key(8), (2, 2, 300))
  compiled = jax.jit(module.apply).lower({'params': params}, noisy, cond, jnp.array([0.3, 0.99])).compile()
  # One per layer but the last, whose residual output is unused.
  assert compiled.as_text().count(' conditional(') == tiny_config.model.residual_layers - 1
