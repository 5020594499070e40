"""Checkpoint directories shared by training, conversion and sampling (orbax).

Layout of a checkpoint directory DIR (a training workdir, or the output of `nuwave_jax.convert`):
  DIR/config.json                  the config the parameters were made with
  DIR/checkpoints/<step>/model     {'params': ..., 'ema_params': ...}  (ema_params absent when converted)
  DIR/checkpoints/<step>/train     optimizer state, step and RNG (training checkpoints only)
Orbax writes each step to a temporary folder and renames it when complete, so a crash during a save
leaves the previous step intact. Saves are asynchronous: call `manager.wait_until_finished()` before exit.
"""

import pathlib

import jax
import ml_collections
import orbax.checkpoint as ocp

from nuwave_jax import configuration
from nuwave_jax import families

CHECKPOINT_SUBDIR = 'checkpoints'
ITEM_NAMES = ('model', 'train')


class IncompleteCheckpoint(ValueError):
  """A step folder that lacks items or cannot be read: copied or synced half-way (a Drive upload
  cut off by a recycled VM), or its files damaged."""


def make_manager(directory: str | pathlib.Path, keep: int | None = None) -> ocp.CheckpointManager:
  """An async orbax CheckpointManager for DIR/checkpoints, keeping the newest `keep` steps."""
  path = pathlib.Path(directory).absolute() / CHECKPOINT_SUBDIR
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, enable_async_checkpointing=True,
                                         create=True)
  # Handlers named up front, so that item_metadata can read a step's shapes before restoring it.
  handlers = {name: ocp.StandardCheckpointHandler() for name in ITEM_NAMES}
  return ocp.CheckpointManager(path, options=options, item_handlers=handlers)


def save(manager: ocp.CheckpointManager, step: int, model_tree: dict, train_tree: dict | None = None):
  """Starts an asynchronous save of step `step`; `model_tree` is {'params': ..., ['ema_params': ...]}."""
  items = {'model': ocp.args.StandardSave(model_tree)}
  if train_tree is not None:
    items['train'] = ocp.args.StandardSave(train_tree)
  manager.save(step, args=ocp.args.Composite(**items))


def save_params(directory: str | pathlib.Path, config: ml_collections.ConfigDict, model_tree: dict,
                step: int = 0) -> None:
  """Writes a checkpoint directory of parameters alone, as `nuwave_jax.convert` does: DIR/config.json
  and step `step` holding `model_tree` ({'params': ..., ['ema_params': ...]}), the save finished."""
  configuration.save_config(directory, config)
  manager = make_manager(directory)
  save(manager, step, model_tree)
  manager.wait_until_finished()
  manager.close()


def _leaf_shapes(tree) -> dict[str, tuple[int, ...]]:
  """{'params/layer_0/dilated_conv/kernel': shape, ...} of a tree of arrays or of orbax metadata."""
  return {'/'.join(str(getattr(k, 'key', getattr(k, 'name', k))) for k in path): tuple(leaf.shape)
          for path, leaf in jax.tree_util.tree_leaves_with_path(tree) if hasattr(leaf, 'shape')}


def restore(manager: ocp.CheckpointManager, step: int, args: ocp.args.Composite):
  """manager.restore(step, args), after checking the step against what is asked: a step without the
  items asked for (copied half-way, or a converted checkpoint asked for training state), or whose
  arrays have other shapes than the target (another config), raises a ValueError naming its folder."""
  folder = pathlib.Path(manager.directory) / str(step)
  saved = manager.item_metadata(step)
  missing = [name for name in args.keys() if name not in saved or saved[name] is None]
  trained = lambda: any(manager.item_metadata(s).get('train') is not None
                        for s in manager.all_steps() if s != step)
  if missing == ['train'] and 'model' in saved and not trained():  # else a training step cut short
    raise ValueError(f'{folder}: has parameters but no training state (a converted checkpoint?): '
                     'it can be sampled from, not resumed; train in another --workdir')
  if missing:
    raise IncompleteCheckpoint(f'{folder}: has no {" or ".join(missing)} item (copied or written half-way?); '
                               'remove it to use the step before')
  for name in args.keys():
    target = getattr(args[name], 'item', None)
    if target is None:
      continue
    want, have = _leaf_shapes(target), _leaf_shapes(saved[name].tree)
    problems = [f'{k} has shape {have[k]}, the config wants {want[k]}'
                for k in sorted(set(want) & set(have)) if want[k] != have[k]]
    if problems:
      raise ValueError(f'{folder} was made with another model config: ' + '; '.join(problems[:5]))
  try:
    return manager.restore(step, args=args)
  except Exception as error:  # orbax raises KeyError, ValueError, TypeError, ... with long messages
    detail = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
    raise IncompleteCheckpoint(f'{folder}: cannot be restored ({detail})') from error


