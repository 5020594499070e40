"""Converting the original PyTorch NU-Wave checkpoints to nuwave-jax parameters.

  python -m nuwave_jax.convert CKPT --config configs/nuwave_x2.py --out DIR

CKPT is a Lightning checkpoint (a dict with "state_dict") or the original's "_EMA" file (the plain
state dict). Keys carry the prefix "model." (docs/reference.md §1). DIR becomes a checkpoint directory
that `sample.py` and `evaluate.py` read (see `nuwave_jax.checkpoints`). torch is needed only here, to
read the file: `pip install -e .[convert]`.
"""

import argparse
import pathlib
import sys

import jax
import ml_collections
import numpy as np

from nuwave_jax import checkpoints
from nuwave_jax import configuration

PREFIX = 'model.'
EXPONENTS_KEY = 'diffusion_embedding.exponents'


def _name_map(config: ml_collections.ConfigDict) -> dict[str, tuple[tuple[str, ...], str]]:
  """Original module name -> (our param path, 'conv' | 'linear')."""
  names = {
      'input_projection': (('input_projection',), 'conv'),
      'low_projection': (('condition_projection',), 'conv'),
      'diffusion_embedding.projection1': (('embedding_projection1',), 'linear'),
      'diffusion_embedding.projection2': (('embedding_projection2',), 'linear'),
      'skip_projection': (('skip_projection',), 'conv'),
      'output_projection': (('output_projection',), 'conv'),
  }
  for i in range(config.model.residual_layers):
    layer = f'layer_{i}'
    names[f'residual_layers.{i}.diffusion_projection'] = ((layer, 'diffusion_projection'), 'linear')
    names[f'residual_layers.{i}.dilated_conv'] = ((layer, 'dilated_conv'), 'conv')
    names[f'residual_layers.{i}.low_projection'] = ((layer, 'condition_conv'), 'conv')
    names[f'residual_layers.{i}.output_projection'] = ((layer, 'output_projection'), 'conv')
  return names


def params_from_torch(state_dict: dict[str, np.ndarray], config: ml_collections.ConfigDict) -> dict:
  """Maps the original's {name: array} state dict to our params for the network of `config`.

  Conv1d weight (out, in, kernel) -> kernel (kernel, in, out); Linear weight (out, in) -> (in, out).
  Any missing, unexpected or mis-shaped key raises ValueError naming it.
  """
  if config.model.noise_input != 'level':
    raise ValueError(f"the original network embeds the noise level: model.noise_input must be "
                     f"'level', not {config.model.noise_input!r}")
  if config.model.prediction != 'eps':
    raise ValueError(f"the original network predicts the noise: model.prediction must be 'eps', "
                     f"not {config.model.prediction!r}")
  if config.model.network_input != 'noisy':
    raise ValueError(f"the original network sees y_t itself: model.network_input must be 'noisy', "
                     f"not {config.model.network_input!r}")
  state = {k[len(PREFIX):] if k.startswith(PREFIX) else k: np.asarray(v, np.float32)
           for k, v in state_dict.items()}
  if len(state) < len(state_dict):
    raise ValueError('state dict holds some names both with and without the prefix '
                     f'{PREFIX!r}: {sorted(set(k for k in state_dict if not k.startswith(PREFIX)))[:5]}')
  not_finite = sorted(k for k, v in state.items() if not np.all(np.isfinite(v)))
  if not_finite:
    raise ValueError(f'state dict has NaN or infinite values in {not_finite[:8]}')
  names = _name_map(config)
  expected = {f'{n}.{p}' for n in names for p in ('weight', 'bias')} | {EXPONENTS_KEY}
  missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
  if missing or unexpected:
    raise ValueError(f'state dict does not fit the config: missing {missing[:8]}'
                     f'{" ..." if len(missing) > 8 else ""}, unexpected {unexpected[:8]}'
                     f'{" ..." if len(unexpected) > 8 else ""}')
  half = config.model.embedding_channels // 2
  exponents = 1e-4 ** (np.arange(half) / half)
  # rtol 1e-3: a checkpoint saved in float16 rounds them by up to 4.9e-4.
  if state[EXPONENTS_KEY].shape != exponents.shape or not np.allclose(state[EXPONENTS_KEY], exponents,
                                                                      rtol=1e-3):
    raise ValueError(f'{EXPONENTS_KEY} (shape {state[EXPONENTS_KEY].shape}) does not hold the '
                     f'{half} noise-level frequencies this config computes')

  shapes = checkpoints.param_shapes(config)
  params = {}
  for name, (path, kind) in names.items():
    weight, bias = state[f'{name}.weight'], state[f'{name}.bias']
    if kind == 'conv' and weight.ndim == 3:
      kernel = weight.transpose(2, 1, 0)  # (out, in, kernel) -> (kernel, in, out)
    elif kind == 'linear' and weight.ndim == 2:
      kernel = weight.T  # (out, in) -> (in, out)
    else:
      kernel = None
    for key, value, ours in ((f'{name}.weight', kernel, 'kernel'), (f'{name}.bias', bias, 'bias')):
      expected = shapes[path + (ours,)]
      if value is None or value.shape != expected:
        # Our layouts are the original's reversed: (kernel, in, out) and (in, out).
        raise ValueError(f'{key} has shape {state[key].shape}, expected {tuple(expected[::-1])}')
    node = params
    for part in path[:-1]:
      node = node.setdefault(part, {})
    node[path[-1]] = {'kernel': kernel, 'bias': bias}
  return params


