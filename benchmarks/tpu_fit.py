"""What training and sampling need on a TPU chip, measured on any machine by compiling for that chip.

  scripts/make_tpu_venv.sh                          # once: .venv-tpu, with jax[tpu] of the pinned jax
  .venv-tpu/bin/python benchmarks/tpu_fit.py        # every chip and setting (an hour on 2 cores)
  .venv-tpu/bin/python benchmarks/tpu_fit.py --chips v5e-1 --configs nuwave_x3 --settings colab mb4

XLA's TPU compiler (libtpu) compiles, without a TPU, for a chip's devices
(`jax.experimental.topologies`), and nothing runs. Per chip (nuwave_jax/chips.py), config and setting:
- train: the sharded train step (forward, backward, Adam, EMA) at the setting's global batch;
- sample: the jitted sampler for one call, `config.sample.batch_size` chunks per device sharded over
  the chip's devices as `upsample` shards them (NU-Wave 2 also on --sampler-steps' grids);
with the HBM one device needs (arguments + outputs - donated + temporaries + code) against its HBM,
and per train step or per network evaluation of the sampler the FLOPs and HBM bytes one device
moves, and the time bound max(FLOPs / peak bfloat16 rate, bytes / HBM bandwidth). XLA's cost
analysis counts a loop's body once, so costs come from loop-free compiles: the train step without
microbatches for 2 rows per device, scaled to the step's rows, and one call of the network. Settings:
  paper: the config as it is;  colab: nuwave_jax.chips.train_overrides (what the notebook trains);
  mb4: 4 microbatches;  mb4-unrolled: the same, the accumulation unrolled as on a CPU;
  bf16: bfloat16 convolutions;  b<N>: a global batch of N;  distill: colab's batch and microbatches
  for a first progressive-distillation stage's step (NU-Wave 2: the student's forward and backward,
  two teacher forwards, the teacher's parameters beside);  finetune: the same for the 2-step sampler
  unrolled against the audio (forward and backward through both steps).
A setting the devices cannot split is a row saying why. --json writes the rows as they come (for
tests, and to merge runs: --table A.json B.json prints them as one table).
"""

import argparse
import copy
import json
import os
import re
import sys

os.environ.setdefault('JAX_PLATFORMS', 'cpu')  # the TPU is only compiled for, never initialised
os.environ.setdefault('TPU_ACCELERATOR_TYPE', 'v5litepod-1')  # quiets libtpu's search for a TPU VM
os.environ.setdefault('TPU_WORKER_HOSTNAMES', 'localhost')
os.environ.setdefault('ALLOW_MULTIPLE_LIBTPU_LOAD', '1')  # no chip to share: several compiles may run
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax.sharding import Mesh  # noqa: E402
from jax.sharding import NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402
from jax.sharding import SingleDeviceSharding  # noqa: E402
import numpy as np  # noqa: E402

from nuwave_jax import chips  # noqa: E402
from nuwave_jax import configuration  # noqa: E402
from nuwave_jax import families  # noqa: E402
from nuwave_jax import inference  # noqa: E402
from nuwave_jax import training  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GIB = 2**30
# XLA's refusal: 'the total memory required for HLO temporaries (45.17G) exceeds available HBM (15.75G)'.
OUT_OF_HBM = re.compile(r'memory required for HLO temporaries \(([\d.]+)G\)')
PROBE_ROWS = 2
SETTINGS = ('paper', 'colab', 'mb4', 'mb4-unrolled', 'bf16', 'distill', 'finetune')


def topology_devices(chip: chips.Chip) -> list:
  """The chip's compile-only devices (needs libtpu: jax[tpu])."""
  from jax.experimental import topologies
  extra = {'chip_config_name': chip.chip_config} if chip.chip_config else {}
  try:
    return topologies.get_topology_desc(chip.topology, platform='tpu', chips_per_host_bounds=chip.chips_per_host,
                                        **extra).devices
  except (RuntimeError, ValueError) as error:
    raise SystemExit(f'error: cannot compile for {chip.name} ({error}); this needs jax[tpu]=={jax.__version__} '
                     '(scripts/make_tpu_venv.sh)') from None


