"""Training: the train state, the sharded data-parallel step, and the loop (docs/reference.md §3).

One code path for every device count: a 1-D mesh over all devices of all processes with the axis
'data'. The global batch is sharded over 'data'; params, optimizer and EMA state are replicated; the
step is `jax.jit` with those shardings and donates the state. Each process feeds its own shard of the
data and the global batch is assembled with `jax.make_array_from_process_local_data`.
"""

import math
import pathlib
import signal
import time
from typing import Any
from typing import Callable
from typing import Iterable

import flax.struct
import jax
from jax.experimental import multihost_utils
import jax.numpy as jnp
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
from tqdm import tqdm

from nuwave_jax import checkpoints
from nuwave_jax import configuration
from nuwave_jax import evaluation
from nuwave_jax import families
from nuwave_jax import inference

DATA_AXIS = 'data'


class TrainState(flax.struct.PyTreeNode):
  step: jax.Array        # int32 scalar: optimizer steps taken
  params: Any
  ema_params: Any
  opt_state: Any
  rng: jax.Array         # uint32 key data of the training RNG stream


def learning_rate(config: ml_collections.ConfigDict):
  """train.learning_rate, constant (the paper), or cosine- or linearly decayed to 0 at
  train.num_steps: a float or an optax schedule (step -> lr)."""
  t = config.train
  if t.lr_decay == 'constant':
    return t.learning_rate
  if t.lr_decay == 'cosine':
    return optax.cosine_decay_schedule(t.learning_rate, t.num_steps)
  if t.lr_decay == 'linear':
    return optax.linear_schedule(t.learning_rate, 0.0, t.num_steps)
  raise ValueError(f'unknown train.lr_decay {t.lr_decay!r}')


def make_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """Global-norm clip, then Adam (paper: clip 0.5, lr 3e-5, betas (0.5, 0.999), eps 1e-9)."""
  t = config.train
  return optax.chain(optax.clip_by_global_norm(t.grad_clip_norm),
                     optax.adam(learning_rate(config), b1=t.adam_b1, b2=t.adam_b2, eps=t.adam_eps))


def ema_update(ema, params, decay: float, style: str, step=None):
  """'standard': ema <- d * ema + (1 - d) * params, with d = min(decay, (1 + step) / (10 + step)) so
  that early averages are not dominated by the initialisation (step: optimizer steps taken so far).

  'original': NU-Wave's callback, params weighted by decay: ema <- decay * params + (1 - decay) * ema.
  """
  if style == 'standard':
    if step is not None:
      decay = jnp.minimum(decay, (1.0 + step) / (10.0 + step))
    return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, ema, params)
  if style == 'original':
    return jax.tree.map(lambda e, p: decay * p + (1.0 - decay) * e, ema, params)
  raise ValueError(f'unknown train.ema_style {style!r}')


def make_mesh(devices=None) -> Mesh:
  """A 1-D mesh over all devices (of every process) with the batch axis 'data'."""
  devices = jax.devices() if devices is None else devices
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def init_state(config: ml_collections.ConfigDict, mesh: Mesh, params=None) -> TrainState:
  """A fresh TrainState, created directly replicated on the mesh: the network's initialisation, or
  `params` (a distillation student starts from its teacher)."""
  family = families.of(config)
  module = family.build_model(config)
  tx = make_optimizer(config)

  def init(given):
    rng = jax.random.key(config.train.seed)
    init_rng, train_rng = jax.random.split(rng)
    start = family.init_params(module, init_rng) if given is None else given
    return TrainState(step=jnp.zeros((), jnp.int32), params=start, ema_params=start,
                      opt_state=tx.init(start), rng=jax.random.key_data(train_rng))

  if params is not None:  # host copies, wherever they were, replicated on the mesh
    params = replicate(jax.tree.map(np.asarray, params), mesh)
  return jax.jit(init, out_shardings=NamedSharding(mesh, P()))(params)


