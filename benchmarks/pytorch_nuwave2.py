"""The original NU-Wave 2 network in PyTorch, timed on this machine beside ours.

  python benchmarks/pytorch_nuwave2.py [--seconds 1 10] [--repeats 2] [--threads 2]

The network is our own PyTorch transcription of docs/reference.md §8 with the original's module names
(so its state dict goes through `nuwave_jax.convert`), computed as the original computes it; the one
change is that torch.stft/istft take and return complex spectra (torch 2.13 refuses the real [..., 2]
form the original passes to istft), which are the same numbers. The script first checks that our
JAX network computes the same output from those weights, then times the original's 8-step DDIM
sampling (the whole network at every step, BSFT included) and ours (`inference.Upsampler`, as
`upsample` runs it), called in turn on the same inputs, and prints one table: both times, our GFLOP/s
and fraction of the machine's matmul peak, and the speed-up as the median of the per-turn ratios.
"""

import argparse
import math
import time

import jax
import jax.numpy as jnp
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

import common  # puts the repository's root on the path, for the imports below
from configs import nuwave2 as nuwave2_config
from nuwave_jax import convert
from nuwave_jax import inference
from nuwave_jax.nuwave2 import conditioning
from nuwave_jax.nuwave2 import model as model_lib


class BSFT(nn.Module):
  def __init__(self, hidden, out_channels):
    super().__init__()
    self.mlp_shared = nn.Conv1d(2, hidden, 3, padding=1)
    self.mlp_gamma = nn.Conv1d(hidden, out_channels, 3, padding=1)
    self.mlp_beta = nn.Conv1d(hidden, out_channels, 3, padding=1)

  def forward(self, x, band):  # x [B, 2C, bins, frames], band one-hot [B, 2, bins]
    hidden = F.silu(self.mlp_shared(band))
    return x * (1 + self.mlp_gamma(hidden)[..., None]) + self.mlp_beta(hidden)[..., None]


class FourierUnit(nn.Module):
  def __init__(self, channels, bsft_channels):
    super().__init__()
    self.register_buffer('hann_window', torch.hann_window(1024))
    self.conv_layer = nn.Conv2d(2 * channels, 2 * channels, 1, bias=False)
    self.bsft = BSFT(bsft_channels, 2 * channels)

  def forward(self, x, band):  # x [B, C, T]
    batch, _, length = x.shape
    spec = torch.stft(x.reshape(-1, length), 1024, 256, 1024, self.hann_window, center=True, normalized=True,
                      onesided=True, return_complex=True)
    parts = torch.view_as_real(spec).permute(0, 3, 1, 2).reshape(batch, -1, *spec.shape[1:])
    parts = self.conv_layer(F.relu(self.bsft(parts, band)))
    parts = parts.reshape(-1, 2, *spec.shape[1:]).permute(0, 2, 3, 1).contiguous()
    out = torch.istft(torch.view_as_complex(parts), 1024, 256, 1024, self.hann_window, center=True, normalized=True,
                      onesided=True)
    return out.reshape(batch, -1, length)


