"""Shared pieces of the benchmarks: the machine's matmul peak, FLOP counts, a timer, the eval clips."""

import copy
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402

# scripts/fetch_speech.sh data/speech's eval split, the diagnostics' default real speech.
EVAL_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'data', 'speech', 'eval')


def cpu_model() -> str:
  """The CPU's model name and widest float vector ISA, from /proc/cpuinfo ('' where there is none):
  the same kind of machine comes as different CPUs, and the speed-ups against PyTorch differ by CPU."""
  try:
    with open('/proc/cpuinfo') as f:
      info = f.read()
  except OSError:
    return ''
  fields = dict(line.split(':', 1) for line in info.splitlines() if ':' in line)
  fields = {key.strip(): value.strip() for key, value in fields.items()}
  flags = set(fields.get('flags', '').split())
  isa = next((name for name in ('avx512f', 'avx2', 'avx') if name in flags), '')
  return ', '.join(part for part in (fields.get('model name', ''), isa.upper()) if part)


def machine() -> str:
  device = jax.devices()[0]
  cpu = cpu_model()
  return (f'{platform.processor() or platform.machine()}{f" ({cpu})" if cpu else ""}, {os.cpu_count()} cores, '
          f'JAX {jax.__version__} on {device.platform} ({device.device_kind}) x {jax.device_count()}')