def check_batch_fits(batch_size: int, microbatches: int, devices: int) -> None:
  """Refuses a global batch that the devices and microbatches cannot split evenly, naming the
  nearest batches that they can."""
  unit = microbatches * devices
  if batch_size % unit == 0:
    return
  below, above = batch_size // unit * unit, (batch_size // unit + 1) * unit
  nearest = ' or '.join(str(b) for b in (below, above) if b > 0)
  hint = (f'; with train.microbatches={microbatches}, a batch of {below or above} takes 1/{microbatches} '
          'of its activation memory per part' if microbatches > 1 else
          '; train.microbatches=N then splits each device\'s rows in N parts, for 1/N of the activation memory')
  raise ValueError(f'train.batch_size {batch_size} must be a multiple of train.microbatches ({microbatches}) '
                   f'x the {devices} devices: the nearest that fit are {nearest} '
                   f'(--config.train.batch_size={below or above}){hint}')


def make_train_step(config: ml_collections.ConfigDict, mesh: Mesh, unroll_microbatches: bool | None = None,
                    objective=None, with_constants: bool = False):
  """`train_step(state, batch[, constants]) -> (state, metrics)`, jitted with shardings; donates `state`.

  batch: {'audio', 'condition'}: [global_batch, time] and what else the family's condition makes
  (NU-Wave 2: 'band_mask' [global_batch, 513]), sharded over 'data'. objective: `(examples, loss)` as
  `Family.make_objective` returns them (the default: the family's own), which draws the noise and
  computes the loss; with_constants: the step takes a third argument, replicated, that `examples`
  gets after the batch (a distillation's teacher parameters). metrics: {'loss', 'grad_norm'} float32
  scalars. With train.microbatches = n the batch is processed in n sequential parts and their
  gradients averaged: the same update, with 1/n of the activations. unroll_microbatches: whether
  their loop is unrolled (None: on a CPU only).
  """
  family = families.of(config)
  module = family.build_model(config)
  tx = make_optimizer(config)
  t = config.train
  make_examples, loss_fn = objective or family.make_objective(config, module)
  check_batch_fits(t.batch_size, t.microbatches, mesh.size)
  microbatches = t.microbatches
  # Unrolled on the CPU, where XLA runs the network 3-10x slower inside a while loop; rolled elsewhere,
  # where an unrolled scan lets XLA overlap the parts and hold all their activations at once
  # (benchmarks/tpu_fit.py, NU-Wave's batch 36 in 4 parts on a v5e: 56.6 GiB unrolled, 14.7 rolled).
  unroll = mesh.devices.flat[0].platform == 'cpu' if unroll_microbatches is None else unroll_microbatches

  def step_fn(state: TrainState, batch, *constants):
    rng, examples = make_examples(jax.random.wrap_key_data(state.rng), batch, *constants)
    grad_fn = jax.value_and_grad(loss_fn)
    if microbatches == 1:
      loss, grads = grad_fn(state.params, *examples)
    else:
      # Microbatch j holds rows j, j + n, j + 2n, ...: each device keeps working on its own rows.
      split = lambda x: jnp.moveaxis(x.reshape(x.shape[0] // microbatches, microbatches,
                                               *x.shape[1:]), 1, 0)

      def accumulate(total, microbatch):
        return jax.tree.map(jnp.add, total, grad_fn(state.params, *microbatch)), None

      zeros = (jnp.zeros((), jnp.float32), jax.tree.map(jnp.zeros_like, state.params))
      total, _ = jax.lax.scan(accumulate, zeros, jax.tree.map(split, examples), unroll=unroll)
      loss, grads = jax.tree.map(lambda x: x / microbatches, total)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                              ema_params=ema_update(state.ema_params, params, t.ema_decay, t.ema_style,
                                                    state.step),
                              rng=jax.random.key_data(rng))
    return new_state, {'loss': loss, 'grad_norm': optax.tree.norm(grads)}

  replicated = NamedSharding(mesh, P())
  batch_sharding = NamedSharding(mesh, P(DATA_AXIS))
  on_tpu = mesh.devices.flat[0].platform == 'tpu'
  in_shardings = (replicated, batch_sharding) + ((replicated,) if with_constants else ())
  return jax.jit(step_fn, in_shardings=in_shardings, out_shardings=(replicated, replicated), donate_argnums=0,
                 compiler_options=(family.tpu_compiler_options or None) if on_tpu else None)


