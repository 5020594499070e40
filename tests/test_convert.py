"""The converter from the original's PyTorch checkpoints, and the checkpoint directory it writes."""

import argparse

import jax.numpy as jnp
import numpy as np
import pytest

from nuwave_jax import checkpoints
from nuwave_jax import configuration
from nuwave_jax import convert
from nuwave_jax.nuwave import model as model_lib
from tests import reference_numpy


def _state_dict(config, seed=0):
  m = config.model
  return reference_numpy.random_state_dict(np.random.default_rng(seed), m.residual_channels,
                                           m.residual_layers, m.embedding_channels, m.embedding_dim)


def test_missing_unexpected_and_misshaped_keys_are_named(tiny_config):
  sd = _state_dict(tiny_config)
  missing = dict(sd)
  del missing['model.residual_layers.2.low_projection.bias']
  with pytest.raises(ValueError, match=r'missing \[.residual_layers.2.low_projection.bias'):
    convert.params_from_torch(missing, tiny_config)
  extra = dict(sd, **{'model.residual_layers.9.dilated_conv.weight': np.zeros((16, 8, 3))})
  with pytest.raises(ValueError, match=r'unexpected \[.residual_layers.9.dilated_conv.weight'):
    convert.params_from_torch(extra, tiny_config)
  wrong = dict(sd, **{'model.residual_layers.1.dilated_conv.weight': np.zeros((16, 8, 5), np.float32)})
  with pytest.raises(ValueError, match=r'residual_layers.1.dilated_conv.weight has shape \(16, 8, 5\), '
                     r'expected \(16, 8, 3\)'):
    convert.params_from_torch(wrong, tiny_config)
  swapped = dict(sd, **{'model.diffusion_embedding.projection2.weight': np.zeros((32, 16), np.float32)})
  with pytest.raises(ValueError, match=r'projection2.weight has shape \(32, 16\), expected \(32, 32\)'):
    convert.params_from_torch(swapped, tiny_config)


def test_a_paper_checkpoint_does_not_fit_the_tiny_config(tiny_config, paper_config):
  with pytest.raises(ValueError, match='unexpected'):
    convert.params_from_torch(_state_dict(paper_config), tiny_config)


@pytest.mark.parametrize('layout', ['lightning', 'ema'])
def test_cli_converts_a_torch_file_into_a_checkpoint_that_restores(tmp_path, tiny_config, layout):
  torch = pytest.importorskip('torch', reason='torch (the optional convert extra) is not installed')
  sd = _state_dict(tiny_config, seed=1)
  tensors = {k: torch.from_numpy(v) for k, v in sd.items()}
  payload = {'state_dict': tensors, 'epoch': 3, 'global_step': 1200} if layout == 'lightning' else tensors
  path = tmp_path / 'nuwave.ckpt'
  torch.save(payload, path)
  out = tmp_path / 'converted'
  assert convert.main([str(path), '--config', 'configs/tiny.py', '--out', str(out)]) == 0
  params, saved_config, step = checkpoints.restore_params(out, tiny_config)
  assert step == 0 and saved_config.model.to_dict() == tiny_config.model.to_dict()
  rng = np.random.default_rng(2)
  noisy, cond = rng.normal(size=(2, 1, 400)).astype(np.float32)
  level = np.array([0.8], np.float32)
  got = model_lib.build_model(tiny_config).apply({'params': params}, noisy, cond, jnp.asarray(level))
  expected = reference_numpy.forward(sd, noisy, cond, level, 4, 2)
  np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
  # Converting twice into the same directory is refused rather than mixing checkpoints.
  assert convert.main([str(path), '--config', 'configs/tiny.py', '--out', str(out)]) == 1


def test_cli_explains_pickled_hyperparameters(tmp_path, tiny_config, capsys):
  torch = pytest.importorskip('torch', reason='torch (the optional convert extra) is not installed')
  tensors = {k: torch.from_numpy(v) for k, v in _state_dict(tiny_config).items()}
  path = tmp_path / 'lightning.ckpt'
  torch.save({'state_dict': tensors, 'hyper_parameters': argparse.Namespace(lr=3e-5)}, path)
  assert convert.main([str(path), '--config', 'configs/tiny.py', '--out', str(tmp_path / 'a')]) == 1
  assert '--trust-pickle' in capsys.readouterr().err
  assert convert.main([str(path), '--config', 'configs/tiny.py', '--out', str(tmp_path / 'b'),
                       '--trust-pickle']) == 0


