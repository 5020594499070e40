"""An independent float64 numpy NU-Wave 2 forward pass, written from docs/reference.md §8.

It reads the ORIGINAL PyTorch layout (Conv1d weight (out, in, kernel), Conv2d (out, in, 1, 1), Linear
(out, in), keys prefixed "model.model."), channels first, with the STFT written out frame by frame,
so comparing it with the Flax model checks the converter and our STFT too.
"""

import math

import numpy as np

N_FFT, HOP = 1024, 256


def silu(x):
  return x / (1.0 + np.exp(-x))


def conv1d(x, weight, bias=None):
  """PyTorch Conv1d, padding (kernel - 1) / 2. x: [batch, in, time]."""
  out_channels, _, kernel = weight.shape
  pad = (kernel - 1) // 2
  padded = np.pad(x, ((0, 0), (0, 0), (pad, pad)))
  y = np.zeros((x.shape[0], out_channels, x.shape[-1]))
  for k in range(kernel):
    y += np.einsum('oi,bit->bot', weight[:, :, k], padded[:, :, k:k + x.shape[-1]])
  return y if bias is None else y + bias[None, :, None]


def window():
  return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)


def stft(x):
  """torch.stft(center, reflect, normalized, onesided) of x [n, time] -> complex [n, 513, frames]."""
  padded = np.pad(x, ((0, 0), (N_FFT // 2, N_FFT // 2)), mode='reflect')
  frames = 1 + x.shape[1] // HOP
  out = np.zeros((x.shape[0], N_FFT // 2 + 1, frames), complex)
  for f in range(frames):
    out[:, :, f] = np.fft.rfft(padded[:, f * HOP:f * HOP + N_FFT] * window(), axis=-1) / math.sqrt(N_FFT)
  return out


def istft(spec):
  """torch.istft with the same settings and no length: [n, 513, frames] -> [n, HOP (frames - 1)]."""
  n, _, frames = spec.shape
  total = N_FFT + HOP * (frames - 1)
  signal, envelope = np.zeros((n, total)), np.zeros(total)
  for f in range(frames):
    signal[:, f * HOP:f * HOP + N_FFT] += np.fft.irfft(spec[:, :, f] * math.sqrt(N_FFT), n=N_FFT, axis=-1) * window()
    envelope[f * HOP:f * HOP + N_FFT] += window()**2
  start = N_FFT // 2
  keep = slice(start, start + HOP * (frames - 1))
  return signal[:, keep] / envelope[keep]


def forward(sd, noisy, cond, band, level, layers, scale=50000.0):
  """eps_hat [batch, time] from state dict `sd`: noisy, cond [batch, time], band [batch, 513] 0/1,
  level [batch] the normalised negative log-SNR."""
  p = lambda name: np.asarray(sd['model.model.' + name], np.float64)
  batch, time = noisy.shape
  x = silu(conv1d(np.stack([noisy, cond], axis=1), p('input_projection.weight'), p('input_projection.bias')))
  half = p('diffusion_embedding.projection1.weight').shape[1] // 2
  # The frequencies as float32 (as the network computes them), sin and cos in float64.
  frequencies = (1e-4 ** (np.arange(half) / (half - 1))).astype(np.float32)
  v = (np.float32(scale) * np.asarray(level, np.float32)[:, None] * frequencies[None]).astype(np.float64)
  e = np.concatenate([np.sin(v), np.cos(v)], axis=-1)
  e = silu(e @ p('diffusion_embedding.projection1.weight').T + p('diffusion_embedding.projection1.bias'))
  e = silu(e @ p('diffusion_embedding.projection2.weight').T + p('diffusion_embedding.projection2.bias'))
  one_hot = np.stack([band == 0, band == 1], axis=1).astype(np.float64)  # [batch, 2, 513]
  channels = x.shape[1]
  skip_sum = 0.0
  for i in range(layers):
    q = f'residual_layers.{i}.'
    f = q + 'ffc1.'
    h = x + (e @ p(q + 'diffusion_projection.weight').T + p(q + 'diffusion_projection.bias'))[:, :, None]
    local, glob = h[:, :channels // 2], h[:, channels // 2:]
    out_local = conv1d(local, p(f + 'convl2l.weight')) + conv1d(glob, p(f + 'convg2l.weight'))
    u = silu(conv1d(glob, p(f + 'convg2g.conv1.weight')))
    hidden = silu(conv1d(one_hot, p(f + 'convg2g.fu.bsft.mlp_shared.weight'), p(f + 'convg2g.fu.bsft.mlp_shared.bias')))
    gamma = conv1d(hidden, p(f + 'convg2g.fu.bsft.mlp_gamma.weight'), p(f + 'convg2g.fu.bsft.mlp_gamma.bias'))
    beta = conv1d(hidden, p(f + 'convg2g.fu.bsft.mlp_beta.weight'), p(f + 'convg2g.fu.bsft.mlp_beta.bias'))
    spec = stft(u.reshape(-1, time))  # [batch * C/2, 513, frames]
    parts = np.stack([spec.real, spec.imag], axis=1).reshape(batch, -1, spec.shape[1], spec.shape[2])
    parts = np.maximum(parts * (1 + gamma[..., None]) + beta[..., None], 0.0)
    parts = np.einsum('oi,bift->boft', p(f + 'convg2g.fu.conv_layer.weight')[:, :, 0, 0], parts)
    parts = parts.reshape(-1, 2, spec.shape[1], spec.shape[2])
    fourier = istft(parts[:, 0] + 1j * parts[:, 1]).reshape(batch, -1, time)
    out_global = conv1d(local, p(f + 'convl2g.weight')) + conv1d(u + fourier, p(f + 'convg2g.conv2.weight'))
    c = out_local.shape[1] // 2
    gate = np.concatenate([out_local[:, :c], out_global[:, :c]], axis=1)
    filt = np.concatenate([out_local[:, c:], out_global[:, c:]], axis=1)
    y = conv1d(1 / (1 + np.exp(-gate)) * np.tanh(filt), p(q + 'output_projection.weight'),
               p(q + 'output_projection.bias'))
    x = (x + y[:, :channels]) / math.sqrt(2.0)
    skip_sum = skip_sum + y[:, channels:]
  y = silu(conv1d(skip_sum / math.sqrt(layers), p('skip_projection.weight'), p('skip_projection.bias')))
  return conv1d(y, p('output_projection.weight'), p('output_projection.bias'))[:, 0]


def random_state_dict(rng, channels=64, layers=15, emb_channels=128, emb_dim=512, bsft=64, prefix='model.model.'):
  """A random state dict with the original's key names, shapes and buffers (PyTorch-like scales)."""
  sd = {}

  def conv(name, out_c, in_c, k, bias=True, dims=1):
    shape = (out_c, in_c, k) if dims == 1 else (out_c, in_c, 1, 1)
    sd[f'{prefix}{name}.weight'] = rng.normal(0, math.sqrt(2.0 / (in_c * k)), shape)
    if bias:
      sd[f'{prefix}{name}.bias'] = rng.uniform(-1, 1, out_c) / math.sqrt(in_c * k)

  def lin(name, out_c, in_c):
    sd[f'{prefix}{name}.weight'] = rng.uniform(-1, 1, (out_c, in_c)) / math.sqrt(in_c)
    sd[f'{prefix}{name}.bias'] = rng.uniform(-1, 1, out_c) / math.sqrt(in_c)

  half = channels // 2
  conv('input_projection', channels, 2, 1)
  lin('diffusion_embedding.projection1', emb_dim, emb_channels)
  lin('diffusion_embedding.projection2', emb_dim, emb_dim)
  for i in range(layers):
    q, f = f'residual_layers.{i}.', f'residual_layers.{i}.ffc1.'
    lin(q + 'diffusion_projection', channels, emb_dim)
    conv(q + 'output_projection', 2 * channels, channels, 1)
    for name in ('convl2l', 'convl2g', 'convg2l'):
      conv(f + name, channels, half, 3, bias=False)
    conv(f + 'convg2g.conv1', half, half, 1, bias=False)
    conv(f + 'convg2g.conv2', channels, half, 1, bias=False)
    conv(f + 'convg2g.fu.conv_layer', channels, channels, 1, bias=False, dims=2)
    conv(f + 'convg2g.fu.bsft.mlp_shared', bsft, 2, 3)
    conv(f + 'convg2g.fu.bsft.mlp_gamma', channels, bsft, 3)
    conv(f + 'convg2g.fu.bsft.mlp_beta', channels, bsft, 3)
    sd[f'{prefix}{f}convg2g.fu.hann_window'] = window()
  conv('skip_projection', channels, channels, 1)
  conv('output_projection', 1, channels, 1)
  return {k: np.asarray(v, np.float32) for k, v in sd.items()}