def load_torch_checkpoint(path: str | pathlib.Path, trust_pickle: bool = False):
  """({name: numpy array}, the Lightning hyper_parameters or None) from a Lightning .ckpt or a plain
  state dict file."""
  try:
    import torch
  except ImportError:
    raise ImportError('reading a PyTorch checkpoint needs torch: pip install -e ".[convert]"') from None
  if not pathlib.Path(path).is_file():
    raise FileNotFoundError(f'{path} does not exist')
  try:
    checkpoint = torch.load(path, map_location='cpu', weights_only=not trust_pickle)
  except Exception as error:  # torch raises several types for a file it cannot unpickle
    message = str(error)
    if 'WeightsUnpickler error:' in message:  # the reason, without torch's paragraph around it
      message = message.split('WeightsUnpickler error:')[1].split('Check the documentation')[0]
    detail = ' '.join(message.split()) or 'no detail'
    pickled = not trust_pickle and 'global' in detail.lower()  # an object, not just tensors
    hint = (' (a Lightning checkpoint that stores hyperparameter objects needs --trust-pickle; use it '
            'only for files you trust)') if pickled else ''
    raise ValueError(f'cannot read {path} as a PyTorch checkpoint ({type(error).__name__}: '
                     f'{detail[:300]}){hint}') from None
  hyper_parameters = None
  if isinstance(checkpoint, dict) and 'state_dict' in checkpoint:
    hyper_parameters = checkpoint.get('hyper_parameters')
    checkpoint = checkpoint['state_dict']
  if not isinstance(checkpoint, dict):
    raise ValueError(f'{path} holds a {type(checkpoint).__name__}, not a state dict')
  not_tensors = [f'{k!r} ({type(v).__name__})' for k, v in checkpoint.items() if not hasattr(v, 'detach')]
  if not_tensors:
    raise ValueError(f'{path} is not a NU-Wave state dict: {", ".join(not_tensors[:5])} are not tensors '
                     '(expected a Lightning .ckpt with "state_dict", or the _EMA file)')
  return {k: v.detach().cpu().float().numpy() for k, v in checkpoint.items()}, hyper_parameters


def _lookup(tree, *keys):
  """tree[k1][k2]... through dicts, OmegaConf configs or namespaces; None where a key is absent."""
  for key in keys:
    try:
      tree = tree.get(key) if hasattr(tree, 'get') else getattr(tree, key, None)
    except Exception:  # e.g. a config object that raises for a key it lacks
      return None
    if tree is None:
      return None
  return tree


def check_hyper_parameters(hyper_parameters, config: ml_collections.ConfigDict, path) -> None:
  """Refuses a config whose ratio or dilation cycle differs from the original's hparameter.yaml
  stored in a Lightning checkpoint (neither can be read from the weights)."""
  if hyper_parameters is None:
    return
  hparams = _lookup(hyper_parameters, 'hparams') or hyper_parameters
  for keys, field, ours in ((('audio', 'ratio'), 'data.ratio', config.data.ratio),
                            (('arch', 'dilation_cycle_length'), 'model.dilation_cycle',
                             config.model.dilation_cycle)):
    theirs = _lookup(hparams, *keys)
    if theirs is not None and int(theirs) != ours:
      advice = f'configs/nuwave_x{theirs}.py' if field == 'data.ratio' else f'a config with {field} = {theirs}'
      raise ValueError(f'{path} was trained with {".".join(keys)} = {theirs}, but the config has '
                       f'{field} = {ours}: use {advice}')


def convert(checkpoint_path, config: ml_collections.ConfigDict, out_dir, trust_pickle=False) -> None:
  """Writes the checkpoint directory `out_dir` (config.json and an orbax step 0)."""
  state_dict, hyper_parameters = load_torch_checkpoint(checkpoint_path, trust_pickle)
  check_hyper_parameters(hyper_parameters, config, checkpoint_path)
  params = params_from_torch(state_dict, config)
  out_dir = pathlib.Path(out_dir)
  if (out_dir / checkpoints.CHECKPOINT_SUBDIR).exists():
    raise FileExistsError(f'{out_dir} already holds checkpoints: choose a new --out')
  configuration.save_config(out_dir, config)
  manager = checkpoints.make_manager(out_dir)
  checkpoints.save(manager, 0, {'params': jax.tree.map(np.asarray, params)})
  manager.wait_until_finished()
  manager.close()


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog='nuwave-jax convert', description=__doc__.split('\n\n')[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('checkpoint', help='original .ckpt (Lightning) or _EMA state dict file')
  parser.add_argument('--config', required=True, help='config file, e.g. configs/nuwave_x2.py')
  parser.add_argument('--out', required=True, help='checkpoint directory to write')
  parser.add_argument('--trust-pickle', action='store_true',
                      help='allow arbitrary pickled objects in the file (Lightning hyperparameters)')
  args = parser.parse_args(argv)
  try:
    config = configuration.load_config_file(args.config)
    configuration.check_config(config)
    convert(args.checkpoint, config, args.out, args.trust_pickle)
  except (ValueError, FileNotFoundError, FileExistsError, ImportError) as error:
    print(f'error: {error}', file=sys.stderr)
    return 1
  print(f'wrote {args.out} from {args.checkpoint}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