def test_cli_names_what_is_wrong_with_a_file(tmp_path, tiny_config, capsys):
  torch = pytest.importorskip('torch', reason='torch (the optional convert extra) is not installed')
  sd = _state_dict(tiny_config)
  tensors = {k: torch.from_numpy(v) for k, v in sd.items()}

  def run(name, payload):
    path = tmp_path / name
    if payload is not None:
      torch.save(payload, path)
    code = convert.main([str(path), '--config', 'configs/tiny.py', '--out', str(tmp_path / f'out_{name}')])
    return code, capsys.readouterr().err

  nan = dict(tensors, **{'model.skip_projection.bias': torch.full((8,), float('nan'))})
  assert run('nan.pt', nan) == (1, "error: state dict has NaN or infinite values in "
                                   "['skip_projection.bias']\n")
  code, err = run('other.ckpt', {'epoch': 3, 'model': tensors})
  assert code == 1 and "'epoch' (int)" in err and "'model' (dict) are not tensors" in err
  code, err = run('missing.pt', None)
  assert code == 1 and 'missing.pt does not exist' in err and 'trust-pickle' not in err
  (tmp_path / 'text.pt').write_text('not a checkpoint')
  code = convert.main([str(tmp_path / 'text.pt'), '--config', 'configs/tiny.py', '--out', str(tmp_path / 'o')])
  err = capsys.readouterr().err
  assert code == 1 and 'cannot read' in err and 'Error' in err and 'trust-pickle' not in err
  hparams = {'audio': {'ratio': 3}, 'arch': {'dilation_cycle_length': 2}}
  code, err = run('x3.ckpt', {'state_dict': tensors, 'hyper_parameters': hparams})
  assert code == 1 and 'trained with audio.ratio = 3, but the config has data.ratio = 2' in err
  assert not (tmp_path / 'out_x3.ckpt').exists()
  # The same weights saved in half precision convert (to float32, within half's rounding).
  half = {k: v.half() for k, v in tensors.items()}
  code, err = run('half.pt', {'state_dict': half, 'hyper_parameters': {'audio': {'ratio': 2}}})
  assert code == 0, err
  params, _, _ = checkpoints.restore_params(tmp_path / 'out_half.pt', tiny_config)
  np.testing.assert_allclose(params['layer_0']['dilated_conv']['kernel'],
                             sd['model.residual_layers.0.dilated_conv.weight'].transpose(2, 1, 0),
                             rtol=1e-3, atol=1e-3)


def test_restore_refuses_another_config_and_missing_directories(tmp_path, tiny_config, paper_config):
  with pytest.raises(FileNotFoundError, match='does not exist'):
    checkpoints.restore_params(tmp_path / 'nowhere')
  with pytest.raises(FileNotFoundError, match='config.json is missing'):
    checkpoints.restore_params(tmp_path)
  params = convert.params_from_torch(_state_dict(tiny_config), tiny_config)
  checkpoints.save_params(tmp_path / 'ck', tiny_config, {'params': params})
  with pytest.raises(ValueError, match='another model config: .*model.embedding_channels: 16 -> 128'):
    checkpoints.restore_params(tmp_path / 'ck', paper_config)


def test_the_original_has_no_log_snr_embedding_nor_v_prediction_nor_residual_input(tiny_config):
  tiny_config.model.noise_input = 'log_snr'
  with pytest.raises(ValueError, match="model.noise_input must be 'level'"):
    convert.params_from_torch(_state_dict(tiny_config), tiny_config)
  tiny_config.model.noise_input = 'level'
  tiny_config.model.prediction = 'v'
  with pytest.raises(ValueError, match="model.prediction must be 'eps'"):
    convert.params_from_torch(_state_dict(tiny_config), tiny_config)
  tiny_config.model.prediction = 'eps'
  tiny_config.model.network_input = 'residual'
  with pytest.raises(ValueError, match="model.network_input must be 'noisy'"):
    convert.params_from_torch(_state_dict(tiny_config), tiny_config)


def test_a_config_saved_before_the_added_model_keys_existed_means_the_paper(tmp_path, tiny_config):
  old = tiny_config.copy_and_resolve_references()
  for key in ('noise_input', 'prediction', 'network_input', 'kernels'):
    del old.model[key]
  del old.sample['noise_scale']
  configuration.save_config(tmp_path, old)
  saved = configuration.load_saved_config(tmp_path)
  assert (saved.model.noise_input, saved.model.prediction, saved.model.network_input) == (
      'level', 'eps', 'noisy')
  assert saved.sample.noise_scale == 1.0 and saved.model.kernels == 'auto'
  assert configuration.architecture_differences(saved, tiny_config) == []
  tiny_config.model.kernels = 'plain'  # how the network is computed, not what its parameters mean
  assert configuration.architecture_differences(saved, tiny_config) == []
  tiny_config.model.noise_input = 'log_snr'
  assert configuration.architecture_differences(saved, tiny_config) == [
      "model.noise_input: 'level' -> 'log_snr'"]
