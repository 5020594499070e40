"""Configs: loading them from files, checking them, storing them beside checkpoints, comparing two.

A config is what a `configs/*.py` file's `get_config()` returns (an ml_collections ConfigDict grouped
as model / diffusion / data / train / sample; configs/default.py and configs/nuwave2.py say what each
field means; config.model.name names its family, `families`). Every
entry point (train.py, sample.py, evaluate.py, nuwave_jax.convert) calls `check_config` before any
work starts, so a misspelt choice or a value no run can mean is one error naming the field. A
checkpoint directory holds the config it was made with as `config.json`, so a checkpoint can be used
without its config file and checked against another.
"""

import ast
import difflib
import importlib.util
import json
import os
import pathlib
import sys

import ml_collections

from nuwave_jax import families

CONFIG_FILENAME = 'config.json'
GROUPS = ('model', 'diffusion', 'data', 'train', 'sample')
SAMPLE_RATE_HZ = 48000  # every dataset is prepared, and every output written, at this rate
# The fields every family has that take one of a few strings, and those strings (what each means:
# configs/default.py); a family's own are its `choices`.
CHOICES = {
    'model.name': tuple(families.PACKAGES),
    'model.dtype': ('float32', 'bfloat16'),
    'data.source': ('vctk', 'folder', 'tfds'),
    'data.vctk_variant': ('multi', 'single'),
    'data.on_bad_file': ('fail', 'skip'),
    'train.lr_decay': ('constant', 'cosine', 'linear'),
    'train.ema_style': ('standard', 'original'),
}
# The groups that decide what the parameters mean: a checkpoint is only usable under the same ones.
ARCHITECTURE_KEYS = ('model',)
# Model fields that change how the network computes, not what its parameters mean.
COMPUTE_ONLY_KEYS = ('dtype', 'kernels')


def check_choice(field: str, value) -> None:
  """Raises a ValueError naming `field` ('group.key') unless `value` is one of CHOICES[field]."""
  if value not in CHOICES[field]:
    raise ValueError(f'{field} must be one of {CHOICES[field]}, got {value!r}')


def check_config(config: ml_collections.ConfigDict) -> None:
  """Refuses, naming every field at fault in one ValueError, a config no run can mean: a choice that
  is not one of CHOICES (or its family's), or a value that would train on garbage (a ratio below 2),
  climb the loss (a negative learning rate), delete every checkpoint (keep_checkpoints 0) or fail deep
  inside a step."""
  missing = [group for group in GROUPS if group not in config]
  if missing:
    raise ValueError(f'the config has no {", ".join(missing)} group')
  name = config.model.get('name')
  if name not in families.PACKAGES:
    raise ValueError(f'model.name must be one of {tuple(families.PACKAGES)}, got {name!r}')
  family = families.get(name)
  choices = {**CHOICES, **family.choices}
  problems = [f'{field} must be one of {options}, got {_get(config, field)!r}'
              for field, options in choices.items() if _get(config, field) not in options]
  checks = _shared_checks(config) + family.config_checks(config)
  problems += [f'{field} must be {rule}, got {_get(config, field)!r}'
               for holds, field, rule in checks if not _holds(holds)]
  if problems:
    raise ValueError('; '.join(problems))


def positive_int(x) -> bool:
  return isinstance(x, int) and not isinstance(x, bool) and x >= 1


