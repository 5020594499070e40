"""The Flax network against an independent numpy forward pass and the paper's parameter counts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import default
from nuwave_jax import checkpoints
from nuwave_jax import convert
from nuwave_jax import diffusion
from nuwave_jax import model as model_lib
from tests import reference_numpy


def _relative_error(a, b):
  return float(np.linalg.norm(np.asarray(a, np.float64) - b) / np.linalg.norm(b))


@pytest.mark.parametrize('config_name', ['tiny_config', 'paper_config'])
def test_flax_forward_matches_numpy_reference_through_converter(config_name, request):
  config = request.getfixturevalue(config_name)
  m = config.model
  rng = np.random.default_rng(0)
  state_dict = reference_numpy.random_state_dict(rng, m.residual_channels, m.residual_layers,
                                                 m.embedding_channels, m.embedding_dim)
  params = convert.params_from_torch(state_dict, config)
  batch, time = 3, 700
  noisy = rng.normal(size=(batch, time)).astype(np.float32)
  cond = rng.normal(size=(batch, time)).astype(np.float32)
  level = np.array([0.2983, 0.9, 1.0 - 5e-7], np.float32)
  expected = reference_numpy.forward(state_dict, noisy, cond, level, m.residual_layers, m.dilation_cycle)
  module = model_lib.build_model(config)
  got = module.apply({'params': params}, noisy, cond, level)
  assert got.shape == (batch, time) and got.dtype == jnp.float32
  assert _relative_error(got, expected) < 1e-5


def test_paper_network_has_3049985_parameters(paper_config):
  shapes = checkpoints.param_shapes(paper_config)
  count = lambda prefix: sum(int(np.prod(s)) for k, s in shapes.items() if k[:len(prefix)] == prefix)
  assert sum(int(np.prod(s)) for s in shapes.values()) == 3_049_985
  # REFERENCE section 1's breakdown.
  assert count(('layer_7', 'dilated_conv')) == 24_704
  assert count(('layer_7', 'condition_conv')) == 24_704
  assert count(('layer_7', 'diffusion_projection')) == 32_832
  assert count(('layer_7', 'output_projection')) == 8_320
  assert count(('embedding_projection1',)) + count(('embedding_projection2',)) == 328_704
  assert count(('input_projection',)) == count(('condition_projection',)) == 128
  assert count(('skip_projection',)) == 4_160 and count(('output_projection',)) == 65


def test_dilations_cycle_through_1_to_512(paper_config):
  # Each layer's condition conv answers an impulse at t0 at exactly t0 - d, t0, t0 + d.
  module = model_lib.build_model(paper_config)
  params = model_lib.init_params(module, jax.random.key(0))
  impulse = np.zeros((1, 2048, 64), np.float32)
  impulse[0, 1024, 0] = 1.0
  taps = []
  for layer in module.bind({'params': params}).layers:
    response = np.asarray(layer.condition_features(impulse) - layer.condition_features(0 * impulse))
    taps.append(list(np.flatnonzero(np.abs(response[0]).max(axis=-1) > 0) - 1024))
  assert taps == [[-2**(i % 10), 0, 2**(i % 10)] for i in range(30)]


def test_init_is_kaiming_normal_for_convs_and_torch_uniform_for_linears(paper_config):
  module = model_lib.build_model(paper_config)
  params = model_lib.init_params(module, jax.random.key(1))
  conv_kernel = np.concatenate([np.ravel(params[f'layer_{i}']['dilated_conv']['kernel'])
                                for i in range(30)])
  np.testing.assert_allclose(conv_kernel.std(), np.sqrt(2.0 / (64 * 3)), rtol=0.01)
  assert abs(conv_kernel.mean()) < 0.002
  # Not truncated: tails beyond 2 sigma exist in the normal proportion (4.55 %).
  assert 0.040 < np.mean(np.abs(conv_kernel) > 2 * np.sqrt(2.0 / 192)) < 0.051
  # The output conv is Kaiming-initialised too (DiffWave zero-inits it; NU-Wave does not).
  out = np.asarray(params['output_projection']['kernel'])
  assert np.all(out != 0) and 0.05 < out.std() < 0.35  # sqrt(2 / 64) = 0.177
  linear = np.asarray(params['embedding_projection2']['kernel'])
  bound = 1.0 / np.sqrt(512)
  assert linear.max() <= bound and linear.min() >= -bound and linear.max() > 0.95 * bound
  bias = np.asarray(params['layer_3']['dilated_conv']['bias'])
  assert np.abs(bias).max() <= 1.0 / np.sqrt(192)


def test_cached_condition_path_equals_plain_forward(tiny_config):
  module = model_lib.build_model(tiny_config)
  params = model_lib.init_params(module, jax.random.key(2))
  k1, k2 = jax.random.split(jax.random.key(3))
  noisy = jax.random.normal(k1, (2, 513))
  cond = jax.random.normal(k2, (2, 513))
  level = jnp.array([0.5, 0.999])
  features = module.apply({'params': params}, cond, method=model_lib.NuWave.condition_features)
  assert len(features) == 4 and features[0].shape == (2, 513, 16)
  split = module.apply({'params': params}, noisy, features, level, method=model_lib.NuWave.denoise)
  np.testing.assert_allclose(split, module.apply({'params': params}, noisy, cond, level), rtol=1e-6,
                             atol=1e-6)


@pytest.mark.parametrize('batch,time,dilation,kernel_size',
                         [(1, 4096, 32, 3), (3, 700, 4, 3), (2, 333, 1, 2), (1, 700, 4, 3),
                          (1, 512, 8, 2), (1, 96, 16, 4)])
def test_conv_kernel_gradient_equals_autodiff(batch, time, dilation, kernel_size):
  x = jax.random.normal(jax.random.key(9), (batch, time, 8))
  d_out = jax.random.normal(jax.random.key(10), (batch, time, 6))
  kernel = jnp.zeros((kernel_size, 8, 6))
  expected = jax.vjp(lambda k: model_lib.conv1d_same(x, k, dilation), kernel)[1](d_out)[0]
  got = model_lib.conv1d_same_kernel_grad(x, d_out, dilation, kernel_size)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * float(jnp.abs(expected).max()))


def test_conv_kernel_gradient_of_a_sharded_batch_is_summed_not_gathered():
  # Under data parallelism each device's part of the gradient is summed (all-reduce); gathering the
  # inputs instead would move every layer's activations between devices.
  mesh = jax.sharding.Mesh(np.array(jax.devices()), ('data',))
  sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec('data'))
  batch = jax.device_count()
  x = jax.device_put(jax.random.normal(jax.random.key(11), (batch, 256, 8)), sharding)
  d_out = jax.device_put(jax.random.normal(jax.random.key(12), (batch, 256, 6)), sharding)
  grad = jax.jit(lambda x, d: model_lib.conv1d_same_kernel_grad(x, d, 16, 3))
  hlo = grad.lower(x, d_out).compile().as_text()
  assert 'all-reduce' in hlo and 'all-gather' not in hlo and 'all-to-all' not in hlo
  expected = model_lib.conv1d_same_kernel_grad(np.asarray(x), np.asarray(d_out), 16, 3)
  np.testing.assert_allclose(grad(x, d_out), expected, rtol=1e-5,
                             atol=1e-5 * float(jnp.abs(expected).max()))


def test_two_projections_value_and_gradient_equal_autodiff_of_two_matmuls():
  x = jax.random.normal(jax.random.key(13), (2, 333, 8))
  kernel = jax.random.normal(jax.random.key(14), (8, 12))
  d_first, d_second = jax.random.normal(jax.random.key(15), (2, 2, 333, 6))
  plain = lambda x, k: (x @ k[:, :6], x @ k[:, 6:])
  expected_out, expected_vjp = jax.vjp(plain, x, kernel)
  got_out, got_vjp = jax.vjp(model_lib.two_projections, x, kernel)
  for got, expected in zip(got_out + got_vjp((d_first, d_second)),
                           expected_out + expected_vjp((d_first, d_second))):
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * float(jnp.abs(expected).max()))


def test_training_forward_and_gradient_equal_the_cached_condition_path(tiny_config):
  """__call__ runs each layer's condition conv inside the layer (two_dilated_convs, with its own
  gradient); denoise(condition_features) is differentiated by JAX. Same outputs, same gradients."""
  module = model_lib.build_model(tiny_config)
  params = model_lib.init_params(module, jax.random.key(11))
  noisy, cond, target = jax.random.normal(jax.random.key(12), (3, 2, 777))
  level = jnp.array([0.4, 0.97])

  def loss(p, fused):
    if fused:
      out = module.apply({'params': p}, noisy, cond, level)
    else:
      features = module.apply({'params': p}, cond, method=model_lib.NuWave.condition_features)
      out = module.apply({'params': p}, noisy, features, level, method=model_lib.NuWave.denoise)
    return jnp.mean((out - target) ** 2), out

  (_, out_fused), grads_fused = jax.value_and_grad(loss, has_aux=True)(params, True)
  (_, out_plain), grads_plain = jax.value_and_grad(loss, has_aux=True)(params, False)
  np.testing.assert_array_equal(out_fused, out_plain)
  flat_plain = dict(jax.tree_util.tree_leaves_with_path(grads_plain))
  for path, fused in jax.tree_util.tree_leaves_with_path(grads_fused):
    plain = flat_plain[path]
    scale = float(jnp.abs(plain).max())
    assert scale > 0, path
    np.testing.assert_allclose(fused, plain, rtol=0, atol=1e-5 * scale, err_msg=str(path))


def test_condition_path_ignores_noisy_input_and_level(tiny_config):
  """y_c's features depend on y_c only: the output changes with y_c but features do not see y_t."""
  module = model_lib.build_model(tiny_config)
  params = model_lib.init_params(module, jax.random.key(4))
  cond = jax.random.normal(jax.random.key(5), (1, 256))
  out = lambda c: module.apply({'params': params}, jnp.zeros((1, 256)), c, jnp.array([0.7]))
  assert not np.allclose(out(cond), out(2 * cond))