def configured(name: str, setting: str, chip: chips.Chip) -> tuple[object, bool | None]:
  """(config with the setting applied, unroll override or None) for the TPU (plain kernels)."""
  config = configuration.load_config_file(os.path.join(REPO, 'configs', f'{name}.py'))
  config.model.kernels = 'plain'  # what 'auto' picks off the CPU
  unroll = None
  if setting in ('colab', 'distill', 'finetune'):  # what fits the chip (the objective: `objective_of`)
    overrides = chips.train_overrides(config, chip.device_kind, chip.devices)
    configuration.apply_overrides(config, [f'{k}={v}' for k, v in overrides.items()])
  elif setting in ('mb4', 'mb4-unrolled'):
    config.train.microbatches, unroll = 4, (True if setting == 'mb4-unrolled' else None)
  elif setting == 'bf16':
    config.model.dtype = 'bfloat16'
  elif setting.startswith('b') and setting[1:].isdigit():
    config.train.batch_size = int(setting[1:])
  elif setting != 'paper':
    raise SystemExit(f'error: unknown setting {setting!r}: use one of {", ".join(SETTINGS)} or b<N>')
  return config, unroll


def with_sharding(tree, sharding):
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), tree)


def hbm_bytes(compiled) -> int:
  m = compiled.memory_analysis()
  return (m.argument_size_in_bytes + m.output_size_in_bytes - m.alias_size_in_bytes + m.temp_size_in_bytes
          + m.generated_code_size_in_bytes)


def cost(compiled) -> tuple[float, float]:
  """(FLOPs, bytes accessed) of one device's program."""
  analysis = compiled.cost_analysis()
  analysis = analysis[0] if isinstance(analysis, list) else analysis
  return float(analysis.get('flops', 0.0)), float(analysis.get('bytes accessed', 0.0))


def objective_of(config, kind: str):
  """(objective, teacher grid or None) of a step: 'train' (the family's own), 'distill' (a first
  distillation stage: the student on half of config's grid, the teacher's parameters as constants) or
  'finetune' (the 2-step sampler unrolled against the audio)."""
  family = families.of(config)
  module = family.build_model(config)
  if kind == 'train':
    return None, None
  if kind == 'distill':
    teacher_grid = family.sampling_grid(config)
    family.with_sampling_grid(config, teacher_grid[::2])
    return family.make_distillation_objective(config, module, teacher_grid), teacher_grid
  family.with_sampling_grid(config, family.sampling_grid(config)[::4])
  return family.make_finetune_objective(config, module, (512, 1024, 2048), 1.0), None


def compile_train_step(config, devices, unroll=None, kind: str = 'train'):
  config = copy.deepcopy(config)
  mesh = training.make_mesh(devices)
  objective, teacher_grid = objective_of(config, kind)
  step = training.make_train_step(config, mesh, unroll_microbatches=unroll, objective=objective,
                                  with_constants=teacher_grid is not None)
  rows, time_samples = config.train.batch_size, config.data.segment_samples
  batch_sharding = NamedSharding(mesh, P(training.DATA_AXIS))
  batch = {'audio': jax.ShapeDtypeStruct((rows, time_samples), jnp.float32, sharding=batch_sharding),
           'condition': jax.ShapeDtypeStruct((rows, time_samples), jnp.float32, sharding=batch_sharding)}
  for name, shape in extra_shapes(config).items():  # NU-Wave 2's band mask
    batch[name] = jax.ShapeDtypeStruct((rows, *shape), jnp.float32, sharding=batch_sharding)
  state = training.abstract_state(config, mesh)
  constants = (state.params,) if teacher_grid is not None else ()  # the teacher's parameters, replicated
  return step.lower(state, batch, *constants).compile()


