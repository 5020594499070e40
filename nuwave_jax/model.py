"""The NU-Wave network (REFERENCE section 1): DiffWave with a waveform-domain condition path.

Layout is channels-last: audio [batch, time] becomes features [batch, time, channels].
The network is split in two so that sampling can compute the condition path once per utterance:
  features = module.apply(v, cond, method=NuWave.condition_features)     # layers x [batch, time, 2C]
  eps_hat  = module.apply(v, noisy, features, level, std, method=NuWave.denoise)
and `module.apply(v, noisy, cond, level, std)` is the plain forward pass that does both.
The noise std s = sqrt(1 - l^2) is only read when the network embeds the log-SNR (noise_input).
"""

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

# PyTorch's initialisers, which the original relies on: Kaiming-normal (gain sqrt 2, fan-in) for every
# conv weight; U(+-1/sqrt(fan_in)) for Linear weights and for every bias.
kaiming_normal = nn.initializers.variance_scaling(2.0, 'fan_in', 'normal')
torch_linear_kernel = nn.initializers.variance_scaling(1.0 / 3.0, 'fan_in', 'uniform')


def torch_bias(fan_in: int):
  bound = 1.0 / math.sqrt(fan_in)

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init


class ConvParams(nn.Module):
  """A 1-D conv's parameters as nn.Conv names them (kernel [k, in, out], bias [out])."""
  features: int
  in_features: int
  kernel_size: int

  @nn.compact
  def __call__(self):
    fan_in = self.in_features * self.kernel_size
    kernel = self.param('kernel', kaiming_normal, (self.kernel_size, self.in_features, self.features),
                        jnp.float32)
    bias = self.param('bias', torch_bias(fan_in), (self.features,), jnp.float32)
    return kernel, bias


def conv1d_same(x: jax.Array, kernel: jax.Array, dilation: int) -> jax.Array:
  """'Same'-padded 1-D conv without bias, channels last: [batch, time, in] x [k, in, out] ->
  [batch, time, out]."""
  return jax.lax.conv_general_dilated(x, kernel.astype(x.dtype), (1,), 'SAME', rhs_dilation=(dilation,),
                                      dimension_numbers=('NWC', 'WIO', 'NWC'))


def dilated_conv1d(x: jax.Array, kernel: jax.Array, bias: jax.Array, dilation: int) -> jax.Array:
  """conv1d_same plus a bias [out]: [batch, time, in] -> [batch, time, out]."""
  return conv1d_same(x, kernel, dilation) + bias.astype(x.dtype)


