"""Full-size (paper config) sampling speed on this machine: the real-time factor of the 8-step sampler.

  python benchmarks/sampling.py [--seconds 1 10] [--repeats 2]

Times the jitted sampler (condition path once, then 8 steps of the rest of the network, one lax.scan)
on one utterance of each length, and reports the real-time factor (seconds of compute per second of
audio), the achieved GFLOP/s and its fraction of this machine's float32 matmul peak.
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np

import common
from configs import nuwave_x2
from nuwave_jax import diffusion
from nuwave_jax import model as model_lib
from nuwave_jax import sampling


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--seconds', type=float, nargs='+', default=[1.0, 10.0])
  parser.add_argument('--repeats', type=int, default=2)
  args = parser.parse_args()

  config = nuwave_x2.get_config()
  module = model_lib.build_model(config)
  params = model_lib.init_params(module, jax.random.key(0))
  schedule = diffusion.make_schedule(config.sample.betas)
  upsample = sampling.make_upsampler(module)
  peak = common.matmul_peak_gflops()
  macs, condition_macs = common.network_macs_per_sample(config)
  steps = len(config.sample.betas)
  print(f'machine: {common.machine()}; float32 matmul peak {peak:.0f} GFLOP/s')
  print(f'paper network, {steps}-step schedule, condition path computed once')
  print('| audio (s) | time (s) | real-time factor | GFLOP/s | of matmul peak |')
  print('|---|---|---|---|---|')
  for seconds in args.seconds:
    samples = int(seconds * config.data.sample_rate_hz)
    cond = np.random.default_rng(0).uniform(-0.5, 0.5, (1, samples)).astype(np.float32)
    keys = jax.random.split(jax.random.key(0), 1)
    run = lambda: upsample(params, cond, schedule, keys, jnp.zeros(1, jnp.int32))
    elapsed = common.timed(run, repeats=args.repeats)
    flops = 2 * samples * (condition_macs + steps * (macs - condition_macs))
    print(f'| {seconds:g} | {elapsed:.2f} | {elapsed / seconds:.2f} | {flops / elapsed / 1e9:.0f} | '
          f'{flops / elapsed / 1e9 / peak:.0%} |', flush=True)


if __name__ == '__main__':
  main()