def extra_shapes(config) -> dict[str, tuple[int, ...]]:
  """The shapes of one row of what the family's condition carries beside the signal (`Condition.extras`)."""
  family = families.of(config)
  rate = family.input_rate_hz(config) or 16000
  return {k: v.shape[1:] for k, v in family.simulate(config, np.zeros((1, 1024), np.float32), rate).extras.items()}


def sampler_compiles(config, devices):
  """(the sampler for one call, its chunk batch sharded over `devices` as `upsample` shards it; one
  network evaluation on one device's share; steps; audio seconds of the call)."""
  family = families.of(config)
  module = family.build_model(config)
  shapes = jax.eval_shape(lambda: family.init_params(module, jax.random.key(0)))
  mesh = Mesh(np.asarray(devices), ('rows',))
  replicated, split = NamedSharding(mesh, P()), NamedSharding(mesh, P('rows'))
  one = SingleDeviceSharding(devices[0])
  upsampler = inference.Upsampler(config, shapes)  # its sampler; its own devices are not used here
  chunk, _ = upsampler.chunk_samples()
  per_device = config.sample.batch_size
  rows = per_device * len(devices)
  extras = extra_shapes(config)
  signal = jax.ShapeDtypeStruct((rows, chunk), jnp.float32, sharding=split)
  keys = with_sharding(jax.eval_shape(lambda: jax.random.split(jax.random.key(0), rows)), split)
  starts = jax.ShapeDtypeStruct((rows,), jnp.int32, sharding=split)
  schedule = with_sharding(jax.eval_shape(lambda: upsampler.sampler.schedule), replicated)
  sharded_extras = {k: jax.ShapeDtypeStruct((rows, *shape), jnp.float32, sharding=split) for k, shape in extras.items()}
  sampler = upsampler.sampler.sample.lower(with_sharding(shapes, replicated), signal, schedule, keys, starts,
                                           **sharded_extras).compile()
  # One network evaluation on one device's rows: XLA counts the scan's body once, so its cost comes
  # from a loop-free compile.
  params, share = with_sharding(shapes, one), jax.ShapeDtypeStruct((per_device, chunk), jnp.float32, sharding=one)
  level = jax.ShapeDtypeStruct((per_device,), jnp.float32, sharding=one)
  variables = lambda p: {'params': p}
  if extras:  # NU-Wave 2: the whole network at each step (its band features are a small part)
    share_extras = [jax.ShapeDtypeStruct((per_device, *shape), jnp.float32, sharding=one) for shape in extras.values()]
    network = jax.jit(lambda p, y, c, b, level: module.apply(variables(p), y, c, b, level)).lower(
        params, share, share, *share_extras, level).compile()
  else:  # NU-Wave: the condition path runs once per call, each step only the rest
    features = with_sharding(jax.eval_shape(
        lambda p, c: module.apply(variables(p), c, method='condition_features'), shapes, share), one)
    network = jax.jit(lambda p, y, f, level: module.apply(variables(p), y, f, level, level, method='denoise')).lower(
        params, share, features, level).compile()
  return sampler, network, upsampler.sampler.steps, rows * chunk / config.data.sample_rate_hz


def bound_seconds(flops: float, bytes_accessed: float, chip: chips.Chip) -> float:
  return max(flops / (chip.peak_tflops * 1e12), bytes_accessed / (chip.hbm_gbps * 1e9))


