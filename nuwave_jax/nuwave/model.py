"""The NU-Wave network (docs/reference.md §1): DiffWave with a waveform-domain condition path.

  eps_hat = f(y_t, y_c, l): noisy y_t and condition y_c [batch, time] at 48 kHz, level l [batch].

Layout is channels-last: audio [batch, time] becomes features [batch, time, channels]. The condition
path does not depend on y_t or l, so the network is split where the paper splits it, and sampling
computes the condition path once per utterance instead of once per step:
  features = module.apply(v, cond, method='condition_features')   # layers x [batch, time, 2C]
  eps_hat  = module.apply(v, noisy, features, level, std, method='denoise')
`module.apply(v, noisy, cond, level, std)` is the plain forward pass that does both. The noise std
s = sqrt(1 - l^2) is only read when the network embeds the log-SNR (`noise_input='log_snr'`).

This file is the network as the paper writes it. `cpu_kernels.py` computes the same values with the
same parameters faster on a CPU; `kernels` chooses ('cpu' or 'plain'; `build_model` resolves the
config's 'auto').
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from nuwave_jax import layers
from nuwave_jax.layers import conv1d
from nuwave_jax.layers import dense
from nuwave_jax.nuwave import cpu_kernels


def level_log_snr(noise_level: jax.Array, noise_std: jax.Array) -> jax.Array:
  """log(l^2 / s^2) in float32, s floored at 1e-6 (a level that rounds to 1). [batch] -> [batch]."""
  level, std = noise_level.astype(jnp.float32), noise_std.astype(jnp.float32)
  return 2.0 * (jnp.log(level) - jnp.log(jnp.maximum(std, 1e-6)))


def noise_level_features(noise_level: jax.Array, channels: int, scale: float) -> jax.Array:
  """[sin v, cos v], v_i = scale * level * 10^(-4 i / (channels/2)). [batch] -> [batch, channels].

  `noise_level` is whatever the network embeds: the level l, or the log-SNR."""
  return layers.sinusoidal_features(noise_level, channels, scale, channels // 2)


class ResidualLayer(nn.Module):
  """Residual layer i of the paper, dilation d = 2^(i mod cycle)."""
  channels: int
  dilation: int
  embedding_dim: int
  kernel_size: int = 3
  dtype: jnp.dtype = jnp.float32

  def setup(self):
    c, k, d = self.channels, self.kernel_size, self.dilation
    self.diffusion_projection = dense(c, self.embedding_dim)
    self.dilated_conv = conv1d(2 * c, c, k, d, self.dtype)
    self.condition_conv = conv1d(2 * c, c, k, d, self.dtype)  # the "Bi-DilConv" on the condition
    self.output_projection = conv1d(2 * c, c, dtype=self.dtype)

  def condition_features(self, c: jax.Array) -> jax.Array:
    """CondDilConv(c): the shared condition features [batch, time, C] -> [batch, time, 2C]."""
    return self.condition_conv(c.astype(self.dtype))

  def __call__(self, x: jax.Array, cond_features: jax.Array, embedding: jax.Array):
    """x [batch, time, C], this layer's cond_features [batch, time, 2C], the noise-level embedding
    e [batch, E] -> (the next layer's x, this layer's skip), [batch, time, C] each."""
    c = self.channels
    h = x + self.diffusion_projection(embedding)[:, None, :].astype(self.dtype)
    u = self.dilated_conv(h) + cond_features
    # The original names the halves (gate, filter) but applies sigmoid to the first: keep that order.
    gated = jax.nn.sigmoid(u[..., :c]) * jnp.tanh(u[..., c:])
    out = self.output_projection(gated)
    residual, skip = out[..., :c], out[..., c:]
    return (x + residual) / math.sqrt(2.0), skip


class NuWave(nn.Module):
  """eps_hat = f(noisy [batch, time], cond [batch, time], noise_level [batch], noise_std [batch])
  -> [batch, time] float32; noise_std may be None when noise_input is 'level'."""
  residual_channels: int = 64
  residual_layers: int = 30
  dilation_cycle: int = 10
  kernel_size: int = 3
  embedding_channels: int = 128
  embedding_dim: int = 512
  embedding_scale: float = 50000.0
  dtype: jnp.dtype = jnp.float32
  noise_input: str = 'level'
  kernels: str = 'plain'  # 'cpu': the same values from cpu_kernels.py

  def setup(self):
    c = self.residual_channels
    self.input_projection = conv1d(c, 1, dtype=self.dtype)
    self.condition_projection = conv1d(c, 1, dtype=self.dtype)
    self.embedding_projection1 = dense(self.embedding_dim, self.embedding_channels)
    self.embedding_projection2 = dense(self.embedding_dim, self.embedding_dim)
    self.layers = [ResidualLayer(c, d, self.embedding_dim, self.kernel_size, self.dtype, name=f'layer_{i}')
                   for i, d in enumerate(self.dilations)]
    self.skip_projection = conv1d(c, c, dtype=self.dtype)
    self.output_projection = conv1d(1, c, dtype=self.dtype)

  @property
  def dilations(self) -> tuple[int, ...]:
    return tuple(2**(i % self.dilation_cycle) for i in range(self.residual_layers))

  def embed(self, noise_level: jax.Array, noise_std: jax.Array | None) -> jax.Array:
    """The noise-level embedding e, shared by all layers: [batch] -> [batch, E] float32.

    It embeds the level l = sqrt(alpha_bar) (noise_input 'level', the paper) or the log-SNR
    log(l^2 / s^2) ('log_snr', NU-Wave 2's input), which resolves the last sampling steps: their levels
    differ from 1 by 5e-7 to 8e-6, but their log-SNRs (13.8 to 11.0) by whole units.
    """
    if self.noise_input == 'log_snr':
      if noise_std is None:
        raise ValueError("model.noise_input 'log_snr' needs the noise std beside the level")
      noise_level = level_log_snr(noise_level, noise_std)
    elif self.noise_input != 'level':
      raise ValueError(f'unknown model.noise_input {self.noise_input!r}')
    e = noise_level_features(noise_level, self.embedding_channels, self.embedding_scale)
    return nn.silu(self.embedding_projection2(nn.silu(self.embedding_projection1(e))))

  def condition_features(self, cond: jax.Array) -> tuple[jax.Array, ...]:
    """The step-independent condition path. cond: [batch, time] -> layers x [batch, time, 2C].

    A tuple, not a stacked array: the gradient of a stack is a full-size buffer per layer.
    """
    if self._cpu_form():
      return cpu_kernels.condition_features(self.variables['params'], cond, self.dilations, self.dtype)
    c = nn.silu(self.condition_projection(cond[..., None]))
    return tuple(layer.condition_features(c) for layer in self.layers)

  def denoise(self, noisy: jax.Array, cond_features: tuple[jax.Array, ...], noise_level: jax.Array,
              noise_std: jax.Array | None = None) -> jax.Array:
    """noisy: [batch, time], cond_features: layers x [batch, time, 2C], noise_level and noise_std:
    [batch] -> eps_hat [batch, time] float32."""
    e = self.embed(noise_level, noise_std)
    if self._cpu_form():
      return cpu_kernels.denoise(self.variables['params'], noisy, cond_features, e, self.dilations,
                                 self.dtype)
    x = nn.silu(self.input_projection(noisy[..., None]))
    skips = []
    for layer, features in zip(self.layers, cond_features):
      x, skip = layer(x, features, e)
      skips.append(skip)
    y = nn.silu(self.skip_projection(sum(skips) / math.sqrt(len(self.layers))))
    return self.output_projection(y)[..., 0].astype(jnp.float32)

  def __call__(self, noisy: jax.Array, cond: jax.Array, noise_level: jax.Array,
               noise_std: jax.Array | None = None) -> jax.Array:
    """denoise(noisy, condition_features(cond), noise_level, noise_std)."""
    if self._cpu_form():
      return cpu_kernels.forward(self.variables['params'], noisy, cond, self.embed(noise_level, noise_std),
                                 self.dilations, self.dtype)
    return self.denoise(noisy, self.condition_features(cond), noise_level, noise_std)

  def _cpu_form(self) -> bool:
    return self.kernels == 'cpu' and not self.is_initializing()  # init creates the params plainly


def resolve_kernels(kernels: str) -> str:
  """config.model.kernels -> 'cpu' or 'plain' ('auto': 'cpu' when JAX computes on a CPU)."""
  if kernels == 'auto':
    return 'cpu' if jax.default_backend() == 'cpu' else 'plain'
  return kernels


def build_model(config: ml_collections.ConfigDict) -> NuWave:
  """The network `config.model` describes."""
  m = config.model
  return NuWave(residual_channels=m.residual_channels, residual_layers=m.residual_layers,
                dilation_cycle=m.dilation_cycle, kernel_size=m.kernel_size,
                embedding_channels=m.embedding_channels, embedding_dim=m.embedding_dim,
                embedding_scale=m.embedding_scale, dtype=jnp.dtype(m.dtype),
                noise_input=m.noise_input, kernels=resolve_kernels(m.kernels))


def init_params(module: NuWave, rng: jax.Array, time: int = 512):
  """Float32 params for `module` (shapes do not depend on `time`)."""
  zeros = jnp.zeros((1, time), jnp.float32)
  half = jnp.full((1,), math.sqrt(0.5), jnp.float32)
  return module.init(rng, zeros, zeros, half, half)['params']
