"""An independent float64 numpy NU-Wave forward pass, written from docs/reference.md §1.

It reads the ORIGINAL PyTorch layout (Conv1d weight (out, in, kernel), Linear weight (out, in), keys
prefixed "model."), so comparing it with the Flax model checks the converter too.
"""

import math

import numpy as np


def silu(x):
  return x / (1.0 + np.exp(-x))


def sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def conv1d(x, weight, bias, dilation=1):
  """PyTorch Conv1d with padding = dilation * (kernel - 1) / 2. x: [batch, in, time]."""
  out_channels, _, kernel = weight.shape
  pad = dilation * (kernel - 1) // 2
  padded = np.pad(x, ((0, 0), (0, 0), (pad, pad)))
  time = x.shape[-1]
  y = np.zeros((x.shape[0], out_channels, time)) + bias[None, :, None]
  for k in range(kernel):
    window = padded[:, :, k * dilation:k * dilation + time]
    y += np.einsum('oi,bit->bot', weight[:, :, k], window)
  return y


def linear(x, weight, bias):
  return x @ weight.T + bias


def forward(sd, noisy, cond, level, layers, dilation_cycle, scale=50000.0):
  """eps_hat [batch, time] from state dict `sd`, noisy/cond [batch, time], level [batch]."""
  p = lambda name: np.asarray(sd['model.' + name], np.float64)
  x = silu(conv1d(noisy[:, None, :], p('input_projection.weight'), p('input_projection.bias')))
  c = silu(conv1d(cond[:, None, :], p('low_projection.weight'), p('low_projection.bias')))
  # The original computes v in float32 (as we do): at 50000 * level the float32 rounding of v is
  # visible in sin/cos, so the reference rounds the same way and takes sin/cos in float64.
  half = p('diffusion_embedding.exponents').shape[0]
  exponents = (1e-4 ** (np.arange(half) / half)).astype(np.float32)
  v = (np.float32(scale) * np.asarray(level, np.float32)[:, None] * exponents[None, :]).astype(np.float64)
  e = np.concatenate([np.sin(v), np.cos(v)], axis=-1)
  e = silu(linear(e, p('diffusion_embedding.projection1.weight'), p('diffusion_embedding.projection1.bias')))
  e = silu(linear(e, p('diffusion_embedding.projection2.weight'), p('diffusion_embedding.projection2.bias')))
  channels = x.shape[1]
  skip_sum = 0.0
  for i in range(layers):
    d = 2**(i % dilation_cycle)
    q = f'residual_layers.{i}.'
    h = x + linear(e, p(q + 'diffusion_projection.weight'), p(q + 'diffusion_projection.bias'))[:, :, None]
    u = conv1d(h, p(q + 'dilated_conv.weight'), p(q + 'dilated_conv.bias'), d)
    u = u + conv1d(c, p(q + 'low_projection.weight'), p(q + 'low_projection.bias'), d)
    gated = sigmoid(u[:, :channels]) * np.tanh(u[:, channels:])
    out = conv1d(gated, p(q + 'output_projection.weight'), p(q + 'output_projection.bias'))
    x = (x + out[:, :channels]) / math.sqrt(2.0)
    skip_sum = skip_sum + out[:, channels:]
  y = silu(conv1d(skip_sum / math.sqrt(layers), p('skip_projection.weight'), p('skip_projection.bias')))
  return conv1d(y, p('output_projection.weight'), p('output_projection.bias'))[:, 0]


def random_state_dict(rng, channels, layers, emb_channels, emb_dim, kernel=3):
  """A random state dict with the original's key names and shapes (PyTorch-like scales)."""
  sd = {}

  def conv(name, out_c, in_c, k):
    sd[f'model.{name}.weight'] = rng.normal(0, math.sqrt(2.0 / (in_c * k)), (out_c, in_c, k))
    sd[f'model.{name}.bias'] = rng.uniform(-1, 1, out_c) / math.sqrt(in_c * k)

  def lin(name, out_c, in_c):
    sd[f'model.{name}.weight'] = rng.uniform(-1, 1, (out_c, in_c)) / math.sqrt(in_c)
    sd[f'model.{name}.bias'] = rng.uniform(-1, 1, out_c) / math.sqrt(in_c)

  conv('input_projection', channels, 1, 1)
  conv('low_projection', channels, 1, 1)
  lin('diffusion_embedding.projection1', emb_dim, emb_channels)
  lin('diffusion_embedding.projection2', emb_dim, emb_dim)
  half = emb_channels // 2
  sd['model.diffusion_embedding.exponents'] = 1e-4 ** (np.arange(half) / half)
  for i in range(layers):
    lin(f'residual_layers.{i}.diffusion_projection', channels, emb_dim)
    conv(f'residual_layers.{i}.dilated_conv', 2 * channels, channels, kernel)
    conv(f'residual_layers.{i}.low_projection', 2 * channels, channels, kernel)
    conv(f'residual_layers.{i}.output_projection', 2 * channels, channels, 1)
  conv('skip_projection', channels, channels, 1)
  conv('output_projection', 1, channels, 1)
  return {k: np.asarray(v, np.float32) for k, v in sd.items()}