def _shared_checks(config: ml_collections.ConfigDict) -> list:
  """(a check that must hold, the field, what it must be) for the fields every family has."""
  m, _, d, t, s = (config[group] for group in GROUPS)
  return [
      (lambda: positive_int(m.residual_channels), 'model.residual_channels', 'an integer >= 1'),
      (lambda: positive_int(m.residual_layers), 'model.residual_layers', 'an integer >= 1'),
      (lambda: positive_int(m.embedding_channels) and m.embedding_channels % 2 == 0,
       'model.embedding_channels', 'an even integer (sin and cos halves)'),
      (lambda: positive_int(m.embedding_dim), 'model.embedding_dim', 'an integer >= 1'),
      (lambda: d.sample_rate_hz == SAMPLE_RATE_HZ, 'data.sample_rate_hz',
       f'{SAMPLE_RATE_HZ} (the datasets are prepared at 48 kHz)'),
      (lambda: 0 <= d.gain_min <= d.gain_max, 'data.gain_min', f'in [0, data.gain_max = {d.gain_max}]'),
      (lambda: d.trim_top_db >= 0, 'data.trim_top_db', 'at least 0 (0: no trim)'),
      (lambda: positive_int(d.shuffle_buffer), 'data.shuffle_buffer', 'an integer >= 1'),
      (lambda: positive_int(t.batch_size), 'train.batch_size', 'at least 1'),
      (lambda: positive_int(t.microbatches) and t.batch_size % t.microbatches == 0, 'train.microbatches',
       f'an integer >= 1 that divides train.batch_size ({t.batch_size})'),
      (lambda: positive_int(t.num_steps), 'train.num_steps', 'at least 1'),
      (lambda: positive_int(t.peer_timeout_seconds), 'train.peer_timeout_seconds', 'an integer >= 1 (seconds)'),
      (lambda: t.learning_rate > 0, 'train.learning_rate', 'positive'),
      (lambda: 0 <= t.ema_decay <= 1, 'train.ema_decay', 'in [0, 1]'),
      (lambda: t.keep_checkpoints is None or t.keep_checkpoints >= 1, 'train.keep_checkpoints',
       'at least 1 (or None: keep all)'),
      (lambda: t.checkpoint_every >= 1, 'train.checkpoint_every', 'at least 1'),
      (lambda: t.log_every >= 1, 'train.log_every', 'at least 1'),
      (lambda: t.eval_every >= 1, 'train.eval_every', 'at least 1'),
      (lambda: t.eval_utterances >= 0, 'train.eval_utterances', 'at least 0'),
      (lambda: t.eval_seconds > 0, 'train.eval_seconds', 'positive'),
      (lambda: s.chunk_seconds > 0, 'sample.chunk_seconds', 'positive'),
      (lambda: 0 <= s.overlap_seconds < s.chunk_seconds, 'sample.overlap_seconds',
       f'in [0, sample.chunk_seconds = {s.chunk_seconds})'),
      (lambda: positive_int(s.batch_size), 'sample.batch_size', 'an integer >= 1'),
  ]


def apply_overrides(config: ml_collections.ConfigDict, overrides: list[str],
                    fixed_groups: tuple[str, ...] = ()) -> None:
  """Sets 'group.key=value' overrides (the text after a command line's --config.) in place. The
  value is read as the field's type (a Python literal for numbers, tuples and None; plain text for a
  string field). A field that does not exist, a value that does not fit, and a field of
  `fixed_groups` (a checkpoint's architecture, say; its compute-only fields excepted) are ValueErrors
  naming the override."""
  for override in overrides:
    field, sep, text = override.partition('=')
    if not sep:
      raise ValueError(f'--config.{override}: give a value, as in --config.{field}=VALUE')
    node, parts = config, field.split('.')
    for depth, part in enumerate(parts):
      keys = list(node.keys()) if isinstance(node, ml_collections.ConfigDict) else []
      if part not in keys:
        close = difflib.get_close_matches(part, keys, n=1)
        hint = f'\nDid you mean "{close[0]}"?' if close else ''
        raise ValueError(f"a --config override names no field of the config: '{part}' "
                         f"(in --config.{override}){hint}")
      if depth < len(parts) - 1:
        node = node[part]
    group, key = parts[0], parts[-1]
    if group in fixed_groups and not (group == 'model' and key in COMPUTE_ONLY_KEYS):
      raise ValueError(f'--config.{override}: {group}.{key} is fixed by the checkpoint')
    current = node[key]
    try:
      value = text if isinstance(current, str) else _literal(text)
      if isinstance(current, bool) and isinstance(value, str):
        value = {'true': True, 'false': False}.get(value.lower(), value)
      node[key] = value
    except (TypeError, ValueError):
      raise ValueError(f'--config.{override}: {field} must be of type {type(current).__name__}, not '
                       f'{text!r}') from None


def _literal(text: str):
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    return text


def _holds(check) -> bool:
  try:
    return bool(check())
  except (TypeError, ValueError):  # a value of the wrong type (None, a string where a number goes)
    return False


def _get(config: ml_collections.ConfigDict, field: str):
  group, key = field.split('.')
  return config[group].get(key)


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
  missing = [group for group in GROUPS if group not in config]
  if missing:
    raise ValueError(f'{path}: not a saved config (no {", ".join(missing)} group)')
  if 'name' not in config.model:
    config.model.name = families.UNNAMED
  if config.model.name not in families.PACKAGES:
    raise ValueError(f'{path}: model.name {config.model.name!r} is not one of {tuple(families.PACKAGES)}')
  families.of(config).upgrade_saved_config(config)
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