class SpectralTransform(nn.Module):
  def __init__(self, in_channels, out_channels, bsft_channels):
    super().__init__()
    self.conv1 = nn.Conv1d(in_channels, out_channels // 2, 1, bias=False)
    self.fu = FourierUnit(out_channels // 2, bsft_channels)
    self.conv2 = nn.Conv1d(out_channels // 2, out_channels, 1, bias=False)

  def forward(self, x, band):
    x = F.silu(self.conv1(x))
    return self.conv2(x + self.fu(x, band))


class FFC(nn.Module):
  def __init__(self, channels, bsft_channels):
    super().__init__()
    half = channels // 2
    self.convl2l = nn.Conv1d(half, channels, 3, padding=1, bias=False)
    self.convl2g = nn.Conv1d(half, channels, 3, padding=1, bias=False)
    self.convg2l = nn.Conv1d(half, channels, 3, padding=1, bias=False)
    self.convg2g = SpectralTransform(half, channels, bsft_channels)

  def forward(self, x_l, x_g, band):
    return self.convl2l(x_l) + self.convg2l(x_g), self.convl2g(x_l) + self.convg2g(x_g, band)


class ResidualBlock(nn.Module):
  def __init__(self, channels, dim, bsft_channels):
    super().__init__()
    self.ffc1 = FFC(channels, bsft_channels)
    self.diffusion_projection = nn.Linear(dim, channels)
    self.output_projection = nn.Conv1d(channels, 2 * channels, 1)

  def forward(self, x, band, e):
    y = x + self.diffusion_projection(e)[..., None]
    half = x.shape[1] // 2
    y_l, y_g = self.ffc1(y[:, :half], y[:, half:], band)
    gate = torch.cat([y_l[:, :y_l.shape[1] // 2], y_g[:, :y_g.shape[1] // 2]], dim=1)
    filt = torch.cat([y_l[:, y_l.shape[1] // 2:], y_g[:, y_g.shape[1] // 2:]], dim=1)
    residual, skip = self.output_projection(torch.sigmoid(gate) * torch.tanh(filt)).chunk(2, dim=1)
    return (x + residual) / math.sqrt(2.0), skip


class Embedding(nn.Module):
  def __init__(self, channels=128, dim=512, scale=50000.0):
    super().__init__()
    self.channels, self.scale = channels, scale
    self.projection1 = nn.Linear(channels, dim)
    self.projection2 = nn.Linear(dim, dim)

  def forward(self, level):
    half = self.channels // 2
    frequencies = torch.exp(torch.arange(half, dtype=torch.float32) * -(math.log(10000) / (half - 1)))
    v = self.scale * level[:, None] * frequencies[None]
    return F.silu(self.projection2(F.silu(self.projection1(torch.cat([v.sin(), v.cos()], dim=-1)))))


class NuWave2(nn.Module):
  def __init__(self, channels=64, layers=15, bsft_channels=64):
    super().__init__()
    self.input_projection = nn.Conv1d(2, channels, 1)
    self.diffusion_embedding = Embedding()
    self.residual_layers = nn.ModuleList([ResidualBlock(channels, 512, bsft_channels) for _ in range(layers)])
    self.skip_projection = nn.Conv1d(channels, channels, 1)
    self.output_projection = nn.Conv1d(channels, 1, 1)

  def forward(self, noisy, cond, band, level):  # band [B, 513] 0/1
    x = F.silu(self.input_projection(torch.stack([noisy, cond], dim=1)))
    e = self.diffusion_embedding(level)
    one_hot = F.one_hot(band, 2).transpose(1, -1).float()
    skips = 0
    for layer in self.residual_layers:
      x, skip = layer(x, one_hot, e)
      skips = skips + skip
    out = F.silu(self.skip_projection(skips / math.sqrt(len(self.residual_layers))))
    return self.output_projection(out)[:, 0]


def torch_sampler(net, log_snrs, samples, band):
  """The original's 8-step DDIM inference: the whole network at every step, then the clamp."""
  cond = torch.randn(1, samples)
  band = torch.from_numpy(band[None]).long()
  steps = list(log_snrs) + [20.0]

  @torch.no_grad()
  def sample():
    y = torch.randn_like(cond)
    for lt, ls in zip(steps[:-1], steps[1:]):
      lt_, ls_ = torch.tensor([lt]), torch.tensor([ls])
      eps = net(y, cond, band, (20.0 - lt_) / 40.0)
      at, st = torch.sigmoid(lt_).sqrt(), torch.sigmoid(-lt_).sqrt()
      as_, ss = torch.sigmoid(ls_).sqrt(), torch.sigmoid(-ls_).sqrt()
      y = as_ * (y - st * eps) / at + ss * eps
    return torch.clamp(y, -1, 1 - 2**-10)

  return sample


def network_macs_per_sample(config) -> int:
  """Multiply-adds per output sample of one network evaluation (FFTs counted as 2.5 n log2 n flops)."""
  m = config.model
  c, half = m.residual_channels, m.residual_channels // 2
  per_block = 3 * half * c * 3 + half * half + half * c + c * 2 * c  # k3 convs, spectral 1x1s, output 1x1
  per_block += 513 / 256 * c * c  # the Fourier unit's 1x1 over channels, per bin and frame
  per_block += 2 * half * 1.25 * 1024 * 10 / 256  # STFT and inverse of every global channel
  return int(m.residual_layers * per_block + 2 * c + c * c + c)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--seconds', type=float, nargs='+', default=[1.0, 10.0])
  parser.add_argument('--threads', type=int, default=2)
  parser.add_argument('--repeats', type=int, default=2)
  args = parser.parse_args()
  torch.set_num_threads(args.threads)
  torch.manual_seed(0)
  config = nuwave2_config.get_config()
  net = NuWave2().eval()
  params = convert.params_from_torch({k: v.numpy() for k, v in net.state_dict().items()}, config)
  module = model_lib.build_model(config)
  rng = np.random.default_rng(0)
  noisy, cond = rng.normal(size=(2, 2, 4096)).astype(np.float32)
  band = np.stack([conditioning.band_mask(r) for r in (8000, 24000)])
  level = np.array([0.2, 0.9], np.float32)
  ours = np.asarray(module.apply({'params': params}, noisy, cond, band, level))
  with torch.no_grad():
    theirs = net(torch.from_numpy(noisy), torch.from_numpy(cond), torch.from_numpy(band).long(),
                 torch.from_numpy(level)).numpy()
  difference = float(np.abs(ours - theirs).max() / np.abs(ours).max())
  peak = common.matmul_peak_gflops()
  sampler = inference.Upsampler(config, params).sampler  # the sampler `nuwave-jax upsample` runs
  steps = len(config.sample.log_snrs)
  print(f'machine: {common.machine()}; float32 matmul peak {peak:.0f} GFLOP/s (JAX); torch {torch.__version__}, '
        f'{torch.get_num_threads()} threads')
  print(f'same network as ours: max relative difference {difference:.1e}; '
        f'{sum(p.numel() for p in net.parameters()):,} parameters')
  print(f'each row: ours and PyTorch called in turn, {args.repeats} times each after a warm-up; medians')
  print('| NU-Wave 2, 8 steps | ours (s) | GFLOP/s | of matmul peak | PyTorch (s) | speed-up |')
  print('|---|---|---|---|---|---|')
  for seconds in args.seconds:
    samples = int(seconds * 48000) // 256 * 256
    band_row = conditioning.band_mask(16000)
    cond_row = rng.uniform(-0.5, 0.5, (1, samples)).astype(np.float32)
    keys = jax.random.split(jax.random.key(0), 1)
    run_ours = lambda: jax.block_until_ready(sampler.sample(params, cond_row, sampler.schedule, keys,
                                                            jnp.zeros(1, jnp.int32), band_mask=band_row[None]))
    run_theirs = torch_sampler(net, config.sample.log_snrs, samples, band_row)
    times = {'ours': [], 'theirs': []}
    run_ours(), run_theirs()
    for _ in range(args.repeats):
      for name, fn in (('ours', run_ours), ('theirs', run_theirs)):
        start = time.perf_counter()
        fn()
        times[name].append(time.perf_counter() - start)
    mine, torch_s = np.median(times['ours']), np.median(times['theirs'])
    speedup = np.median(np.asarray(times['theirs']) / np.asarray(times['ours']))
    gflops = 2 * network_macs_per_sample(config) * samples * steps / mine / 1e9
    print(f'| {seconds:g} s of audio | {mine:.2f} | {gflops:.0f} | {gflops / peak:.0%} | {torch_s:.2f} | '
          f'{speedup:.2f}x |', flush=True)


if __name__ == '__main__':
  jax.config.update('jax_platforms', 'cpu')
  main()