def replicate(tree, mesh: Mesh):
  """Host arrays (the same on every process) as arrays replicated on every device of the mesh."""
  sharding = NamedSharding(mesh, P())
  return jax.tree.map(lambda x: jax.make_array_from_callback(np.shape(x), sharding, lambda index: np.asarray(x)[index]),
                      tree)


def global_batch(local_batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
  """This process's rows -> the global batch sharded over 'data' (rows of process i follow process i-1)."""
  sharding = NamedSharding(mesh, P(DATA_AXIS))
  return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
          for k, v in local_batch.items()}


class PreemptionHandler:
  """Turns SIGTERM (a preempted TPU VM, a cluster scheduler) and a first SIGINT (Ctrl-C, a stopped
  notebook cell) into a request to save and stop; a second SIGINT aborts at once (KeyboardInterrupt)."""

  def __init__(self):
    self.requested = False
    self._previous = {s: signal.signal(s, self._handle) for s in (signal.SIGTERM, signal.SIGINT)}

  def _handle(self, signum, frame):
    del frame
    if signum == signal.SIGINT:
      if self.requested:
        raise KeyboardInterrupt
      print('interrupted: saving a checkpoint after this step (interrupt again to abort without saving)',
            flush=True)
    self.requested = True

  def should_stop(self, step: int) -> bool:
    """Whether every process should stop now; processes agree, so all save the same step."""
    if jax.process_count() == 1:
      return self.requested
    if step % 10:  # a cross-host agreement is a sync point: not on every step
      return False
    return bool(multihost_utils.process_allgather(np.int32(self.requested)).max())

  def close(self):
    for s, handler in self._previous.items():
      signal.signal(s, handler)


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
  restored = checkpoints.restore(manager, step, ocp.args.Composite(
      model=ocp.args.StandardRestore({'params': target.params, 'ema_params': target.ema_params}),
      train=ocp.args.StandardRestore({'opt_state': target.opt_state, 'step': target.step,
                                      'rng': target.rng})))
  model, train = restored['model'], restored['train']
  return TrainState(step=train['step'], params=model['params'], ema_params=model['ema_params'],
                    opt_state=train['opt_state'], rng=train['rng'])


def restore_newest(manager: ocp.CheckpointManager, target: TrainState, log=print) -> TrainState | None:
  """The newest step of `manager` that restores into `target`, or None when there is none. A step
  that cannot be read (`checkpoints.IncompleteCheckpoint`) is renamed <step>.incomplete, with a
  warning naming it, and the step before is tried; one made with another config is an error."""
  for step in sorted(manager.all_steps(), reverse=True):
    try:
      return restore_state(manager, step, target)
    except checkpoints.IncompleteCheckpoint as error:
      folder = pathlib.Path(manager.directory) / str(step)
      log(f'warning: {str(error).split("; remove it")[0]}: moved aside to {folder.name}.incomplete; '
          'resuming from the step before')
      if jax.process_index() == 0:
        folder.rename(folder.with_name(f'{folder.name}.incomplete'))
      if jax.process_count() > 1:
        multihost_utils.sync_global_devices(f'nuwave checkpoint {step} moved aside')
      manager.reload()
  return None


def check_finite(metrics: dict[str, float], step: int, workdir) -> None:
  bad = {k: v for k, v in metrics.items() if not math.isfinite(v)}
  if bad:
    raise FloatingPointError(
        f'step {step}: {bad} is not finite; training stopped. The last good checkpoint in '
        f'{pathlib.Path(workdir) / checkpoints.CHECKPOINT_SUBDIR} is intact (lower '
        f'train.learning_rate or check the data for NaN or silent clips).')


def eval_clips(utterances: list[tuple[str, np.ndarray]], config) -> tuple[list, list[str]]:
  """The (name, 48 kHz audio) pairs a run's evals score, each cropped to config.train.eval_seconds,
  and a reason for each one left out (`evaluation.scorable`)."""
  max_samples = int(config.train.eval_seconds * config.data.sample_rate_hz)
  return evaluation.scorable([(n, a[:max_samples]) for n, a in utterances], families.of(config).trim_multiple(config))


