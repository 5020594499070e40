"""The Flax network against an independent numpy forward pass and the paper's parameter counts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import default
from nuwave_jax import checkpoints
from nuwave_jax import convert
from nuwave_jax.nuwave import diffusion
from nuwave_jax.nuwave import model as model_lib
from tests import reference_numpy


def _relative_error(a, b):
  return float(np.linalg.norm(np.asarray(a, np.float64) - b) / np.linalg.norm(b))


@pytest.mark.parametrize('kernels', ['plain', 'cpu'])
@pytest.mark.parametrize('config_name', ['tiny_config', 'paper_config'])
def test_flax_forward_matches_numpy_reference_through_converter(config_name, kernels, request):
  config = request.getfixturevalue(config_name)
  config.model.kernels = kernels
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
  # docs/reference.md §1's breakdown.
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
  features = module.apply({'params': params}, cond, method='condition_features')
  assert len(features) == 4 and features[0].shape == (2, 513, 16)
  split = module.apply({'params': params}, noisy, features, level, method='denoise')
  np.testing.assert_allclose(split, module.apply({'params': params}, noisy, cond, level), rtol=1e-6,
                             atol=1e-6)


def test_condition_path_ignores_noisy_input_and_level(tiny_config):
  """What each layer's condition conv computes inside the forward pass depends on y_c only: the
  same for any y_t and level, equal to condition_features(y_c), and another for another y_c."""
  tiny_config.model.kernels = 'plain'
  module = model_lib.build_model(tiny_config)
  params = model_lib.init_params(module, jax.random.key(4))
  noisy_a, noisy_b, cond = jax.random.normal(jax.random.key(5), (3, 2, 256))

  def captured(noisy, cond, level):
    _, state = module.apply({'params': params}, noisy, cond, jnp.array([level, level]),
                            capture_intermediates=lambda m, _: m.name == 'condition_conv')
    layers = state['intermediates']
    return [layers[f'layer_{i}']['condition_conv']['__call__'][0] for i in range(len(layers))]

  a, b, other = captured(noisy_a, cond, 0.3), captured(noisy_b, cond, 0.99), captured(noisy_a, 2 * cond, 0.3)
  features = module.apply({'params': params}, cond, method='condition_features')
  assert len(a) == tiny_config.model.residual_layers
  for i in range(len(a)):
    np.testing.assert_array_equal(a[i], b[i])
    np.testing.assert_array_equal(a[i], features[i])
    assert not np.allclose(a[i], other[i])


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


def test_log_snr_input_tells_the_last_sampling_steps_apart(tiny_config):
  schedule = diffusion.make_schedule(default.PAPER_SAMPLING_BETAS)
  levels, stds = schedule.levels[1:], schedule.noise_stds[1:]
  alpha_bars = np.cumprod(1 - np.array(default.PAPER_SAMPLING_BETAS))
  np.testing.assert_allclose(model_lib.level_log_snr(levels, stds), np.log(alpha_bars / (1 - alpha_bars)),
                             rtol=1e-5)
  # Steps 1 and 2 (std 1e-3 and 1.7e-3): the level's features barely move, the log-SNR's do.
  features = lambda x, scale: np.asarray(model_lib.noise_level_features(x[:2], 128, scale))
  moved_level = np.abs(np.diff(features(levels, 50000.0), axis=0)).max()
  moved_log_snr = np.abs(np.diff(features(model_lib.level_log_snr(levels, stds), 1.0), axis=0)).max()
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
  with pytest.raises(ValueError, match="unknown model.noise_input 'sigma'"):
    model_lib.init_params(model_lib.build_model(tiny_config), jax.random.key(0))