def restore_params(directory: str | pathlib.Path, config: ml_collections.ConfigDict | None = None,
                   use_ema: bool = True, step: int | None = None):
  """Parameters for inference from a checkpoint directory.

  Returns (params, saved_config, step), on this process's first device whatever the devices and
  processes of the run that saved them (a pod's checkpoint samples on one machine). With `config`, a
  checkpoint of another model config is refused. EMA parameters are used when present and `use_ema`;
  a converted checkpoint has only params.
  """
  directory = pathlib.Path(directory)
  if not directory.is_dir():
    raise FileNotFoundError(f'checkpoint directory {directory} does not exist')
  saved_config = configuration.load_saved_config(directory)
  if config is not None:
    configuration.check_same_architecture(saved_config, config, str(directory))
  manager = make_manager(directory)
  try:
    if step is not None and step not in manager.all_steps():
      raise FileNotFoundError(f'{directory / CHECKPOINT_SUBDIR} holds no checkpoint of step {step} '
                              f'(it holds {", ".join(map(str, manager.all_steps())) or "none"})')
    step = manager.latest_step() if step is None else step
    if step is None:
      raise FileNotFoundError(f'{directory / CHECKPOINT_SUBDIR} holds no complete checkpoint')
    saved = manager.item_metadata(step).get('model')
    target = None
    if saved is not None:  # else `restore` names what the step lacks
      for tree in saved.tree.values():
        check_params_match(tree, saved_config, str(directory))
      target = {key: abstract_params(saved_config) for key in saved.tree}
    restored = restore(manager, step, ocp.args.Composite(model=ocp.args.StandardRestore(target)))
  finally:
    manager.close()
  tree = restored['model']
  params = tree['ema_params'] if use_ema and 'ema_params' in tree else tree['params']
  return params, saved_config, step


def abstract_params(config: ml_collections.ConfigDict):
  """The parameter tree of `config`'s network as shapes and dtypes on this process's first device."""
  family = families.of(config)
  module = family.build_model(config)
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device),
                      jax.eval_shape(lambda: family.init_params(module, jax.random.key(0))))


def param_shapes(config: ml_collections.ConfigDict) -> dict[tuple[str, ...], tuple[int, ...]]:
  """{('layer_0', 'dilated_conv', 'kernel'): (3, 64, 128), ...} for the network `config` describes."""
  return {tuple(k.key for k in path): leaf.shape
          for path, leaf in jax.tree_util.tree_leaves_with_path(abstract_params(config))}


def check_params_match(params, config: ml_collections.ConfigDict, where: str) -> None:
  """Raises if `params` do not have exactly the names and shapes of the network `config` describes."""
  want = {'/'.join(k): v for k, v in param_shapes(config).items()}
  have = _leaf_shapes(params)
  problems = [f'missing {k}' for k in sorted(set(want) - set(have))]
  problems += [f'unexpected {k}' for k in sorted(set(have) - set(want))]
  problems += [f'{k} has shape {have[k]}, expected {want[k]}'
               for k in sorted(set(want) & set(have)) if have[k] != want[k]]
  if problems:
    raise ValueError(f'parameters in {where} do not fit the config: ' + '; '.join(problems[:10]))