def timed(fn, *args, repeats: int = 3, warmup: int = 1) -> float:
  """Median wall time of fn(*args) in seconds, after `warmup` calls (compilation included there)."""
  for _ in range(warmup):
    jax.block_until_ready(fn(*args))
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - start)
  return sorted(times)[len(times) // 2]


def matmul_peak_gflops(n: int = 2048, repeats: int = 20) -> float:
  """float32 n x n matmul throughput in GFLOP/s, the best of `repeats` calls: the machine's practical
  peak, measured now (the best, not the median, since a shared machine's slow moments are not its peak)."""
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  matmul = jax.jit(lambda x: x @ x)
  jax.block_until_ready(matmul(a))
  best = float('inf')
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(matmul(a))
    best = min(best, time.perf_counter() - start)
  return 2 * n**3 / best / 1e9


def network_macs_per_sample(config) -> tuple[int, int]:
  """(all, condition path) multiply-adds per output sample of one network evaluation."""
  m = config.model
  c = m.residual_channels
  per_layer = 2 * c * 2 * c * m.kernel_size + c * 2 * c  # dilated conv, condition conv, 1x1 output
  condition = c + m.residual_layers * c * 2 * c * m.kernel_size
  total = 2 * c + m.residual_layers * per_layer + c * c + c
  return total, condition


def train_step_flops(config, batch: int, samples: int) -> float:
  """FLOPs of one train step: 2 x the forward's multiply-adds, x3 for the backward."""
  return 3 * 2 * network_macs_per_sample(config)[0] * batch * samples


def sampling_flops(config, samples: int) -> float:
  """FLOPs of our sampler on one utterance: the condition path once, the rest at every step."""
  macs, condition_macs = network_macs_per_sample(config)
  return 2 * samples * (condition_macs + len(config.sample.betas) * (macs - condition_macs))


def random_params(config, seed: int = 0):
  """Parameters of `config`'s network, freshly initialised (speed and memory do not depend on them)."""
  from nuwave_jax import families
  family = families.of(config)
  return family.init_params(family.build_model(config), jax.random.key(seed))


def input_rate_hz(config) -> int:
  """The input rate the benchmarks use: the one rate a checkpoint takes (NU-Wave x2's 24 kHz), or
  16 kHz for one that takes any rate (NU-Wave 2)."""
  from nuwave_jax import families
  return families.of(config).input_rate_hz(config) or 16000


def train_step_runner(config, batch: int, samples: int = 32768, microbatches: int = 1):
  """A zero-argument function that runs one of our train steps (forward, backward, clip, Adam, EMA) on
  one device, on a fixed random batch of `batch` x `samples` and its condition (`input_rate_hz`), and
  waits for it."""
  from nuwave_jax import families
  from nuwave_jax import training
  config = copy.deepcopy(config)
  config.train.batch_size, config.train.microbatches = batch, microbatches
  mesh = training.make_mesh(jax.devices()[:1])
  audio = np.random.default_rng(0).uniform(-0.5, 0.5, (batch, samples)).astype(np.float32)
  condition = families.of(config).simulate(config, audio, input_rate_hz(config))
  data = training.global_batch({'audio': audio, 'condition': condition.signal, **condition.extras}, mesh)
  step = training.make_train_step(config, mesh)
  holder = {'state': training.init_state(config, mesh)}

  def run():
    holder['state'], metrics = step(holder['state'], data)
    jax.block_until_ready(metrics)

  return run


def sampler_runner(config, samples: int, rate_hz: int | None = None):
  """A zero-argument function that upsamples one random utterance of `samples` samples with the
  jitted sampler `nuwave-jax upsample` uses (its family's `Sampler`: NU-Wave's condition path once,
  then the schedule's steps as one lax.scan; NU-Wave 2's BSFT once for the band of `rate_hz`, default
  `input_rate_hz`, then its DDIM steps) and waits for it."""
  from nuwave_jax import inference
  params = random_params(config)
  upsampler = inference.Upsampler(config, params)
  cond = np.random.default_rng(0).uniform(-0.5, 0.5, (1, samples)).astype(np.float32)
  extras = upsampler.simulate(cond, rate_hz or input_rate_hz(config)).extras  # the band mask, for NU-Wave 2
  keys = jax.random.split(jax.random.key(0), 1)
  sampler = upsampler.sampler
  return lambda: jax.block_until_ready(sampler.sample(params, cond, sampler.schedule, keys,
                                                      jnp.zeros(1, jnp.int32), **extras))


def sharded_upsample_runner(config, calls: int, chunks_per_device: int = 1):
  """(seconds of audio, a zero-argument function that upsamples it) with the sampler `upsample` runs:
  chunk batches sharded over every local device, `chunks_per_device` chunks each per call, `calls`
  calls' worth of random signals of one chunk each (whole noise blocks, no overlap to join)."""
  import copy as copy_lib

  from nuwave_jax import inference
  config = copy_lib.deepcopy(config)
  config.sample.batch_size = chunks_per_device
  upsampler = inference.Upsampler(config, random_params(config))
  chunk, _ = upsampler.chunk_samples()
  count = calls * chunks_per_device * len(upsampler.devices)
  audio = np.random.default_rng(0).uniform(-0.5, 0.5, (count, chunk)).astype(np.float32)
  conditions = [upsampler.simulate(row[None], input_rate_hz(config)) for row in audio]
  return count * chunk / config.data.sample_rate_hz, lambda: upsampler.sample(conditions, list(range(count)))


def paper_checkpoint(family: str, directory) -> ml_collections.ConfigDict:
  """Saves the paper-size network of `family` ('nuwave': configs/nuwave_x2.py, 'nuwave2':
  configs/nuwave2.py) with random weights, as `convert` writes a checkpoint (speed and memory do not
  depend on the weights), and returns its config."""
  from configs import nuwave2
  from configs import nuwave_x2
  from nuwave_jax import checkpoints
  config = {'nuwave': nuwave_x2, 'nuwave2': nuwave2}[family].get_config()
  checkpoints.save_params(directory, config, {'params': random_params(config)})
  return config


def require_family(upsampler, name: str, checkpoint, elsewhere: str) -> None:
  """Stops a diagnostic written for one family's internals when given a checkpoint of another."""
  if upsampler.family.name != name:
    raise SystemExit(f'{checkpoint}: a {upsampler.family.title} checkpoint ({elsewhere} reads those)')
