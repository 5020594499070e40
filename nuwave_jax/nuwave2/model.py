"""The NU-Wave 2 network (docs/reference.md §8): gated residual blocks of short-time Fourier
convolutions (STFC), with the input's band fed to every spectral transform through BSFT.

  eps_hat = f(y_t, y_l, band_mask, n): noisy y_t and condition y_l [batch, time] at 48 kHz (time a
  multiple of 256), band_mask [batch, 513] 0/1 (1 below the input's cutoff), n [batch] the normalised
  negative log-SNR (lambda_max - lambda) / (lambda_max - lambda_min) in [0, 1] (`normalized_log_snr`).

Channels-last: audio [batch, time] becomes features [batch, time, channels]; inside the Fourier unit
a spectrum is channels first, [channels, batch, frames, 513 bins], as the original holds it (its 1x1
over channels is then one matrix product). BSFT's modulation depends only on the band mask, so it is
split out where the sampler can compute it once per call:
  features = module.apply(v, band_mask, method='bsft_features')   # blocks x (gamma, beta)
  eps_hat  = module.apply(v, noisy, cond, features, level, method='denoise')
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from nuwave_jax import layers
from nuwave_jax.layers import conv1d
from nuwave_jax.layers import dense
from nuwave_jax.nuwave2.stft import BINS
from nuwave_jax.nuwave2.stft import istft
from nuwave_jax.nuwave2.stft import stft


class BSFT(nn.Module):
  """Band-wise spectral feature transform: the band mask [batch, 513] -> (gamma, beta), each
  [batch, 513, features], that modulate a spectrum as X (1 + gamma) + beta for every frame."""
  features: int
  hidden: int

  def setup(self):
    self.shared = conv1d(self.hidden, 2, 3, kaiming=False)  # PyTorch's default init, as the original
    self.gamma = conv1d(self.features, self.hidden, 3)
    self.beta = conv1d(self.features, self.hidden, 3)

  def __call__(self, band_mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    one_hot = jax.nn.one_hot(band_mask.astype(jnp.int32), 2, dtype=jnp.float32)  # [batch, bins, 2]: outside, inside
    hidden = nn.silu(self.shared(one_hot))
    return self.gamma(hidden), self.beta(hidden)


class ChannelsFirstPointwise(nn.Module):
  """A 1x1 conv without bias on channels-first data: [in, ...] -> [features, ...]; kernel [in, features]
  with the original's Kaiming-normal init."""
  features: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.param('kernel', layers.kaiming_normal, (x.shape[0], self.features), jnp.float32)
    return jax.lax.dot_general(kernel, x, (((0,), (0,)), ((), ())))


