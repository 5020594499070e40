"""One command for a GPU or TPU machine: is the network right there, and how fast is it?

  python benchmarks/accelerator.py                          # paper network, about 5 minutes on a GPU
  python benchmarks/accelerator.py --config tiny --batch 2 --samples 2048 --seconds 0.1 0.2  # a smoke test

1. Equality on the device, at full float32 precision (a GPU's default TF32 convolutions differ from
   float32 by ~1e-3): the plain network and its CPU form (`model.kernels` 'plain' and 'cpu') in
   output and gradients, and the plain network against the float64 numpy transcription of the paper
   (tests/reference_numpy.py) through the converter; bfloat16 against float32.
2. Train step time (forward, backward, clip, Adam, EMA) for float32 and bfloat16 convolutions, plain
   and CPU kernels, with the achieved TFLOP/s.
3. Sampling: the real-time factor of the 8-step sampler for each --seconds, with the kernels 'auto'
   picks on this platform; then as `upsample` samples a corpus, chunk batches sharded over every
   device (--chunks-per-device each per call), in audio-seconds per second.
Prints one table headed by the device's name; exits 1 if an equality check fails. It needs JAX, Flax,
Optax, orbax-checkpoint, ml_collections, soundfile and soxr, not TensorFlow (docs/performance.md says
how to carry them to a machine without a package registry).
"""

import argparse
import copy
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import common  # puts the repository's root on the path, for the imports below
from configs import nuwave_x2
from configs import tiny
from nuwave_jax import convert
from nuwave_jax.nuwave import model as model_lib
from tests import reference_numpy

CONFIGS = {'paper': nuwave_x2.get_config, 'tiny': tiny.get_config}


def relative_error(a, b) -> float:
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def with_model(config, **fields):
  config = copy.deepcopy(config)
  for key, value in fields.items():
    config.model[key] = value
  return config


def equality_checks(config, time_samples: int) -> list[tuple[str, float, float]]:
  """(check, relative error, bound) rows, computed on the default device."""
  m = config.model
  rng = np.random.default_rng(0)
  state_dict = reference_numpy.random_state_dict(rng, m.residual_channels, m.residual_layers,
                                                 m.embedding_channels, m.embedding_dim)
  params = convert.params_from_torch(state_dict, config)
  noisy, cond, target = rng.normal(size=(3, 2, time_samples)).astype(np.float32)
  level = np.array([0.2983, 1.0 - 5e-7], np.float32)
  std = np.sqrt(1 - level.astype(np.float64)**2).astype(np.float32)
  rows = []
  expected = reference_numpy.forward(state_dict, noisy, cond, level, m.residual_layers, m.dilation_cycle)
  outputs, grads = {}, {}
  for kernels in ('plain', 'cpu'):
    module = model_lib.build_model(with_model(config, kernels=kernels))

    def loss(p, module=module):
      out = module.apply({'params': p}, noisy, cond, level, std)
      return jnp.mean((out - target)**2), out

    (_, outputs[kernels]), grads[kernels] = jax.jit(jax.value_and_grad(loss, has_aux=True))(params)
  rows.append(('plain network vs float64 numpy reference (output)',
               relative_error(outputs['plain'], expected), 1e-5))
  rows.append(('cpu kernels vs plain (output)', relative_error(outputs['cpu'], outputs['plain']), 1e-5))
  worst = max(relative_error(a, b)
              for a, b in zip(jax.tree.leaves(grads['cpu']), jax.tree.leaves(grads['plain'])))
  rows.append(('cpu kernels vs plain (gradient, worst parameter)', worst, 1e-4))
  bf16 = model_lib.build_model(with_model(config, dtype='bfloat16', kernels='plain'))
  out = jax.jit(lambda p: bf16.apply({'params': p}, noisy, cond, level, std))(params)
  rows.append(('bfloat16 vs float32 convolutions (output)', relative_error(out, outputs['plain']), 0.05))
  return rows


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--config', choices=sorted(CONFIGS), default='paper')
  parser.add_argument('--batch', type=int, default=None, help='train batch (default: 1 on a CPU, else 8)')
  parser.add_argument('--samples', type=int, default=32768, help='samples per training example')
  parser.add_argument('--seconds', type=float, nargs='+', default=[1.0, 10.0], help='audio to sample')
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--chunks-per-device', type=int, default=1, help='the sharded sampler\'s sample.batch_size')
  args = parser.parse_args()
  start = time.perf_counter()
  device = jax.devices()[0]
  config = CONFIGS[args.config]()
  batch = args.batch or (1 if device.platform == 'cpu' else 8)
  print(f'device: {device.device_kind} ({device.platform}) x {jax.device_count()}, JAX {jax.__version__}; '
        f'{args.config} network; {common.machine()}', flush=True)

  print('\n| equality check | relative error | bound | |\n|---|---|---|---|')
  failed = False
  with jax.default_matmul_precision('highest'):
    checks = equality_checks(config, 4096 if args.config == 'paper' else 700)
  for name, error, bound in checks:
    failed |= not error <= bound
    print(f'| {name} | {error:.1e} | {bound:g} | {"ok" if error <= bound else "FAILED"} |', flush=True)

  print(f'\n| train step, batch {batch} x {args.samples} | step (s) | TFLOP/s |\n|---|---|---|')
  for dtype in ('float32', 'bfloat16'):
    for kernels in ('plain', 'cpu'):
      run = common.train_step_runner(with_model(config, dtype=dtype, kernels=kernels), batch, args.samples)
      seconds = common.timed(run, repeats=args.repeats)
      tflops = common.train_step_flops(config, batch, args.samples) / seconds / 1e12
      print(f'| {dtype}, {kernels} kernels | {seconds:.3f} | {tflops:.2f} |', flush=True)

  kernels = model_lib.resolve_kernels('auto')
  print(f'\n| sampling, {len(config.sample.betas)} steps, {kernels} kernels | time (s) | real-time factor |'
        '\n|---|---|---|')
  for seconds in args.seconds:
    samples = int(seconds * config.data.sample_rate_hz)
    elapsed = common.timed(common.sampler_runner(config, samples), repeats=args.repeats)
    print(f'| {seconds:g} s of audio | {elapsed:.3f} | {elapsed / seconds:.4f} |', flush=True)
  print(f'\n| sampling sharded over {jax.local_device_count()} device(s), {len(config.sample.betas)} steps, '
        f'{args.chunks_per_device} chunk(s) of {config.sample.chunk_seconds:g} s each per call | time (s) | '
        'audio s per s |\n|---|---|---|')
  for files in (1, 4):
    audio_seconds, run = common.sharded_upsample_runner(config, files, args.chunks_per_device)
    elapsed = common.timed(run, repeats=args.repeats)
    print(f'| {files} call(s) | {elapsed:.3f} | {audio_seconds / elapsed:.2f} |', flush=True)
  print(f'\ntotal {time.perf_counter() - start:.0f} s')
  sys.exit(1 if failed else 0)


if __name__ == '__main__':
  main()