def measure_train(chip: chips.Chip, name: str, setting: str, devices, costs: dict, done: list) -> dict:
  """The train step's row for one chip, config and setting (a setting that comes to a batch,
  microbatches and dtype already in `done` is that row again)."""
  config, unroll = configured(name, setting, chip)
  kind = setting if setting in ('distill', 'finetune') else 'train'
  for row in done:
    if (row['what'], row['chip'], row['config'], row['batch'], row['microbatches'], row['dtype'],
        row.get('unrolled'), row.get('objective', 'train')) == ('train', chip.name, name, config.train.batch_size,
                                                               config.train.microbatches, config.model.dtype, unroll,
                                                               kind):
      return dict(row, setting=setting)
  row = {'chip': chip.name, 'config': name, 'setting': setting, 'what': 'train', 'hbm_chip_gib': chip.hbm_gib,
         'batch': config.train.batch_size, 'microbatches': config.train.microbatches, 'dtype': config.model.dtype,
         'unrolled': unroll, 'objective': kind}
  try:
    training.check_batch_fits(config.train.batch_size, config.train.microbatches, len(devices))
  except ValueError as error:
    return dict(row, refused=str(error))
  try:
    compiled = compile_train_step(config, devices, unroll, kind)
  except jax.errors.JaxRuntimeError as error:
    need = OUT_OF_HBM.search(str(error))
    if not need:
      raise
    # XLA stops at the first allocation that cannot fit: its temporaries alone exceed the HBM.
    return dict(row, hbm_gib=float(need.group(1)), over=True)
  flops, bytes_accessed = step_cost(config, devices, costs, kind)
  return dict(row, hbm_gib=hbm_bytes(compiled) / GIB, flops=flops, bytes=bytes_accessed,
              bound_s=bound_seconds(flops, bytes_accessed, chip))


def measure_sampler(chip: chips.Chip, name: str, devices, steps: int | None = None) -> dict:
  """The sampler's row (the config's float32 network, its chunk batch sharded over the chip's devices
  as `upsample` shards it; steps: a uniform grid of this many, NU-Wave 2's --steps, else the config's):
  HBM per device, one evaluation's FLOPs and bytes on one device, the time bound of a call and the
  real-time factor that gives (audio-hours per hour of the chip)."""
  config, _ = configured(name, 'paper', chip)
  if steps:
    families.of(config).with_sampling_grid(config, config.diffusion.logsnr_min + np.arange(steps) * (
        config.diffusion.logsnr_max - config.diffusion.logsnr_min) / steps)
  sampler, network, steps, audio_s = sampler_compiles(config, devices)
  flops, bytes_accessed = cost(network)
  seconds = steps * bound_seconds(flops, bytes_accessed, chip)
  return {'chip': chip.name, 'config': name, 'setting': f'{steps} steps', 'what': 'sample',
          'hbm_chip_gib': chip.hbm_gib, 'batch': config.sample.batch_size, 'devices': len(devices),
          'microbatches': None, 'dtype': config.model.dtype, 'hbm_gib': hbm_bytes(sampler) / GIB, 'flops': flops,
          'bytes': bytes_accessed, 'bound_s': bound_seconds(flops, bytes_accessed, chip), 'steps': steps,
          'audio_s': audio_s, 'realtime': audio_s / seconds}


def step_cost(config, devices, costs: dict, kind: str = 'train') -> tuple[float, float]:
  """(FLOPs, bytes) of one device's train step, from a loop-free compile (no microbatches) of
  PROBE_ROWS rows per device, scaled to the step's rows per device: activations are linear in the
  rows, and the optimizer's share (a few reads and writes of ~1 M parameters) is under 0.1% of
  either count. A lower bound: a step near its HBM limit also recomputes activations it cannot keep."""
  key = (config.model.name, config.data.segment_samples, config.model.dtype, kind)
  if key not in costs:
    probe = copy.deepcopy(config)
    probe.train.batch_size, probe.train.microbatches = PROBE_ROWS * len(devices), 1
    costs[key] = cost(compile_train_step(probe, devices, kind=kind))
  scale = config.train.batch_size / len(devices) / PROBE_ROWS
  return costs[key][0] * scale, costs[key][1] * scale


