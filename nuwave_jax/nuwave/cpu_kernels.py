"""The NU-Wave network's CPU form: the same parameters and values as `model.NuWave`, computed in the
way XLA's CPU compiler runs fastest. `model.NuWave` switches to it when `config.model.kernels` is
'cpu' (or 'auto' and JAX computes on a CPU); tests/test_cpu_kernels.py holds it equal to the plain
network in values and gradients.

Four changes, each measured on this project's 2-core benchmark CPUs (docs/performance.md, "What was
tried"):
- `materialized`: each layer's residual output is written to memory once. XLA's CPU fusion otherwise
  recomputes the residual chain from the first layer on inside every later layer (a denoise call
  1.75x slower).
- `two_dilated_convs`: in training, a layer's dilated conv and condition conv as one function whose
  gradient takes both inputs' gradients from one conv with the kernels side by side, and the kernel
  gradients from `conv1d_same_kernel_grad` (a train-step gradient ~4 % faster; its fold of consecutive
  samples for a batch of one ~3 % more).
- `two_projections`: the residual and skip 1x1 convs, whose kernel gradient is one product of the
  gated activations' explicit transpose with both output gradients (XLA's own ran at 23 GFLOP/s; a
  train step ~10 % faster).
- Each layer's noise-level offset Linear(e) is carried on the previous layer's residual bias, and
  the 1/sqrt 2 on the residual kernel, so that no pass over the features adds them; 1x1 convs are
  matmuls (from one channel, broadcasts).
GPU and TPU compilers fuse and schedule differently; there the plain network is the default until
these are measured there (benchmarks/accelerator.py).

Params are the network's own tree ({'layer_0': {'dilated_conv': {'kernel', 'bias'}, ...}, ...}).
Shapes are channels-last: audio [batch, time], features [batch, time, channels].
"""

import functools
import math

import jax
import jax.numpy as jnp


def conv1d_same(x: jax.Array, kernel: jax.Array, dilation: int) -> jax.Array:
  """'Same'-padded 1-D conv without bias: [batch, time, in] x [k, in, out] -> [batch, time, out]."""
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
  padding and the length are multiples of them (free reshapes; the same sums): on an AVX-512 CPU the
  conv ran 1.4x faster, a train step about 3 %; with more examples the transposes it needs cost more
  than it saves. The folded features are ordered (example, sample), so that a batch sharded across
  devices is summed by an all-reduce, not gathered.
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
  runs faster than two.
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