def conv1d_same_kernel_grad(x: jax.Array, d_out: jax.Array, dilation: int, kernel_size: int) -> jax.Array:
  """The gradient of conv1d_same's kernel: x [batch, time, in], d_out [batch, time, out] -> [k, in, out].

  XLA's own gradient conv (time as the contraction, d_out a window as long as the signal), with both
  operands transposed explicitly: XLA then sees that d_out's transpose only moves a batch of one, a
  free reshape, where the conv it derives itself copies d_out (a [time, 2C] pass per layer). For a batch
  of one, up to 8 consecutive samples are folded into the conv's feature axis when the dilation, the
  padding and the length are multiples of them (free reshapes; the same sums): on an AVX-512 CPU it ran
  1.4x faster, a train step about 3 %; with more examples the transposes it needs cost more than it
  saves (benchmarks/README.md, session 10).
  """
  batch, time, channels = x.shape
  total = dilation * (kernel_size - 1)  # 'SAME' padding, as conv1d_same
  fold = math.gcd(dilation, time, total // 2, 8) if batch == 1 else 1
  steps = total // fold
  lhs = jnp.transpose(x.reshape(batch, time // fold, fold, channels), (3, 1, 0, 2))
  lhs = lhs.reshape(channels, time // fold, batch * fold)
  rhs = jnp.transpose(d_out.reshape(batch, time // fold, fold, -1), (1, 0, 2, 3))
  rhs = rhs.reshape(time // fold, batch * fold, d_out.shape[-1])
  grad = jax.lax.conv_general_dilated(lhs, rhs, (dilation // fold,), [(steps // 2, steps - steps // 2)],
                                      dimension_numbers=('NWC', 'WIO', 'NWC'))  # [in, k, out]
  return jnp.transpose(grad, (1, 0, 2))


@functools.partial(jax.custom_vjp, nondiff_argnums=(6,))
def two_dilated_convs(h: jax.Array, c: jax.Array, h_kernel: jax.Array, h_bias: jax.Array,
                      c_kernel: jax.Array, c_bias: jax.Array, dilation: int) -> jax.Array:
  """dilated_conv1d(h, h_kernel, h_bias) + dilated_conv1d(c, c_kernel, c_bias): two [batch, time, in]
  inputs with [k, in, out] kernels -> [batch, time, out].

  The value is the two convs' sum. The gradient takes both inputs' gradients from one conv of the
  output gradient with the two kernels side by side ([k, 2 in, out]): one conv with twice the outputs
  runs faster than two (benchmarks/README.md, session 8).
  """
  return dilated_conv1d(h, h_kernel, h_bias, dilation) + dilated_conv1d(c, c_kernel, c_bias, dilation)


def _two_dilated_convs_fwd(h, c, h_kernel, h_bias, c_kernel, c_bias, dilation):
  out = two_dilated_convs(h, c, h_kernel, h_bias, c_kernel, c_bias, dilation)
  return out, (h, c, h_kernel, h_bias, c_kernel, c_bias)


def _two_dilated_convs_bwd(dilation, residuals, d_out):
  h, c, h_kernel, h_bias, c_kernel, c_bias = residuals
  kernels = jnp.concatenate([h_kernel, c_kernel], axis=1)
  inputs = jax.ShapeDtypeStruct(h.shape[:-1] + (h.shape[-1] + c.shape[-1],), h.dtype)
  (d_inputs,) = jax.linear_transpose(lambda x: conv1d_same(x, kernels, dilation), inputs)(d_out)
  d_h, d_c = jnp.split(d_inputs, [h.shape[-1]], axis=-1)
  kernel_size = h_kernel.shape[0]
  d_h_kernel = conv1d_same_kernel_grad(h, d_out, dilation, kernel_size)
  d_c_kernel = conv1d_same_kernel_grad(c, d_out, dilation, kernel_size)
  d_bias = jnp.sum(d_out, axis=(0, 1), dtype=jnp.float32)
  return (d_h, d_c, d_h_kernel.astype(h_kernel.dtype), d_bias.astype(h_bias.dtype),
          d_c_kernel.astype(c_kernel.dtype), d_bias.astype(c_bias.dtype))


two_dilated_convs.defvjp(_two_dilated_convs_fwd, _two_dilated_convs_bwd)


class Pointwise(nn.Module):
  """A 1x1 conv's parameters (kernel [1, in, out], bias [out]) for layers that use them in matmuls."""
  features: int
  in_features: int

  @nn.compact
  def __call__(self):
    kernel = self.param('kernel', kaiming_normal, (1, self.in_features, self.features), jnp.float32)
    bias = self.param('bias', torch_bias(self.in_features), (self.features,), jnp.float32)
    return kernel[0], bias


def pointwise(x: jax.Array, kernel: jax.Array, bias: jax.Array, dtype) -> jax.Array:
  """A 1x1 conv as a matmul: [..., in] x ([in, out], [out]) -> [..., out] in `dtype`."""
  return x.astype(dtype) @ kernel.astype(dtype) + bias.astype(dtype)


@jax.custom_vjp
def two_projections(x: jax.Array, kernel: jax.Array) -> tuple[jax.Array, jax.Array]:
  """x @ kernel[:, :n] and x @ kernel[:, n:], n = out / 2, without bias: [batch, time, in] x
  [in, out] -> two [batch, time, out / 2].

  The value is two matmuls (a CPU runs them side by side: sampling 5 % faster than one matmul and
  a split). The gradient takes x's gradient from one product with the whole kernel, and the kernel's
  gradient from one product of x's explicit transpose [in, batch * time] with both output gradients
  side by side: XLA's own gradient, two products that contract both operands' long axis, ran at
  23 GFLOP/s on a CPU, a batch-1 train step about 10 % slower (benchmarks/README.md, session 9).
  """
  n = kernel.shape[1] // 2
  return x @ kernel[:, :n], x @ kernel[:, n:]


def _two_projections_fwd(x, kernel):
  return two_projections(x, kernel), (x, kernel)


def _two_projections_bwd(residuals, d_outs):
  x, kernel = residuals
  d_out = jnp.concatenate(d_outs, axis=-1)
  rows = x.reshape(-1, x.shape[-1])
  d_kernel = jnp.transpose(rows) @ d_out.reshape(-1, d_out.shape[-1])
  return d_out @ jnp.transpose(kernel), d_kernel.astype(kernel.dtype)


two_projections.defvjp(_two_projections_fwd, _two_projections_bwd)


def from_audio(audio: jax.Array, kernel: jax.Array, bias: jax.Array, dtype) -> jax.Array:
  """A 1x1 conv from one channel: [batch, time] x ([1, C], [C]) -> [batch, time, C] in `dtype`."""
  return audio[..., None].astype(dtype) * kernel[0].astype(dtype) + bias.astype(dtype)


def dense(features: int, in_features: int, name: str | None = None) -> nn.Dense:
  """A float32 Linear layer with PyTorch init (the noise-level path stays float32)."""
  return nn.Dense(features, dtype=jnp.float32, param_dtype=jnp.float32,
                  kernel_init=torch_linear_kernel, bias_init=torch_bias(in_features), name=name)


# What the noise-level embedding reads: 'level' l = sqrt(alpha_bar) (the paper) or 'log_snr'
# log(l^2 / s^2) (NU-Wave 2's input), which resolves the last sampling steps: their levels differ
# from 1 by 5e-7 to 8e-6, but their log-SNRs (13.8 to 11.0) differ by whole units.
NOISE_INPUTS = ('level', 'log_snr')


def log_snr(noise_level: jax.Array, noise_std: jax.Array) -> jax.Array:
  """log(l^2 / s^2) in float32, s floored at 1e-6 (a level that rounds to 1). [batch] -> [batch]."""
  level, std = noise_level.astype(jnp.float32), noise_std.astype(jnp.float32)
  return 2.0 * (jnp.log(level) - jnp.log(jnp.maximum(std, 1e-6)))


def noise_level_features(noise_level: jax.Array, channels: int, scale: float) -> jax.Array:
  """[sin v, cos v], v_i = scale * level * 10^(-4 i / (channels/2)). [batch] -> [batch, channels].

  `noise_level` is whatever the network embeds: the level l, or the log-SNR."""
  half = channels // 2
  # Frequencies rounded once from float64: v reaches 5e4, where one float32 ulp of a frequency
  # (float32 pow differs by an ulp across libraries) moves sin(v) by 4e-3.
  exponents = jnp.asarray(1e-4 ** (np.arange(half) / half), jnp.float32)
  v = jnp.float32(scale) * noise_level.astype(jnp.float32)[:, None] * exponents[None, :]
  return jnp.concatenate([jnp.sin(v), jnp.cos(v)], axis=-1)


def materialized(x: jax.Array, runtime_scalar: jax.Array) -> jax.Array:
  """x (any shape), written to memory once when the program runs on a CPU; x as is elsewhere.

  XLA's CPU fusion copies cheap elementwise producers into each of their consumers, so the residual
  chain h_(i+1) = h_i / sqrt 2 + ... would be recomputed, from the first layer on, inside every later
  layer's fusions (a paper-size denoise call 1.75x slower: benchmarks/README.md, session 7). A
  conditional is never fused, so its result is computed once. Both branches return x (x * 1 is x
  exactly); `runtime_scalar`, a value the compiler cannot know (a parameter), only keeps it from
  folding the conditional away. GPU and TPU compilers weigh what they duplicate, and get x unchanged.
  """
  def on_cpu(value, scalar):
    return jax.lax.cond(scalar == scalar, lambda v: v, lambda v: v * 1, value)

  return jax.lax.platform_dependent(x, runtime_scalar, cpu=on_cpu, default=lambda value, scalar: value)


class ResidualLayer(nn.Module):
  """One gated residual layer with dilation `dilation`; condition_conv is the path on y_c."""
  channels: int
  dilation: int
  embedding_dim: int
  kernel_size: int = 3
  dtype: jnp.dtype = jnp.float32

  def setup(self):
    c = self.channels
    self.diffusion_projection = dense(c, self.embedding_dim)
    self.dilated_conv = ConvParams(2 * c, c, self.kernel_size)
    self.condition_conv = ConvParams(2 * c, c, self.kernel_size)
    self.output_projection = Pointwise(2 * c, c)

  def condition_features(self, c: jax.Array) -> jax.Array:
    """[batch, time, C] -> [batch, time, 2C]."""
    kernel, bias = self.condition_conv()
    return dilated_conv1d(c.astype(self.dtype), kernel, bias, self.dilation)

  def embedding_offset(self, embedding: jax.Array) -> jax.Array:
    """What this layer adds to its input x: the noise-level embedding [batch, E] -> [batch, 1, C]."""
    return self.diffusion_projection(embedding)[:, None, :].astype(self.dtype)

  def __call__(self, h: jax.Array, cond_features: jax.Array, next_shift: jax.Array):
    """One layer on h = x + embedding_offset [batch, time, C], with cond_features [batch, time, 2C]
    (this layer's condition_features). Returns (next layer's h [batch, time, C], skip [batch, time, C]).

    The next layer's input is x' + its offset, where x' = (x + gated W_res + b_res) / sqrt 2 is the
    original's residual output; next_shift [batch, 1, C] = next offset - this offset / sqrt 2, so that
    the offset adds ride on the residual bias instead of a pass over the features.
    """
    kernel, bias = self.dilated_conv()
    return self.gated_residual(h, dilated_conv1d(h, kernel, bias, self.dilation) + cond_features,
                               next_shift)

  def from_condition(self, h: jax.Array, c: jax.Array, next_shift: jax.Array):
    """The same layer with its condition conv inside: c is the shared condition [batch, time, C]
    (NuWave.condition). The same value as __call__ with condition_features(c)."""
    u = two_dilated_convs(h, c.astype(self.dtype), *self.dilated_conv(), *self.condition_conv(),
                          self.dilation)
    return self.gated_residual(h, u, next_shift)

  def gated_residual(self, h: jax.Array, u: jax.Array, next_shift: jax.Array):
    """The gate on u = dilated conv + condition [batch, time, 2C], and the two 1x1 convs."""
    # The original names the halves (gate, filter) but applies sigmoid to the first: keep that order.
    c = self.channels
    gated = jax.nn.sigmoid(u[..., :c]) * jnp.tanh(u[..., c:])
    kernel, bias = self.output_projection()
    kernel, bias = kernel.astype(self.dtype), bias.astype(self.dtype)
    scale = 1.0 / math.sqrt(2.0)
    halves = jnp.concatenate([jnp.full((c,), scale, self.dtype), jnp.ones((c,), self.dtype)])
    residual, skip = two_projections(gated, kernel * halves)  # the residual part / sqrt 2
    h_next = h * scale + residual + (bias[:c] * scale + next_shift)
    skip = skip + bias[c:]
    return materialized(h_next, kernel[0, 0]), skip


class NuWave(nn.Module):
  """eps_hat = f(noisy [batch, time], cond [batch, time], noise_level [batch], noise_std [batch])
  -> [batch, time]; noise_std may be None when noise_input is 'level'."""
  residual_channels: int = 64
  residual_layers: int = 30
  dilation_cycle: int = 10
  kernel_size: int = 3
  embedding_channels: int = 128
  embedding_dim: int = 512
  embedding_scale: float = 50000.0
  dtype: jnp.dtype = jnp.float32
  noise_input: str = 'level'

  def setup(self):
    if self.noise_input not in NOISE_INPUTS:
      raise ValueError(f'model.noise_input must be one of {NOISE_INPUTS}, got {self.noise_input!r}')
    c = self.residual_channels
    self.input_projection = Pointwise(c, 1)
    self.condition_projection = Pointwise(c, 1)
    self.embedding_projection1 = dense(self.embedding_dim, self.embedding_channels)
    self.embedding_projection2 = dense(self.embedding_dim, self.embedding_dim)
    self.layers = [
        ResidualLayer(c, 2**(i % self.dilation_cycle), self.embedding_dim, self.kernel_size,
                      self.dtype, name=f'layer_{i}')
        for i in range(self.residual_layers)
    ]
    self.skip_projection = Pointwise(c, c)
    self.output_projection = Pointwise(1, c)

  def condition(self, cond: jax.Array) -> jax.Array:
    """The condition path's shared first part: cond [batch, time] -> [batch, time, C]."""
    return nn.silu(from_audio(cond, *self.condition_projection(), self.dtype))

  def condition_features(self, cond: jax.Array) -> tuple[jax.Array, ...]:
    """The step-independent condition path. cond: [batch, time] -> layers x [batch, time, 2C].

    A tuple, not a stacked array: the gradient of a stack is a full-size buffer per layer.
    """
    c = self.condition(cond)
    return tuple(layer.condition_features(c) for layer in self.layers)

  def denoise(self, noisy: jax.Array, cond_features: tuple[jax.Array, ...], noise_level: jax.Array,
              noise_std: jax.Array | None = None) -> jax.Array:
    """noisy: [batch, time], cond_features: layers x [batch, time, 2C], noise_level and noise_std:
    [batch] -> [batch, time]."""
    return self.network(noisy, noise_level, noise_std,
                        lambda i, h, shift: self.layers[i](h, cond_features[i], shift))

  def __call__(self, noisy: jax.Array, cond: jax.Array, noise_level: jax.Array,
               noise_std: jax.Array | None = None) -> jax.Array:
    """denoise(noisy, condition_features(cond), ...), each layer's condition conv inside the layer
    (the same value; a faster gradient: `two_dilated_convs`)."""
    c = self.condition(cond)
    return self.network(noisy, noise_level, noise_std,
                        lambda i, h, shift: self.layers[i].from_condition(h, c, shift))

  def network(self, noisy: jax.Array, noise_level: jax.Array, noise_std: jax.Array | None, layer_fn):
    """The noise-dependent part around the layers; layer_fn(i, h, next_shift) -> (h, skip) runs
    layer i."""
    x = nn.silu(from_audio(noisy, *self.input_projection(), self.dtype))
    if self.noise_input == 'log_snr':
      if noise_std is None:
        raise ValueError("model.noise_input 'log_snr' needs the noise std beside the level")
      noise_level = log_snr(noise_level, noise_std)
    e = noise_level_features(noise_level, self.embedding_channels, self.embedding_scale)
    e = nn.silu(self.embedding_projection2(nn.silu(self.embedding_projection1(e))))
    offsets = [layer.embedding_offset(e) for layer in self.layers]
    h = x + offsets[0]
    skip_sum = 0.0
    for i in range(len(self.layers)):
      next_offset = offsets[i + 1] if i + 1 < len(self.layers) else 0.0  # the last h is unused
      h, skip = layer_fn(i, h, next_offset - offsets[i] / math.sqrt(2.0))
      skip_sum = skip_sum + skip
    kernel, bias = self.skip_projection()
    y = nn.silu(pointwise(skip_sum / math.sqrt(len(self.layers)), kernel, bias, self.dtype))
    kernel, bias = self.output_projection()
    return pointwise(y, kernel, bias, self.dtype)[..., 0].astype(jnp.float32)


def build_model(config: ml_collections.ConfigDict) -> NuWave:
  """The network described by `config.model` (a `get_config()` result)."""
  m = config.model
  return NuWave(residual_channels=m.residual_channels, residual_layers=m.residual_layers,
                dilation_cycle=m.dilation_cycle, kernel_size=m.kernel_size,
                embedding_channels=m.embedding_channels, embedding_dim=m.embedding_dim,
                embedding_scale=m.embedding_scale, dtype=jnp.dtype(m.dtype),
                noise_input=m.noise_input)


def init_params(module: NuWave, rng: jax.Array, time: int = 64):
  """Float32 params for `module` (shapes do not depend on `time`)."""
  zeros = jnp.zeros((1, time), jnp.float32)
  half = jnp.full((1,), math.sqrt(0.5), jnp.float32)
  return module.init(rng, zeros, zeros, half, half)['params']