def as_rows(signals: list[np.ndarray]) -> np.ndarray:
  """Signals [time] of different lengths as rows [n, longest] float32, zero after each."""
  rows = np.zeros((len(signals), max(len(x) for x in signals)), np.float32)
  for row, x in zip(rows, signals):
    row[:len(x)] = x
  return rows


class SummaryWriter:
  """TensorBoard summaries from process 0 only (other processes write nothing)."""

  def __init__(self, workdir: pathlib.Path):
    import tensorflow as tf
    self._tf = tf
    self._writer = tf.summary.create_file_writer(str(workdir / 'tensorboard')) \
        if jax.process_index() == 0 else None

  def scalars(self, step: int, values: dict[str, float]) -> None:
    if self._writer:
      with self._writer.as_default(step=step):
        for k, v in values.items():
          self._tf.summary.scalar(k, v)

  def audio(self, step: int, name: str, clips: np.ndarray, sample_rate_hz: int) -> None:
    if self._writer:
      with self._writer.as_default(step=step):
        self._tf.summary.audio(name, clips[..., None], sample_rate_hz, max_outputs=len(clips))

  def flush(self) -> None:
    if self._writer:
      self._writer.flush()


def check_workdir(config: ml_collections.ConfigDict, workdir) -> None:
  """Refuses to resume a workdir whose checkpoints were made with another model config, or with
  another train.lr_decay (whose optimizer state has another structure)."""
  if (pathlib.Path(workdir) / configuration.CONFIG_FILENAME).exists():
    saved = configuration.load_saved_config(workdir)
    configuration.check_same_architecture(saved, config, str(workdir))
    saved_decay = saved.train.get('lr_decay', 'constant')
    if saved_decay != config.train.lr_decay:
      raise ValueError(f'{workdir} was trained with train.lr_decay={saved_decay!r}, not '
                       f'{config.train.lr_decay!r}: resume with the same, or use a new --workdir')


