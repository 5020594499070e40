"""The original's computation in PyTorch, timed on this machine beside ours (the same-machine baseline).

  pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
  python benchmarks/pytorch_original.py [--batch 1 4] [--seconds 1 4] [--threads 2]

The network is our own PyTorch transcription of REFERENCE section 1 with the original's module names,
so that its state dict goes through `nuwave_jax.convert`; the script first checks that our JAX network
computes the same output from those weights. It then times what the original code does: a train step
(forward, backward, Adam) on 32768-sample crops, and 8-step sampling that runs the whole network,
condition path included, at every step. float32, eager mode, `--threads` intra-op threads.
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
from nuwave_jax import model as model_lib


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


def timed(fn, repeats: int) -> float:
  fn()  # warm-up
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return sorted(times)[len(times) // 2]


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--batch', type=int, nargs='+', default=[1, 4])
  parser.add_argument('--seconds', type=float, nargs='+', default=[1.0, 4.0])
  parser.add_argument('--threads', type=int, default=2)
  parser.add_argument('--repeats', type=int, default=3)
  args = parser.parse_args()
  torch.set_num_threads(args.threads)
  torch.manual_seed(0)

  config = nuwave_x2.get_config()
  net = NuWave()
  print(f'machine: {common.machine()}; float32 matmul peak {common.matmul_peak_gflops():.0f} GFLOP/s '
        f'(JAX); torch {torch.__version__}, {torch.get_num_threads()} threads')
  print(f'same network as ours: max relative difference {check_same_network(net, config):.1e}; '
        f'{sum(p.numel() for p in net.parameters()):,} parameters')

  optimizer = torch.optim.Adam(net.parameters(), lr=3e-5, betas=(0.5, 0.999), eps=1e-9)
  print('| PyTorch train step, 32768 samples | step (s) | s per example |\n|---|---|---|')
  for batch in args.batch:
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

    seconds = timed(step, args.repeats)
    print(f'| batch {batch} | {seconds:.2f} | {seconds / batch:.2f} |', flush=True)

  betas = torch.tensor(config.sample.betas, dtype=torch.float64)
  alpha_bars = torch.cumprod(1 - betas, 0)
  print('| PyTorch sampling, 8 steps | time (s) | real-time factor |\n|---|---|---|')
  for seconds in args.seconds:
    cond = torch.randn(1, int(seconds * 48000))

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

    elapsed = timed(sample, max(1, args.repeats - 1))
    print(f'| {seconds:g} s of audio | {elapsed:.2f} | {elapsed / seconds:.2f} |', flush=True)


if __name__ == '__main__':
  jax.config.update('jax_platforms', 'cpu')
  main()