class FourierUnit(nn.Module):
  """The spectral convolution: per-channel STFT, real and imaginary parts as interleaved channels
  (c0 re, c0 im, c1 re, ...), BSFT modulation, ReLU, a 1x1 conv over channels, inverse STFT. The
  spectra are held channels first, [channels, batch, frames, bins] (the original's order, with the
  batch inside), so the 1x1 conv is one matrix product over every bin and frame."""
  channels: int
  bsft_channels: int

  def setup(self):
    self.bsft = BSFT(2 * self.channels, self.bsft_channels)
    self.conv = ChannelsFirstPointwise(2 * self.channels)  # the original's 1x1 Conv2d

  def bsft_features(self, band_mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    return self.bsft(band_mask)

  def __call__(self, x: jax.Array, bsft_features: tuple[jax.Array, jax.Array]) -> jax.Array:
    """x [batch, time, C] -> [batch, time, C] float32."""
    batch, _, channels = x.shape
    spectrum = stft(jnp.transpose(x.astype(jnp.float32), (2, 0, 1)))  # [C, batch, frames, bins]
    frames, bins = spectrum.shape[2:]
    parts = jnp.stack([spectrum.real, spectrum.imag], axis=1).reshape(2 * channels, batch, frames, bins)
    gamma, beta = (jnp.transpose(f, (2, 0, 1))[:, :, None] for f in bsft_features)  # [2C, batch, 1, bins]
    parts = nn.relu(parts * (1.0 + gamma) + beta)
    parts = self.conv(parts).reshape(channels, 2, batch, frames, bins)
    return jnp.transpose(istft(jax.lax.complex(parts[:, 0], parts[:, 1])), (1, 2, 0))


class SpectralTransform(nn.Module):
  """The global path's transform: 1x1 conv and SiLU to u, then a 1x1 conv of u + FourierUnit(u)."""
  in_channels: int
  out_channels: int
  bsft_channels: int
  dtype: jnp.dtype = jnp.float32

  def setup(self):
    half = self.out_channels // 2
    self.conv1 = conv1d(half, self.in_channels, use_bias=False, dtype=self.dtype)
    self.fourier = FourierUnit(half, self.bsft_channels)
    self.conv2 = conv1d(self.out_channels, half, use_bias=False, dtype=self.dtype)

  def bsft_features(self, band_mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    return self.fourier.bsft_features(band_mask)

  def __call__(self, x: jax.Array, bsft_features) -> jax.Array:
    u = nn.silu(self.conv1(x))
    return self.conv2(u + self.fourier(u, bsft_features).astype(u.dtype))


class STFC(nn.Module):
  """Short-time Fourier convolution: local and global halves, each output the sum of a k3 conv of the
  local half and (for the local output) a k3 conv, (for the global output) the spectral transform of
  the global half. No biases."""
  in_channels: int
  out_channels: int
  bsft_channels: int
  dtype: jnp.dtype = jnp.float32

  def setup(self):
    half_in, half_out = self.in_channels // 2, self.out_channels // 2
    self.local_to_local = conv1d(half_out, half_in, 3, use_bias=False, dtype=self.dtype)
    self.local_to_global = conv1d(half_out, half_in, 3, use_bias=False, dtype=self.dtype)
    self.global_to_local = conv1d(half_out, half_in, 3, use_bias=False, dtype=self.dtype)
    self.global_to_global = SpectralTransform(half_in, half_out, self.bsft_channels, self.dtype)

  def bsft_features(self, band_mask: jax.Array):
    return self.global_to_global.bsft_features(band_mask)

  def __call__(self, x_local: jax.Array, x_global: jax.Array, bsft_features):
    out_local = self.local_to_local(x_local) + self.global_to_local(x_global)
    out_global = self.local_to_global(x_local) + self.global_to_global(x_global, bsft_features)
    return out_local, out_global


class ResidualBlock(nn.Module):
  """h = x + Linear(e); STFC on h's local and global halves; the gate; 1x1 -> residual | skip."""
  channels: int
  embedding_dim: int
  bsft_channels: int
  dtype: jnp.dtype = jnp.float32

  def setup(self):
    c = self.channels
    self.diffusion_projection = dense(c, self.embedding_dim)
    self.stfc = STFC(c, 2 * c, self.bsft_channels, self.dtype)
    self.output_projection = conv1d(2 * c, c, dtype=self.dtype)

  def bsft_features(self, band_mask: jax.Array):
    return self.stfc.bsft_features(band_mask)

  def __call__(self, x: jax.Array, bsft_features, embedding: jax.Array):
    """x [batch, time, C], the noise-level embedding [batch, E] -> (next x, skip), [batch, time, C]."""
    c = self.channels
    h = x + self.diffusion_projection(embedding)[:, None, :].astype(self.dtype)
    out_local, out_global = self.stfc(h[..., :c // 2], h[..., c // 2:], bsft_features)
    gate = jnp.concatenate([out_local[..., :c // 2], out_global[..., :c // 2]], axis=-1)
    filter_ = jnp.concatenate([out_local[..., c // 2:], out_global[..., c // 2:]], axis=-1)
    out = self.output_projection(jax.nn.sigmoid(gate) * jnp.tanh(filter_))
    return (x + out[..., :c]) / math.sqrt(2.0), out[..., c:]


class NuWave2(nn.Module):
  """eps_hat = f(noisy, cond [batch, time], band_mask [batch, 513], normalized_log_snr [batch]) -> [batch, time]
  float32 (module docstring)."""
  residual_channels: int = 64
  residual_layers: int = 15
  embedding_channels: int = 128
  embedding_dim: int = 512
  embedding_scale: float = 50000.0
  bsft_channels: int = 64
  dtype: jnp.dtype = jnp.float32

  def setup(self):
    c = self.residual_channels
    self.input_projection = conv1d(c, 2, dtype=self.dtype)
    self.embedding_projection1 = dense(self.embedding_dim, self.embedding_channels)
    self.embedding_projection2 = dense(self.embedding_dim, self.embedding_dim)
    self.layers = [ResidualBlock(c, self.embedding_dim, self.bsft_channels, self.dtype, name=f'layer_{i}')
                   for i in range(self.residual_layers)]
    self.skip_projection = conv1d(c, c, dtype=self.dtype)
    self.output_projection = conv1d(1, c, dtype=self.dtype)

  def embed(self, normalized_log_snr: jax.Array) -> jax.Array:
    """[batch] normalised negative log-SNR -> [batch, E] float32; frequencies 10^(-4 i / 63)."""
    half = self.embedding_channels // 2
    e = layers.sinusoidal_features(normalized_log_snr, self.embedding_channels, self.embedding_scale, half - 1)
    return nn.silu(self.embedding_projection2(nn.silu(self.embedding_projection1(e))))

  def bsft_features(self, band_mask: jax.Array) -> tuple:
    """Every block's BSFT (gamma, beta) for band_mask [batch, 513]: they depend on nothing else."""
    return tuple(layer.bsft_features(band_mask) for layer in self.layers)

  def denoise(self, noisy: jax.Array, cond: jax.Array, bsft_features: tuple,
              normalized_log_snr: jax.Array) -> jax.Array:
    """noisy, cond [batch, time], `bsft_features`, normalized_log_snr [batch] -> eps_hat [batch, time]."""
    x = nn.silu(self.input_projection(jnp.stack([noisy, cond], axis=-1)))
    e = self.embed(normalized_log_snr)
    skip_sum = 0.0
    for layer, features in zip(self.layers, bsft_features):
      x, skip = layer(x, features, e)
      skip_sum = skip_sum + skip
    y = nn.silu(self.skip_projection(skip_sum / math.sqrt(len(self.layers))))
    return self.output_projection(y)[..., 0].astype(jnp.float32)

  def __call__(self, noisy: jax.Array, cond: jax.Array, band_mask: jax.Array,
               normalized_log_snr: jax.Array) -> jax.Array:
    return self.denoise(noisy, cond, self.bsft_features(band_mask), normalized_log_snr)


def build_model(config: ml_collections.ConfigDict) -> NuWave2:
  """The network `config.model` describes."""
  m = config.model
  return NuWave2(residual_channels=m.residual_channels, residual_layers=m.residual_layers,
                 embedding_channels=m.embedding_channels, embedding_dim=m.embedding_dim,
                 embedding_scale=m.embedding_scale, bsft_channels=m.bsft_channels, dtype=jnp.dtype(m.dtype))


def init_params(module: NuWave2, rng: jax.Array, time: int = 512):
  """Float32 params for `module` (shapes do not depend on `time`, a multiple of 256)."""
  zeros = jnp.zeros((1, time), jnp.float32)
  return module.init(rng, zeros, zeros, jnp.ones((1, BINS), jnp.int32), jnp.full((1,), 0.5))['params']