def table(rows: list[dict]) -> str:
  lines = ['| chip | config | setting | batch x microbatches, dtype | | HBM per device (GiB) | GFLOP | GB moved '
           '| time bound |',
           '|---|---|---|---|---|---|---|---|---|']
  for r in rows:
    shape = f"{r['batch']} x {r['microbatches']}, {r['dtype']}" if r['what'] == 'train' else \
        f"{r['batch']} chunk{'s' if r['batch'] > 1 else ''} per device, {r['dtype']}"
    if 'refused' in r:
      nearest = re.search(r'the nearest that fit are (\d+(?: or \d+)?)', r['refused'])
      lines.append(f"| {r['chip']} | {r['config']} | {r['setting']} | {shape} | train step | refused: the devices "
                   f"cannot split it{f' (nearest: {nearest.group(1)})' if nearest else ''} | | | |")
      continue
    if r.get('over'):
      lines.append(f"| {r['chip']} | {r['config']} | {r['setting']} | {shape} | train step | "
                   f"over {r['hbm_gib']:.1f} of {r['hbm_chip_gib']:g}: does not fit (XLA refuses) | | | |")
      continue
    fits = 'fits' if r['hbm_gib'] <= 0.9 * r['hbm_chip_gib'] else (
        'tight' if r['hbm_gib'] <= r['hbm_chip_gib'] else 'does not fit')
    if r['what'] == 'train':
      extra = f"{r['bound_s'] * 1e3:.0f} ms per step"
      what = 'train step'
    else:
      extra = (f"{r['bound_s'] * 1e3:.1f} ms per evaluation; at most {r['realtime']:.0f}x real time "
               f"({r['steps']} steps, {r.get('devices', 1)} device(s))")
      what = 'sampler'
    lines.append(f"| {r['chip']} | {r['config']} | {r['setting']} | {shape} | {what} | "
                 f"{r['hbm_gib']:.1f} of {r['hbm_chip_gib']:g}: {fits} | {r['flops'] / 1e9:,.0f} | "
                 f"{r['bytes'] / 1e9:.1f} | {extra} |")
  return '\n'.join(lines)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--chips', nargs='+', default=['v5e-1', 'v6e-1', 'v5e-8', 'v4-8'], choices=sorted(chips.CHIPS))
  parser.add_argument('--configs', nargs='+', default=['nuwave_x3', 'nuwave2'], help='names in configs/')
  parser.add_argument('--settings', nargs='*', default=['paper', 'colab', 'mb4', 'bf16'])
  parser.add_argument('--no-sampler', dest='sampler', action='store_false', help='only the train step')
  parser.add_argument('--sampler-steps', type=int, nargs='*', default=[],
                      help="NU-Wave 2: also the sampler on a uniform grid of these many steps (the config's: always)")
  parser.add_argument('--json', help='also write the rows to this file')
  parser.add_argument('--table', nargs='+', metavar='JSON', help='only print the table of rows saved by --json')
  args = parser.parse_args(argv)
  if args.table:
    print(table([r for path in args.table for r in json.load(open(path))]))
    return
  print(f'JAX {jax.__version__}, compiling for TPU on {os.cpu_count()} CPU cores', flush=True)
  rows = []
  for chip_name in args.chips:
    chip = chips.CHIPS[chip_name]
    devices = topology_devices(chip)
    costs = {}
    for name in args.configs:
      jobs = [lambda s=s: measure_train(chip, name, s, devices, costs, rows) for s in args.settings]
      if args.sampler:  # `upsample` shards its chunk batches over every device
        jobs.append(lambda: measure_sampler(chip, name, devices))
        if name.startswith('nuwave2'):
          jobs += [lambda n=n: measure_sampler(chip, name, devices, n) for n in args.sampler_steps]
      for job in jobs:
        rows.append(job())
        r = rows[-1]
        state = r.get('refused') or f"{r['hbm_gib']:.2f} GiB{' (over)' if r.get('over') else ''}"
        print(f"{chip_name} {name} {r['setting']} {r['what']}: {state}", file=sys.stderr, flush=True)
        if args.json:  # after every row: a long run cut short keeps what it measured
          with open(args.json, 'w') as f:
            json.dump(rows, f, indent=1)
  print(table(rows))


if __name__ == '__main__':
  main()