@jax.custom_vjp
def two_projections(x: jax.Array, kernel: jax.Array) -> tuple[jax.Array, jax.Array]:
  """x @ kernel[:, :n] and x @ kernel[:, n:], n = out / 2, without bias: [batch, time, in] x
  [in, out] -> two [batch, time, out / 2].

  The value is two matmuls (a CPU runs them side by side: sampling 5 % faster than one matmul and
  a split). The gradient takes x's gradient from one product with the whole kernel, and the kernel's
  gradient from one product of x's explicit transpose [in, batch * time] with both output gradients
  side by side: XLA's own gradient, two products that contract both operands' long axis, ran at
  23 GFLOP/s on a CPU.
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


def materialized(x: jax.Array, runtime_scalar: jax.Array) -> jax.Array:
  """x (any shape), computed once and written to memory.

  XLA's CPU fusion copies cheap elementwise producers into each of their consumers, so the residual
  chain h_(i+1) = h_i / sqrt 2 + ... would be recomputed, from the first layer on, inside every later
  layer's fusions. A conditional is never fused, so its result is computed once. Both branches return
  x (x * 1 is x exactly); `runtime_scalar`, a value the compiler cannot know (a parameter), only keeps
  it from folding the conditional away.
  """
  return jax.lax.cond(runtime_scalar == runtime_scalar, lambda v: v, lambda v: v * 1, x)


def from_audio(audio: jax.Array, conv: dict, dtype) -> jax.Array:
  """A 1x1 conv from one channel: [batch, time] with {'kernel': [1, 1, C], 'bias': [C]} ->
  [batch, time, C] in `dtype`."""
  return audio[..., None].astype(dtype) * conv['kernel'][0].astype(dtype) + conv['bias'].astype(dtype)


def pointwise(x: jax.Array, conv: dict, dtype) -> jax.Array:
  """A 1x1 conv as a matmul: [..., in] with {'kernel': [1, in, out], 'bias': [out]} -> [..., out]."""
  return x.astype(dtype) @ conv['kernel'][0].astype(dtype) + conv['bias'].astype(dtype)


def condition_features(params: dict, cond: jax.Array, dilations: tuple[int, ...], dtype) -> tuple:
  """`NuWave.condition_features`: cond [batch, time] -> layers x [batch, time, 2C]."""
  c = jax.nn.silu(from_audio(cond, params['condition_projection'], dtype))
  return tuple(dilated_conv1d(c, params[f'layer_{i}']['condition_conv']['kernel'],
                              params[f'layer_{i}']['condition_conv']['bias'], d)
               for i, d in enumerate(dilations))


def denoise(params: dict, noisy: jax.Array, cond_features: tuple, embedding: jax.Array,
            dilations: tuple[int, ...], dtype) -> jax.Array:
  """`NuWave.denoise` from the embedding e [batch, E]: noisy [batch, time], cond_features layers x
  [batch, time, 2C] -> [batch, time] float32."""
  def layer(i, h, next_shift):
    conv = params[f'layer_{i}']['dilated_conv']
    u = dilated_conv1d(h, conv['kernel'], conv['bias'], dilations[i]) + cond_features[i]
    return _gated_residual(params[f'layer_{i}'], h, u, next_shift)

  return _network(params, noisy, embedding, len(dilations), dtype, layer)


def forward(params: dict, noisy: jax.Array, cond: jax.Array, embedding: jax.Array,
            dilations: tuple[int, ...], dtype) -> jax.Array:
  """`NuWave.__call__` from the embedding e [batch, E], each layer's condition conv run inside the
  layer (`two_dilated_convs`: the same value, a faster gradient): noisy, cond [batch, time] ->
  [batch, time] float32."""
  c = jax.nn.silu(from_audio(cond, params['condition_projection'], dtype))

  def layer(i, h, next_shift):
    p = params[f'layer_{i}']
    u = two_dilated_convs(h, c, p['dilated_conv']['kernel'], p['dilated_conv']['bias'],
                          p['condition_conv']['kernel'], p['condition_conv']['bias'], dilations[i])
    return _gated_residual(p, h, u, next_shift)

  return _network(params, noisy, embedding, len(dilations), dtype, layer)


def _offset(layer_params: dict, embedding: jax.Array, dtype) -> jax.Array:
  """A layer's Linear(e): [batch, E] -> [batch, 1, C]."""
  dense = layer_params['diffusion_projection']
  return (embedding @ dense['kernel'] + dense['bias'])[:, None, :].astype(dtype)


def _network(params: dict, noisy: jax.Array, embedding: jax.Array, num_layers: int, dtype, layer_fn):
  """The layers and the output head. The paper's layer input is x_i + offset_i; here h_i = x_i +
  offset_i is carried from layer to layer, and layer_fn(i, h_i, next_shift) -> (h_(i+1), skip_i)
  adds next_shift = offset_(i+1) - offset_i / sqrt 2 through the residual bias."""
  x = jax.nn.silu(from_audio(noisy, params['input_projection'], dtype))
  offsets = [_offset(params[f'layer_{i}'], embedding, dtype) for i in range(num_layers)]
  h = x + offsets[0]
  skip_sum = 0.0
  for i in range(num_layers):
    next_offset = offsets[i + 1] if i + 1 < num_layers else 0.0  # the last h is unused
    h, skip = layer_fn(i, h, next_offset - offsets[i] / math.sqrt(2.0))
    skip_sum = skip_sum + skip
  y = jax.nn.silu(pointwise(skip_sum / math.sqrt(num_layers), params['skip_projection'], dtype))
  return pointwise(y, params['output_projection'], dtype)[..., 0].astype(jnp.float32)


def _gated_residual(layer_params: dict, h: jax.Array, u: jax.Array, next_shift: jax.Array):
  """The gate on u [batch, time, 2C] and the two 1x1 convs: (next layer's h, skip), [batch, time, C]."""
  dtype = h.dtype
  c = h.shape[-1]
  gated = jax.nn.sigmoid(u[..., :c]) * jnp.tanh(u[..., c:])
  kernel = layer_params['output_projection']['kernel'][0].astype(dtype)
  bias = layer_params['output_projection']['bias'].astype(dtype)
  scale = 1.0 / math.sqrt(2.0)
  halves = jnp.concatenate([jnp.full((c,), scale, dtype), jnp.ones((c,), dtype)])
  residual, skip = two_projections(gated, kernel * halves)  # the residual part / sqrt 2
  h_next = h * scale + residual + (bias[:c] * scale + next_shift)
  return materialized(h_next, kernel[0, 0]), skip + bias[c:]
