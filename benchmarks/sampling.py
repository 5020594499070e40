"""Full-size (paper config) sampling speed on this machine: the real-time factor of the 8-step sampler.

  python benchmarks/sampling.py [--seconds 1 10] [--repeats 2] [--kernels auto]

Times the jitted sampler (condition path once, then 8 steps of the rest of the network, one lax.scan)
on one utterance of each length, and reports the real-time factor (seconds of compute per second of
audio), the achieved GFLOP/s and its fraction of this machine's float32 matmul peak.
"""

import argparse

import common
from configs import nuwave_x2
from nuwave_jax.nuwave import model as model_lib


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--seconds', type=float, nargs='+', default=[1.0, 10.0])
  parser.add_argument('--repeats', type=int, default=2)
  parser.add_argument('--kernels', default='auto', help="config.model.kernels: 'auto', 'plain' or 'cpu'")
  args = parser.parse_args()

  config = nuwave_x2.get_config()
  config.model.kernels = args.kernels
  peak = common.matmul_peak_gflops()
  steps = len(config.sample.betas)
  print(f'machine: {common.machine()}; float32 matmul peak {peak:.0f} GFLOP/s')
  print(f'paper network, {steps}-step schedule, condition path computed once, '
        f'{model_lib.resolve_kernels(args.kernels)} kernels')
  print('| audio (s) | time (s) | real-time factor | GFLOP/s | of matmul peak |')
  print('|---|---|---|---|---|')
  for seconds in args.seconds:
    samples = int(seconds * config.data.sample_rate_hz)
    elapsed = common.timed(common.sampler_runner(config, samples), repeats=args.repeats)
    flops = common.sampling_flops(config, samples)
    print(f'| {seconds:g} | {elapsed:.2f} | {elapsed / seconds:.2f} | {flops / elapsed / 1e9:.0f} | '
          f'{flops / elapsed / 1e9 / peak:.0%} |', flush=True)


if __name__ == '__main__':
  main()