def test_bfloat16_convolutions_keep_float32_params_and_noise_level(paper_config):
  paper_config.model.dtype = 'bfloat16'
  module = model_lib.build_model(paper_config)
  params = model_lib.init_params(module, jax.random.key(6), time=32)
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(params))
  rng = np.random.default_rng(1)
  noisy, cond = rng.normal(size=(2, 1, 512)).astype(np.float32)
  # The last two sampling levels differ from 1 only in the 6th decimal; in bfloat16 both would be 1.0.
  a = module.apply({'params': params}, noisy, cond, jnp.array([1.0 - 5e-7], jnp.float32))
  b = module.apply({'params': params}, noisy, cond, jnp.array([1.0 - 1.5e-6], jnp.float32))
  assert a.dtype == jnp.float32
  assert not np.array_equal(np.asarray(a), np.asarray(b))
  paper_config.model.dtype = 'float32'
  full = model_lib.build_model(paper_config).apply({'params': params}, noisy, cond,
                                                   jnp.array([1.0 - 5e-7], jnp.float32))
  assert _relative_error(a, np.asarray(full, np.float64)) < 0.05


def test_materialized_returns_its_input_exactly():
  x = jnp.array([-0.0, 1.5, -3e-38, jnp.nan, jnp.inf], jnp.float32)
  for scalar in (0.25, jnp.nan):  # scalar == scalar picks one branch, NaN the other
    out = np.asarray(jax.jit(model_lib.materialized)(x, jnp.float32(scalar)))
    np.testing.assert_array_equal(out, x)
    assert np.signbit(out[0])


