"""Training: the train state, the sharded data-parallel step, and the loop (REFERENCE section 3).

One code path for every device count: a 1-D mesh over all devices of all processes with the axis
'data'. The global batch is sharded over 'data'; params, optimizer and EMA state are replicated; the
step is `jax.jit` with those shardings and donates the state. Each process feeds its own shard of the
data and the global batch is assembled with `jax.make_array_from_process_local_data`.
"""

import dataclasses
import functools
import math
import pathlib
import signal
import time
from typing import Any, Iterator

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from nuwave_jax import checkpoints
from nuwave_jax import configuration
from nuwave_jax import diffusion
from nuwave_jax import model as model_lib

DATA_AXIS = 'data'


class TrainState(flax.struct.PyTreeNode):
  step: jax.Array        # int32 scalar: optimizer steps taken
  params: Any
  ema_params: Any
  opt_state: Any
  rng: jax.Array         # uint32 key data of the training RNG stream


def make_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """Global-norm clip, then Adam (paper: clip 0.5, lr 3e-5, betas (0.5, 0.999), eps 1e-9)."""
  t = config.train
  return optax.chain(optax.clip_by_global_norm(t.grad_clip_norm),
                     optax.adam(t.learning_rate, b1=t.adam_b1, b2=t.adam_b2, eps=t.adam_eps))


def ema_update(ema, params, decay: float, style: str):
  """'standard': ema <- decay * ema + (1 - decay) * params.

  'original': NU-Wave's callback, params weighted by decay: ema <- decay * params + (1 - decay) * ema.
  """
  if style == 'standard':
    return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, ema, params)
  if style == 'original':
    return jax.tree.map(lambda e, p: decay * p + (1.0 - decay) * e, ema, params)
  raise ValueError(f"unknown train.ema_style {style!r}: use 'standard' or 'original'")


def make_mesh(devices=None) -> Mesh:
  """A 1-D mesh over all devices (of every process) with the batch axis 'data'."""
  devices = jax.devices() if devices is None else devices
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def init_state(config: ml_collections.ConfigDict, mesh: Mesh) -> TrainState:
  """A fresh TrainState, created directly replicated on the mesh."""
  module = model_lib.build_model(config)
  tx = make_optimizer(config)

  def init():
    rng = jax.random.key(config.train.seed)
    init_rng, train_rng = jax.random.split(rng)
    params = model_lib.init_params(module, init_rng)
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, ema_params=params,
                      opt_state=tx.init(params), rng=jax.random.key_data(train_rng))

  return jax.jit(init, out_shardings=NamedSharding(mesh, P()))()


def make_train_step(config: ml_collections.ConfigDict, mesh: Mesh):
  """`train_step(state, batch) -> (state, metrics)`, jitted with shardings; donates `state`.

  batch: {'audio': [global_batch, time], 'condition': [global_batch, time]} sharded over 'data'.
  metrics: {'loss', 'grad_norm'} float32 scalars.
  """
  module = model_lib.build_model(config)
  tx = make_optimizer(config)
  d, t = config.diffusion, config.train
  levels = diffusion.training_schedule(d.num_steps, d.beta_start, d.beta_end).levels

  def step_fn(state: TrainState, batch):
    audio, cond = batch['audio'], batch['condition']
    rng, level_rng, noise_rng = jax.random.split(jax.random.wrap_key_data(state.rng), 3)
    noise_level = diffusion.sample_noise_level(level_rng, levels, audio.shape[0])
    noise = jax.random.normal(noise_rng, audio.shape, jnp.float32)
    noisy = diffusion.q_sample(audio, noise_level, noise)

    def loss_fn(params):
      noise_hat = module.apply({'params': params}, noisy, cond, noise_level)
      return diffusion.loss(noise, noise_hat, d.loss)

    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                              ema_params=ema_update(state.ema_params, params, t.ema_decay, t.ema_style),
                              rng=jax.random.key_data(rng))
    return new_state, {'loss': loss, 'grad_norm': optax.tree.norm(grads)}

  replicated = NamedSharding(mesh, P())
  batch_sharding = NamedSharding(mesh, P(DATA_AXIS))
  return jax.jit(step_fn, in_shardings=(replicated, batch_sharding),
                 out_shardings=(replicated, replicated), donate_argnums=0)


def global_batch(local_batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
  """This process's rows -> the global batch sharded over 'data' (rows of process i follow process i-1)."""
  sharding = NamedSharding(mesh, P(DATA_AXIS))
  return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
          for k, v in local_batch.items()}


class PreemptionHandler:
  """Turns SIGTERM (a preempted TPU VM, a cluster scheduler) into a request to save and stop."""

  def __init__(self):
    self.requested = False
    self._previous = signal.signal(signal.SIGTERM, self._handle)

  def _handle(self, signum, frame):
    del signum, frame
    self.requested = True

  def should_stop(self, step: int) -> bool:
    """Whether every process should stop now; processes agree, so all save the same step."""
    if jax.process_count() == 1:
      return self.requested
    if step % 10:  # a cross-host agreement is a sync point: not on every step
      return False
    return bool(multihost_utils.process_allgather(np.int32(self.requested)).max())

  def close(self):
    signal.signal(signal.SIGTERM, self._previous)


def abstract_state(config: ml_collections.ConfigDict, mesh: Mesh):
  """Shapes, dtypes and shardings of the TrainState, for restoring without initialising."""
  shapes = jax.eval_shape(lambda: init_state(config, mesh))
  replicated = NamedSharding(mesh, P())
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=replicated), shapes)


def save_state(manager: ocp.CheckpointManager, state: TrainState) -> None:
  step = int(jax.device_get(state.step))
  checkpoints.save(manager, step, {'params': state.params, 'ema_params': state.ema_params},
                   {'opt_state': state.opt_state, 'step': state.step, 'rng': state.rng})


def restore_state(manager: ocp.CheckpointManager, step: int, target: TrainState) -> TrainState:
  restored = manager.restore(step, args=ocp.args.Composite(
      model=ocp.args.StandardRestore({'params': target.params, 'ema_params': target.ema_params}),
      train=ocp.args.StandardRestore({'opt_state': target.opt_state, 'step': target.step,
                                      'rng': target.rng})))
  model, train = restored['model'], restored['train']
  return TrainState(step=train['step'], params=model['params'], ema_params=model['ema_params'],
                    opt_state=train['opt_state'], rng=train['rng'])


def check_finite(metrics: dict[str, float], step: int, workdir) -> None:
  bad = {k: v for k, v in metrics.items() if not math.isfinite(v)}
  if bad:
    raise FloatingPointError(
        f'step {step}: {bad} is not finite; training stopped. The last good checkpoint in '
        f'{pathlib.Path(workdir) / checkpoints.CHECKPOINT_SUBDIR} is intact (lower '
        f'train.learning_rate or check the data for NaN or silent clips).')
