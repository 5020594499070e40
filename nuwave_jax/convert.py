"""Converting the original PyTorch NU-Wave and NU-Wave 2 checkpoints to nuwave-jax parameters.

  nuwave-jax convert CKPT --config configs/nuwave_x2.py --out DIR      (or configs/nuwave2.py)

CKPT is a Lightning checkpoint (a dict with "state_dict") or the original's "_EMA" file (the plain
state dict), or a bare state dict. The config's family maps the original's names to ours
(`nuwave/torch_keys.py`, `nuwave2/torch_keys.py`). DIR becomes a checkpoint directory
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
from nuwave_jax import families
from nuwave_jax.families import CONV
from nuwave_jax.families import CONV2D_1X1_NO_BIAS
from nuwave_jax.families import CONV_NO_BIAS
from nuwave_jax.families import LINEAR


def _strip_prefix(state_dict: dict, prefixes: tuple[str, ...]) -> dict[str, np.ndarray]:
  """Names without the first of `prefixes` that every name starting with one carries (the Lightning
  module's attribute path), float32; a state dict that mixes forms is refused."""
  for prefix in prefixes:
    if any(k.startswith(prefix) for k in state_dict):
      if not all(k.startswith(prefix) for k in state_dict):
        raise ValueError(f'state dict holds some names with and some without the prefix {prefix!r}: '
                         f'{sorted(k for k in state_dict if not k.startswith(prefix))[:5]}')
      return {k[len(prefix):]: np.asarray(v, np.float32) for k, v in state_dict.items()}
  return {k: np.asarray(v, np.float32) for k, v in state_dict.items()}


def params_from_torch(state_dict: dict[str, np.ndarray], config: ml_collections.ConfigDict) -> dict:
  """Maps an original {name: array} state dict to our params for the network of `config`, by its
  family's key map (`families.TorchKeys`). Any missing, unexpected or mis-shaped key, and a buffer
  that does not hold what this config computes, raises a ValueError naming it."""
  keys = families.of(config).torch_keys
  keys.check_config(config)
  state = _strip_prefix(state_dict, keys.prefixes)
  names, buffers = keys.names(config), keys.buffers(config)
  not_finite = sorted(k for k, v in state.items() if not np.all(np.isfinite(v)))
  if not_finite:
    raise ValueError(f'state dict has NaN or infinite values in {not_finite[:8]}')
  expected = {f'{n}.{p}' for n, (_, kind) in names.items()
              for p in (('weight', 'bias') if kind in (CONV, LINEAR) else ('weight',))} | buffers
  missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
  if missing or unexpected:
    raise ValueError(f'state dict does not fit the config: missing {missing[:8]}'
                     f'{" ..." if len(missing) > 8 else ""}, unexpected {unexpected[:8]}'
                     f'{" ..." if len(unexpected) > 8 else ""}')
  keys.check_buffers(state, config)
  return _assemble(state, names, checkpoints.param_shapes(config))


def _assemble(state: dict[str, np.ndarray], names: dict, shapes: dict) -> dict:
  """Our nested params from the original's tensors, each checked against the config's shape."""
  params = {}
  for name, (path, kind) in names.items():
    weight = state[f'{name}.weight']
    layouts = {CONV: (3, lambda w: w.transpose(2, 1, 0)), CONV_NO_BIAS: (3, lambda w: w.transpose(2, 1, 0)),
               LINEAR: (2, lambda w: w.T), CONV2D_1X1_NO_BIAS: (4, lambda w: w[:, :, 0, 0].T)}
    ndim, layout = layouts[kind]
    leaves = {'kernel': (f'{name}.weight', layout(weight) if weight.ndim == ndim else None)}
    if kind in (CONV, LINEAR):
      leaves['bias'] = (f'{name}.bias', state[f'{name}.bias'])
    for ours, (key, value) in leaves.items():
      expected = shapes[path + (ours,)]
      if value is None or value.shape != expected:
        want = expected[::-1] if kind != CONV2D_1X1_NO_BIAS else expected[::-1] + (1, 1)
        raise ValueError(f'{key} has shape {state[key].shape}, expected {tuple(want)}')
    node = params
    for part in path[:-1]:
      node = node.setdefault(part, {})
    node[path[-1]] = {ours: value for ours, (_, value) in leaves.items()}
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
  """Refuses a config that differs from the original's hparameter.yaml stored in a Lightning
  checkpoint where the weights cannot tell (the family's `TorchKeys.hyper_parameters`: NU-Wave's
  ratio and dilation cycle; NU-Wave 2's output rate, STFT, log-SNR range and embedding)."""
  if hyper_parameters is None:
    return
  hparams = _lookup(hyper_parameters, 'hparams') or hyper_parameters
  for keys, field, ours, advice in families.of(config).torch_keys.hyper_parameters(config):
    theirs = _lookup(hparams, *keys)
    if theirs is not None and float(theirs) != float(ours):
      advice = advice(theirs) if advice else f'use a config with {field} = {theirs}'
      raise ValueError(f'{path} was trained with {".".join(keys)} = {theirs}, but the config has '
                       f'{field} = {ours}: {advice}')


def convert(checkpoint_path, config: ml_collections.ConfigDict, out_dir, trust_pickle=False) -> None:
  """Writes the checkpoint directory `out_dir` (config.json and an orbax step 0)."""
  state_dict, hyper_parameters = load_torch_checkpoint(checkpoint_path, trust_pickle)
  check_hyper_parameters(hyper_parameters, config, checkpoint_path)
  params = params_from_torch(state_dict, config)
  out_dir = pathlib.Path(out_dir)
  if (out_dir / checkpoints.CHECKPOINT_SUBDIR).exists():
    raise FileExistsError(f'{out_dir} already holds checkpoints: choose a new --out')
  checkpoints.save_params(out_dir, config, {'params': jax.tree.map(np.asarray, params)})


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog='nuwave-jax convert', description=__doc__.split('\n\n')[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('checkpoint', help='original .ckpt (Lightning) or _EMA state dict file')
  parser.add_argument('--config', required=True, help='config file: configs/nuwave_x2.py, nuwave_x3.py, nuwave2.py')
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