@pytest.mark.skipif(jax.default_backend() != 'cpu', reason='the conditional is only staged out on CPU')
def test_residual_chain_stays_materialized_through_the_cpu_compiler(tiny_config):
  # If XLA ever folds the conditionals away, each layer's fusions recompute the residual chain
  # from the first layer on again (benchmarks/README.md, session 7): a denoise call 1.75x slower.
  module = model_lib.build_model(tiny_config)
  params = model_lib.init_params(module, jax.random.key(7))
  noisy, cond = jax.random.normal(jax.random.key(8), (2, 2, 300))
  compiled = jax.jit(module.apply).lower({'params': params}, noisy, cond, jnp.array([0.3, 0.99])).compile()
  # One per layer but the last, whose residual output is unused.
  assert compiled.as_text().count(' conditional(') == tiny_config.model.residual_layers - 1


def test_log_snr_input_tells_the_last_sampling_steps_apart(tiny_config):
  schedule = diffusion.make_schedule(default.PAPER_SAMPLING_BETAS)
  levels, stds = schedule.levels[1:], schedule.noise_stds[1:]
  alpha_bars = np.cumprod(1 - np.array(default.PAPER_SAMPLING_BETAS))
  np.testing.assert_allclose(model_lib.log_snr(levels, stds), np.log(alpha_bars / (1 - alpha_bars)),
                             rtol=1e-5)
  # Steps 1 and 2 (std 1e-3 and 1.7e-3): the level's features barely move, the log-SNR's do.
  features = lambda x, scale: np.asarray(model_lib.noise_level_features(x[:2], 128, scale))
  moved_level = np.abs(np.diff(features(levels, 50000.0), axis=0)).max()
  moved_log_snr = np.abs(np.diff(features(model_lib.log_snr(levels, stds), 1.0), axis=0)).max()
  assert moved_level < 0.06 and moved_log_snr > 0.5

  tiny_config.model.noise_input = 'log_snr'
  tiny_config.model.embedding_scale = 1.0
  module = model_lib.build_model(tiny_config)
  params = model_lib.init_params(module, jax.random.key(9))
  noisy, cond = jax.random.normal(jax.random.key(10), (2, 2, 300))
  out = lambda t: module.apply({'params': params}, noisy, cond, levels[t - 1:t].repeat(2),
                               stds[t - 1:t].repeat(2))
  assert not np.allclose(out(1), out(2), rtol=1e-3, atol=1e-4)
  with pytest.raises(ValueError, match='needs the noise std'):
    module.apply({'params': params}, noisy, cond, levels[:2])
  tiny_config.model.noise_input = 'sigma'
  with pytest.raises(ValueError, match="noise_input must be one of .* got 'sigma'"):
    model_lib.init_params(model_lib.build_model(tiny_config), jax.random.key(0))
