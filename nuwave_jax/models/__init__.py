"""Models that ship inside the package, by name: what `nuwave_jax.load(name)`, `upsample --checkpoint
NAME` and `nuwave-jax models` read.

Each is a folder here: `config.json` (as a checkpoint directory's), `params.npz` (the parameters,
flattened by path) and `card.json` (its data and licence, recipe, steps and measured numbers; the
model card, docs/models.md, says the rest). The weights' licence follows their training data: see
LICENSE beside them.
"""

import json
import pathlib

import numpy as np

HERE = pathlib.Path(__file__).parent
DEFAULT = 'nuwave2-small-2step'  # what `upsample` uses without --checkpoint
OFFICIAL = ('for the paper\'s quality, convert the official NU-Wave 2 checkpoint (linked from '
            'github.com/maum-ai/nuwave2): nuwave-jax convert nuwave2.ckpt --config configs/nuwave2.py --out DIR')


def names() -> list[str]:
  """The bundled models, sorted."""
  return sorted(p.name for p in HERE.iterdir() if (p / 'params.npz').is_file())


def folder(name: str) -> pathlib.Path:
  """The folder of bundled model `name`; a FileNotFoundError lists the known ones."""
  if name not in names():
    raise FileNotFoundError(f'{name}: no such checkpoint directory, and no bundled model of that name '
                            f'(bundled: {", ".join(names()) or "none"})')
  return HERE / name


def card(name: str) -> dict:
  return json.loads((folder(name) / 'card.json').read_text())


def load_params(name: str) -> dict:
  """The nested parameter tree of bundled model `name` (numpy float32)."""
  params: dict = {}
  with np.load(folder(name) / 'params.npz') as flat:
    for key in flat.files:
      node = params
      *path, leaf = key.split('/')
      for part in path:
        node = node.setdefault(part, {})
      node[leaf] = flat[key]
  return params


def save(directory, config, params, card_fields: dict) -> None:
  """Writes a bundled model's folder: config.json, params.npz (flattened by path) and card.json."""
  from nuwave_jax import configuration
  directory = pathlib.Path(directory)
  configuration.save_config(directory, config)
  flat = {}

  def walk(node, prefix):
    for key, value in node.items():
      if isinstance(value, dict):
        walk(value, f'{prefix}{key}/')
      else:
        flat[f'{prefix}{key}'] = np.asarray(value, np.float32)

  walk(params, '')
  np.savez(directory / 'params.npz', **flat)
  (directory / 'card.json').write_text(json.dumps(card_fields, indent=2) + '\n')
