"""Loading configs from files, storing them beside checkpoints, and checking two configs agree.

A config is what a `configs/*.py` file's `get_config()` returns (an ml_collections ConfigDict grouped
as model / diffusion / data / train / sample). A checkpoint directory holds the config it was made with
as `config.json`, so a checkpoint can be used without its config file and checked against another.
"""

import importlib.util
import json
import os
import pathlib
import sys

import ml_collections

CONFIG_FILENAME = 'config.json'
# The groups that decide what the parameters mean: a checkpoint is only usable under the same ones.
ARCHITECTURE_KEYS = ('model',)
# Model fields that change how the network computes, not what its parameters mean ('residual_as_dot':
# a CPU speed-up option until session 7, still in older checkpoints' configs).
COMPUTE_ONLY_KEYS = ('dtype', 'residual_as_dot')
# Fields added after the first checkpoints, by group: what a saved config without them meant.
ADDED_KEYS = {'model': {'noise_input': 'level', 'prediction': 'eps', 'network_input': 'noisy'},
              'sample': {'noise_scale': 1.0}}


def load_config_file(path: str | pathlib.Path) -> ml_collections.ConfigDict:
  """Runs `get_config()` of a config file such as configs/nuwave_x2.py."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f'config file {path} does not exist')
  # Config files import `configs.default`: make the folder holding `configs/` importable.
  root = str(path.resolve().parent.parent)
  if root not in sys.path:
    sys.path.insert(0, root)
  spec = importlib.util.spec_from_file_location(f'_nuwave_config_{path.stem}', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  if not hasattr(module, 'get_config'):
    raise ValueError(f'config file {path} has no get_config()')
  return module.get_config()


def save_config(directory: str | pathlib.Path, config: ml_collections.ConfigDict) -> None:
  """Writes DIR/config.json whole or not at all (a temporary file renamed over it)."""
  path = pathlib.Path(directory) / CONFIG_FILENAME
  path.parent.mkdir(parents=True, exist_ok=True)
  temporary = path.with_name(f'.{CONFIG_FILENAME}.tmp')
  temporary.write_text(config.to_json_best_effort(indent=2) + '\n')
  os.replace(temporary, path)


def load_saved_config(directory: str | pathlib.Path) -> ml_collections.ConfigDict:
  """The config stored in a checkpoint directory."""
  path = pathlib.Path(directory) / CONFIG_FILENAME
  if not path.is_file():
    raise FileNotFoundError(f'{directory} is not a nuwave-jax checkpoint directory: {path} is missing')
  try:
    config = ml_collections.ConfigDict(json.loads(path.read_text()))
  except (json.JSONDecodeError, UnicodeDecodeError, TypeError) as error:
    raise ValueError(f'{path}: not a saved config ({error})') from None
  missing = [group for group in ('model', 'diffusion', 'data', 'train', 'sample') if group not in config]
  if missing:
    raise ValueError(f'{path}: not a saved config (no {", ".join(missing)} group)')
  for group, keys in ADDED_KEYS.items():
    for key, value in keys.items():
      if key not in config[group]:
        config[group][key] = value
  return config


def architecture_differences(saved: ml_collections.ConfigDict,
                             config: ml_collections.ConfigDict) -> list[str]:
  """'model.x: saved -> new' for every architecture field that differs."""
  differences = []
  for group in ARCHITECTURE_KEYS:
    old, new = saved[group].to_dict(), config[group].to_dict()
    for key in sorted(set(old) | set(new)):
      if old.get(key) != new.get(key) and key not in COMPUTE_ONLY_KEYS:
        differences.append(f'{group}.{key}: {old.get(key)!r} -> {new.get(key)!r}')
  return differences


def check_same_architecture(saved: ml_collections.ConfigDict, config: ml_collections.ConfigDict,
                            where: str) -> None:
  differences = architecture_differences(saved, config)
  if differences:
    raise ValueError(f'the checkpoint in {where} was made with another model config: '
                     + '; '.join(differences))
