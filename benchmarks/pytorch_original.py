"""The original's computation in PyTorch, timed on this machine beside ours (the same-machine baseline).

  pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
  python benchmarks/pytorch_original.py [--batch 1 4] [--microbatches 0] [--seconds 1 4] [--repeats 3]

The network is our own PyTorch transcription of docs/reference.md §1 with the original's module names,
so that its state dict goes through `nuwave_jax.convert`; the script first checks that our JAX network
computes the same output from those weights. It then times what the original code does: a train step
(forward, backward, Adam) on 32768-sample crops, and 8-step sampling that runs the whole network,
condition path included, at every step (float32, eager mode, `--threads` intra-op threads), in turn
with our train step and sampler on the same inputs, and prints one table: both times, our GFLOP/s and
fraction of the machine's matmul peak, the speed-up as the median of the per-turn ratios (robust
to a machine whose speed drifts between runs), and ours against the original's times measured on a
2-core machine of this kind in November 2026 (docs/performance.md).
"""

import argparse
import math
import time

import jax
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

import common
from configs import nuwave_x2
from nuwave_jax import convert
from nuwave_jax import host_memory
from nuwave_jax.nuwave import model as model_lib

# As `nuwave-jax train` does on a CPU; for both frameworks (one process). Sampling takes the same time
# with and without it (docs/performance.md, 2026-12-01).
host_memory.reuse_freed_host_memory()

# The original PyTorch code on a 2-core machine of this kind, November 2026 (seconds).
EARLIER_TRAIN_SECONDS = {1: 3.5, 4: 26}
EARLIER_SAMPLING_SECONDS = {1.0: 15.7, 4.0: 122}


class Embedding(nn.Module):
  def __init__(self, channels: int = 128, dim: int = 512, scale: float = 50000.0):
    super().__init__()
    half = channels // 2
    self.scale = scale
    self.register_buffer('exponents', torch.tensor(10.0 ** (-4.0 * np.arange(half) / half),
                                                   dtype=torch.float32))
    self.projection1 = nn.Linear(channels, dim)
    self.projection2 = nn.Linear(dim, dim)

  def forward(self, level):  # [B] -> [B, dim]
    v = self.scale * level[:, None] * self.exponents[None]
    e = torch.cat([torch.sin(v), torch.cos(v)], dim=-1)
    return F.silu(self.projection2(F.silu(self.projection1(e))))


class ResidualLayer(nn.Module):
  def __init__(self, channels: int, dim: int, dilation: int):
    super().__init__()
    self.diffusion_projection = nn.Linear(dim, channels)
    self.dilated_conv = nn.Conv1d(channels, 2 * channels, 3, padding=dilation, dilation=dilation)
    self.low_projection = nn.Conv1d(channels, 2 * channels, 3, padding=dilation, dilation=dilation)
    self.output_projection = nn.Conv1d(channels, 2 * channels, 1)

  def forward(self, x, c, e):  # x, c: [B, C, T]; e: [B, dim]
    u = self.dilated_conv(x + self.diffusion_projection(e)[:, :, None]) + self.low_projection(c)
    gate, filt = u.chunk(2, dim=1)
    residual, skip = self.output_projection(torch.sigmoid(gate) * torch.tanh(filt)).chunk(2, dim=1)
    return (x + residual) / math.sqrt(2.0), skip


class NuWave(nn.Module):
  def __init__(self, channels: int = 64, layers: int = 30, cycle: int = 10):
    super().__init__()
    self.input_projection = nn.Conv1d(1, channels, 1)
    self.low_projection = nn.Conv1d(1, channels, 1)
    self.diffusion_embedding = Embedding()
    self.residual_layers = nn.ModuleList(
        [ResidualLayer(channels, 512, 2 ** (i % cycle)) for i in range(layers)])
    self.skip_projection = nn.Conv1d(channels, channels, 1)
    self.output_projection = nn.Conv1d(channels, 1, 1)

  def forward(self, noisy, cond, level):  # [B, T], [B, T], [B] -> [B, T]
    x = F.silu(self.input_projection(noisy[:, None]))
    c = F.silu(self.low_projection(cond[:, None]))
    e = self.diffusion_embedding(level)
    skips = 0
    for layer in self.residual_layers:
      x, skip = layer(x, c, e)
      skips = skips + skip
    out = F.silu(self.skip_projection(skips / math.sqrt(len(self.residual_layers))))
    return self.output_projection(out)[:, 0]


def check_same_network(net: NuWave, config) -> float:
  """Max |torch - jax| / max |jax| of the output for the same weights and inputs."""
  params = convert.params_from_torch({k: v.numpy() for k, v in net.state_dict().items()}, config)
  rng = np.random.default_rng(0)
  noisy, cond = rng.normal(size=(2, 2, 8192)).astype(np.float32)
  level = np.array([0.5, 0.999], np.float32)
  ours = np.asarray(model_lib.build_model(config).apply({'params': params}, noisy, cond, level))
  with torch.no_grad():
    theirs = net(torch.from_numpy(noisy), torch.from_numpy(cond), torch.from_numpy(level)).numpy()
  return float(np.abs(ours - theirs).max() / np.abs(ours).max())


