"""Building blocks both networks share: PyTorch's initialisers (the originals rely on them), its
Conv1d and Linear as Flax modules, and the sinusoidal noise-level features."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

# Kaiming-normal (gain sqrt 2, fan-in) for the convs the originals initialise so; U(+-1/sqrt(fan_in))
# for Linear weights, for every bias, and for convs left at PyTorch's default.
kaiming_normal = nn.initializers.variance_scaling(2.0, 'fan_in', 'normal')
torch_default_kernel = nn.initializers.variance_scaling(1.0 / 3.0, 'fan_in', 'uniform')


def torch_bias(fan_in: int):
  bound = 1.0 / math.sqrt(fan_in)

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init


def conv1d(features: int, in_features: int, kernel_size: int = 1, dilation: int = 1, dtype=jnp.float32,
           use_bias: bool = True, kaiming: bool = True, name: str | None = None) -> nn.Conv:
  """PyTorch's Conv1d with 'same' padding: [batch, time, in] -> [batch, time, features] in `dtype`,
  float32 parameters kernel [kernel_size, in, features] and bias [features]; Kaiming-normal kernels
  unless `kaiming` is False (PyTorch's default init)."""
  return nn.Conv(features, (kernel_size,), kernel_dilation=(dilation,), padding='SAME', dtype=dtype,
                 param_dtype=jnp.float32, use_bias=use_bias,
                 kernel_init=kaiming_normal if kaiming else torch_default_kernel,
                 bias_init=torch_bias(in_features * kernel_size), name=name)


def dense(features: int, in_features: int, name: str | None = None) -> nn.Dense:
  """PyTorch's Linear in float32 (the noise-level paths stay float32)."""
  return nn.Dense(features, dtype=jnp.float32, param_dtype=jnp.float32,
                  kernel_init=torch_default_kernel, bias_init=torch_bias(in_features), name=name)


def sinusoidal_features(x: jax.Array, channels: int, scale: float, denominator: int) -> jax.Array:
  """[sin v, cos v] with v_i = scale * x * 10^(-4 i / denominator), i < channels / 2:
  [batch] -> [batch, channels] float32. NU-Wave divides by channels / 2, NU-Wave 2 by channels / 2 - 1.

  The frequencies are rounded once from float64: v reaches 5e4, where one float32 ulp of a frequency
  (float32 pow and exp differ by an ulp across libraries) moves sin(v) by 4e-3."""
  half = channels // 2
  frequencies = jnp.asarray(1e-4 ** (np.arange(half) / denominator), jnp.float32)
  v = jnp.float32(scale) * x.astype(jnp.float32)[:, None] * frequencies[None, :]
  return jnp.concatenate([jnp.sin(v), jnp.cos(v)], axis=-1)
