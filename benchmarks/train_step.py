"""Full-size (paper config) train step time on this machine.

  python benchmarks/train_step.py [--batch 1 4] [--samples 32768] [--repeats 3] [--microbatches 1 4]
      [--dtype float32] [--kernels auto]

Prints, per batch size, the step time (forward + backward + Adam + EMA), audio-seconds trained per
second, the achieved GFLOP/s (3x the forward multiply-adds x 2) and that as a fraction of this
machine's float32 matmul peak measured in the same run.
"""

import argparse

import common
from configs import nuwave_x2
from nuwave_jax import host_memory
from nuwave_jax.nuwave import model as model_lib

host_memory.reuse_freed_host_memory()  # as `nuwave-jax train` does on a CPU


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--batch', type=int, nargs='+', default=[1, 4])
  parser.add_argument('--samples', type=int, default=32768)
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--dtype', default='float32')
  parser.add_argument('--kernels', default='auto', help="config.model.kernels: 'auto', 'plain' or 'cpu'")
  parser.add_argument('--microbatches', type=int, nargs='+', default=[1],
                      help='train.microbatches values to time (each must divide the batch)')
  args = parser.parse_args()

  config = nuwave_x2.get_config()
  config.model.dtype, config.model.kernels = args.dtype, args.kernels
  peak = common.matmul_peak_gflops()
  print(f'machine: {common.machine()}; float32 matmul peak {peak:.0f} GFLOP/s')
  print(f'paper network, {args.samples} samples per example, {args.dtype} convolutions, '
        f'{model_lib.resolve_kernels(args.kernels)} kernels')
  print('| batch | microbatches | step (s) | s per example | audio s / s | GFLOP/s | of matmul peak |')
  print('|---|---|---|---|---|---|---|')
  for batch, microbatches in [(b, m) for b in args.batch for m in args.microbatches if b % m == 0]:
    run = common.train_step_runner(config, batch, args.samples, microbatches)
    seconds = common.timed(run, repeats=args.repeats)
    gflops = common.train_step_flops(config, batch, args.samples) / seconds / 1e9
    audio_seconds = batch * args.samples / config.data.sample_rate_hz
    print(f'| {batch} | {microbatches} | {seconds:.2f} | {seconds / batch:.2f} | '
          f'{audio_seconds / seconds:.3f} | {gflops:.0f} | {gflops / peak:.0%} |', flush=True)


if __name__ == '__main__':
  main()