def run_evals(upsampler, eval_set, step: int, first: bool, writer: SummaryWriter, log, beside=None) -> None:
  """One eval of the EMA params on the eval clips at every input rate the family evaluates
  (`Family.eval_rates`: NU-Wave's one, NU-Wave 2's config.data.eval_rates_hz), into TensorBoard as
  eval_<rate>hz/<metric> beside the input's, eval_<rate>hz/<metric>_input; audio of the outputs (and,
  at the first eval, of the references and inputs) and a line per rate to `log`. beside: (a label,
  {rate: {metric: value}}), another model's scores on the same clips, logged as <metric>_<label> (a
  distillation's teacher)."""
  config = upsampler.config
  for i, rate in enumerate(upsampler.family.eval_rates(config)):
    result = evaluation.evaluate(upsampler, eval_set, 1, config.sample.seed, input_rate_hz=rate)
    model, baseline = result.report['model'], result.report['input']
    tag = f'eval_{rate}hz'
    scalars = {**{f'{tag}/{k}': v['mean'] for k, v in model.items()},
               **{f'{tag}/{k}_input': v for k, v in baseline.items()}}
    other = ''
    if beside:
      label, scores = beside
      scalars.update({f'{tag}/{k}_{label}': v for k, v in scores[rate].items()})
      other = f", {label} {scores[rate]['lsd']:.3f}"
    writer.scalars(step, scalars)
    writer.audio(step, f'{tag}/upsampled', as_rows(result.outputs), config.data.sample_rate_hz)
    if first:
      writer.audio(step, f'{tag}/input', as_rows(result.conditions), config.data.sample_rate_hz)
      if i == 0:
        writer.audio(step, 'eval/reference', as_rows(result.references), config.data.sample_rate_hz)
    log(f"step {step}: eval at {rate / 1000:g} kHz SNR {model['snr']['mean']:.2f} dB (input {baseline['snr']:.2f}), "
        f"LSD {model['lsd']['mean']:.3f} (input {baseline['lsd']:.3f}{other}), "
        f"LSD-HF {model['lsd_hf']['mean']:.3f} ({baseline['lsd_hf']:.3f})")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir,
                       train_data: Callable[[int], Iterable[dict[str, np.ndarray]]],
                       eval_utterances: list[tuple[str, np.ndarray]] = (), *, objective=None, constants=None,
                       initial_params=None, beside=None) -> TrainState:
  """Trains until config.train.num_steps (resuming from the newest checkpoint in workdir).

  train_data(start_step): this process's batches {'audio', 'condition'}: [local_batch, time] from
  `start_step` on, the same batches an uninterrupted run would see (`pipeline.train_dataset`).
  eval_utterances: (name, 48 kHz audio) pairs sampled at every eval step on process 0.
  objective, constants: another objective than the family's and the constants its examples take
  (`make_train_step`; a distillation stage's, with its teacher's parameters); initial_params: where
  a fresh run starts (default: the network's initialisation); beside: scores logged beside the evals'
  (`run_evals`). Stops early, after saving, on SIGTERM or a first SIGINT (the returned state's step
  is then below train.num_steps). Raises FloatingPointError on a NaN or Inf loss.
  """
  workdir = pathlib.Path(workdir)
  t = config.train
  is_main = jax.process_index() == 0
  configuration.check_config(config)
  check_workdir(config, workdir)

  mesh = make_mesh()
  # checks the batch against devices and microbatches
  train_step = make_train_step(config, mesh, objective=objective, with_constants=constants is not None)
  extra = () if constants is None else (replicate(constants, mesh),)
  lr = learning_rate(config)
  manager = checkpoints.make_manager(workdir, keep=t.keep_checkpoints)
  state = restore_newest(manager, abstract_state(config, mesh), print if is_main else lambda _: None) \
      if manager.all_steps() else None
  if state is None:
    state = init_state(config, mesh, initial_params)
  elif is_main:
    print(f'resumed {workdir} at step {int(jax.device_get(state.step))}')
  if is_main:  # only once the checkpoint fits: a failed resume must not rewrite the workdir's config
    configuration.save_config(workdir, config)
  writer = SummaryWriter(workdir)
  eval_set, skipped = eval_clips(list(eval_utterances), config)
  if is_main and skipped:
    print('eval utterances left out: ' + '; '.join(skipped))
  upsampler = None
  preemption = PreemptionHandler()

  step = int(jax.device_get(state.step))
  data = iter(train_data(step))
  pending = None  # (step, metrics) of the last dispatched step: read one step late, so never blocking
  progress = tqdm(total=t.num_steps, initial=step, disable=not is_main, desc='train',
                  dynamic_ncols=True, mininterval=2.0)
  timer_step, timer = step, time.perf_counter()

  def read(pending_step, pending_metrics):
    values = {k: float(v) for k, v in jax.device_get(pending_metrics).items()}
    check_finite(values, pending_step, workdir)
    return values

  try:
    while step < t.num_steps:
      batch = global_batch({k: np.asarray(v) for k, v in next(data).items()}, mesh)
      state, step_metrics = train_step(state, batch, *extra)
      step += 1
      if pending is not None:
        values = read(*pending)
        if pending[0] % t.log_every == 0:
          now = time.perf_counter()
          values['steps_per_sec'] = (pending[0] - timer_step) / (now - timer)
          values['learning_rate'] = float(lr(pending[0] - 1)) if callable(lr) else lr
          timer_step, timer = pending[0], now
          writer.scalars(pending[0], values)
          progress.set_postfix(loss=f"{values['loss']:.4g}", steps_s=f"{values['steps_per_sec']:.2f}")
      pending = (step, step_metrics)
      progress.update(1)
      stop = preemption.should_stop(step)
      if step % t.checkpoint_every == 0 or step == t.num_steps or stop:
        read(*pending)  # never save a state that a NaN produced
        save_state(manager, state)
      if eval_set and (step % t.eval_every == 0 or step == t.num_steps):
        if is_main:
          upsampler = upsampler or inference.Upsampler(config, None)
          upsampler.params = jax.device_get(state.ema_params)
          run_evals(upsampler, eval_set, step, step == t.eval_every, writer, progress.write, beside)
      if stop:
        if is_main:
          progress.write(f'stopped: saved step {step} in {workdir}; run the same command to resume')
        break
  finally:
    manager.wait_until_finished()
    manager.close()
    writer.flush()
    progress.close()
    preemption.close()
  return state