def paired_times(runs: dict, repeats: int) -> dict:
  """Wall times of each zero-argument function in `runs`, called in turn `repeats` times after one
  warm-up call each, so that both frameworks see the same moments of a noisy machine."""
  for fn in runs.values():
    fn()
  times = {name: [] for name in runs}
  for _ in range(repeats):
    for name, fn in runs.items():
      start = time.perf_counter()
      fn()
      times[name].append(time.perf_counter() - start)
  return times


def torch_train_step(net: NuWave, batch: int):
  """The original's train step on random 32768-sample crops: forward, backward, clip, Adam."""
  optimizer = torch.optim.Adam(net.parameters(), lr=3e-5, betas=(0.5, 0.999), eps=1e-9)
  audio, cond = torch.randn(batch, 32768), torch.randn(batch, 32768)
  level = torch.rand(batch)

  def step():
    optimizer.zero_grad()
    noise = torch.randn_like(audio)
    noisy = level[:, None] * audio + torch.sqrt(1 - level[:, None] ** 2) * noise
    loss = torch.log((net(noisy, cond, level) - noise).abs().mean(dim=1).clamp_min(1e-20)).mean()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 0.5)
    optimizer.step()

  return step


def torch_sampler(net: NuWave, betas: list[float], samples: int):
  """The original's 8-step sampling: the whole network, condition path included, at every step."""
  betas = torch.tensor(betas, dtype=torch.float64)
  alpha_bars = torch.cumprod(1 - betas, 0)
  cond = torch.randn(1, samples)

  @torch.no_grad()
  def sample():
    y = torch.randn_like(cond)
    for t in reversed(range(len(betas))):
      level = torch.sqrt(alpha_bars[t]).float().reshape(1)
      eps = net(y, cond, level)
      y = (y - betas[t] / torch.sqrt(1 - alpha_bars[t]) * eps) / torch.sqrt(1 - betas[t])
      if t > 0:
        sigma = torch.sqrt(betas[t] * (1 - alpha_bars[t - 1]) / (1 - alpha_bars[t]))
        y = y + sigma * torch.randn_like(y)
    return y

  return sample


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--batch', type=int, nargs='*', default=[1, 4])
  parser.add_argument('--microbatches', type=int, default=0,
                      help='our train.microbatches for each batch (0: one example per microbatch)')
  parser.add_argument('--seconds', type=float, nargs='*', default=[1.0, 4.0])
  parser.add_argument('--threads', type=int, default=2)
  parser.add_argument('--repeats', type=int, default=3)
  args = parser.parse_args()
  torch.set_num_threads(args.threads)
  torch.manual_seed(0)

  config = nuwave_x2.get_config()
  net = NuWave()
  peak = common.matmul_peak_gflops()
  steps = len(config.sample.betas)
  print(f'machine: {common.machine()}; float32 matmul peak {peak:.0f} GFLOP/s '
        f'(JAX); torch {torch.__version__}, {torch.get_num_threads()} threads')
  print(f'same network as ours: max relative difference {check_same_network(net, config):.1e}; '
        f'{sum(p.numel() for p in net.parameters()):,} parameters')
  print(f'each row: ours and PyTorch called in turn, {args.repeats} times each after a warm-up; medians; '
        'the speed-up is the median of the per-turn ratios')
  print('| paper-size network | ours (s) | GFLOP/s | of matmul peak | PyTorch (s) | speed-up | '
        'the original, Nov 2026 (s) | ours against it |')
  print('|---|---|---|---|---|---|---|---|')

  def row(label, ours, theirs, flops, earlier):
    times = paired_times({'ours': ours, 'theirs': theirs}, args.repeats)
    mine, torch_s = np.median(times['ours']), np.median(times['theirs'])
    speedup = np.median(np.asarray(times['theirs']) / np.asarray(times['ours']))
    against_earlier = f'{earlier / mine:.2f}x' if earlier else '-'
    print(f'| {label} | {mine:.2f} | {flops / mine / 1e9:.0f} | {flops / mine / 1e9 / peak:.0%} | '
          f'{torch_s:.2f} | {speedup:.2f}x | {earlier or "-"} | {against_earlier} |', flush=True)

  for batch in args.batch:
    microbatches = args.microbatches or batch
    row(f'train step, batch {batch} x 32768 (ours: train.microbatches={microbatches})',
        common.train_step_runner(config, batch, microbatches=microbatches), torch_train_step(net, batch),
        common.train_step_flops(config, batch, 32768), EARLIER_TRAIN_SECONDS.get(batch))
  for seconds in args.seconds:
    samples = int(seconds * config.data.sample_rate_hz)
    row(f'sampling {seconds:g} s of audio, {steps} steps', common.sampler_runner(config, samples),
        torch_sampler(net, config.sample.betas, samples),
        common.sampling_flops(config, samples),
        EARLIER_SAMPLING_SECONDS.get(seconds))


if __name__ == '__main__':
  jax.config.update('jax_platforms', 'cpu')
  main()
