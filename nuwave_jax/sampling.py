"""The reverse diffusion as one jitted `lax.scan` (docs/reference.md §2, paper Algorithm 2).

The sampler takes the denoiser as a callable and the schedule as arrays, so a test can pass an oracle
denoiser and a new schedule of the same length does not recompile. Gaussian noise is a function of
(example key, step, absolute sample position): a chunk of a long file that starts at sample s draws the
same noise as the whole file does at s, which makes chunked sampling match unchunked sampling.
"""

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from nuwave_jax import diffusion

NOISE_BLOCK_SAMPLES = 1024  # noise is drawn in blocks of this many samples, keyed by block index

NoiseFn = Callable[[jax.Array], jax.Array]  # step index i -> [batch, time]; i = 0 is the initial y_T


def positional_noise(keys: jax.Array, start_samples: jax.Array, time: int) -> NoiseFn:
  """Noise keyed by position. keys: [batch] PRNG keys; start_samples: [batch] int, multiples of
  NOISE_BLOCK_SAMPLES, the absolute position of sample 0 of each row."""
  num_blocks = -(-time // NOISE_BLOCK_SAMPLES)
  first_block = start_samples // NOISE_BLOCK_SAMPLES

  def one_row(key, first, i):
    step_key = jax.random.fold_in(key, i)
    blocks = first + jnp.arange(num_blocks)
    draw = lambda b: jax.random.normal(jax.random.fold_in(step_key, b), (NOISE_BLOCK_SAMPLES,))
    return jax.vmap(draw)(blocks).reshape(-1)[:time]

  return lambda i: jax.vmap(one_row, in_axes=(0, 0, None))(keys, first_block, i)


def reverse_diffusion(denoise: diffusion.Denoiser, noise: NoiseFn,
                      schedule: diffusion.Schedule) -> jax.Array:
  """y_T ~ N(0, I), then T ancestral steps down to y_0. -> [batch, time] float32."""
  num_steps = schedule.betas.shape[0]

  def step(y, t):
    level = jnp.broadcast_to(schedule.levels[t], y.shape[:1])
    std = jnp.broadcast_to(schedule.noise_stds[t], y.shape[:1])
    return diffusion.reverse_step(y, denoise(y, level, std), t, schedule, noise(t)), None

  y, _ = jax.lax.scan(step, noise(0), jnp.arange(num_steps, 0, -1))
  return y


def make_upsampler(module: nn.Module, prediction: str = 'eps', network_input: str = 'noisy'):
  """A jitted `upsample(params, cond, schedule, keys, start_samples) -> [batch, time]`.

  cond: [batch, time] condition (`conditioning.make_condition` or a real low-rate file brought to
  48 kHz); keys: [batch] PRNG keys; start_samples: [batch] int (0 for whole utterances). The condition
  path (`module`'s condition_features) runs once per call; each of the T steps runs only the
  noise-dependent part (its denoise). `prediction` is what the network outputs and `network_input`
  what it sees in place of y_t (config.model.prediction, config.model.network_input).
  """
  @jax.jit
  def upsample(params, cond, schedule, keys, start_samples):
    variables = {'params': params}
    features = module.apply(variables, cond, method='condition_features')
    network = lambda x, level, std: module.apply(variables, x, features, level, std, method='denoise')
    denoise = diffusion.make_denoiser(network, cond, prediction, network_input)
    return reverse_diffusion(denoise, positional_noise(keys, start_samples, cond.shape[1]), schedule)

  return upsample


def _crossfade_weights(width: int, overlap: int, first: bool, last: bool) -> np.ndarray:
  """Weights of one chunk when joining: 1 inside, raised-cosine ramps over the central half of each
  overlap, 0 in the outer quarter (the part sampled with the least context). [width] float64."""
  weights = np.ones(width)
  fade = overlap // 2
  margin = (overlap - fade) // 2
  ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade) if fade else np.zeros(0)
  if not first:
    weights[:margin] = 0.0
    weights[margin:margin + fade] = ramp
  if not last:
    weights[width - margin - fade:width - margin] = ramp[::-1]
    weights[width - margin:] = 0.0
  return weights


def plan_chunks(length: int, chunk: int, overlap: int) -> list[tuple[int, int]]:
  """(start, width) of the chunks covering [0, length): starts are multiples of chunk - overlap.

  A signal no longer than a chunk is one chunk whose width is rounded up to a power-of-two number of
  noise blocks (few distinct shapes, so few compilations).
  """
  if chunk % NOISE_BLOCK_SAMPLES or overlap % NOISE_BLOCK_SAMPLES or not 0 <= overlap < chunk:
    raise ValueError(f'chunk ({chunk}) and overlap ({overlap}) must be multiples of '
                     f'{NOISE_BLOCK_SAMPLES} samples with overlap < chunk')
  if length <= chunk:
    width = NOISE_BLOCK_SAMPLES
    while width < length:
      width *= 2
    return [(0, min(width, chunk))]
  hop = chunk - overlap
  starts = [0]
  while starts[-1] + chunk < length:
    starts.append(starts[-1] + hop)
  return [(s, chunk) for s in starts]


def upsample_chunked(upsample, params, conditions: list[np.ndarray], keys: list[jax.Array],
                     schedule: diffusion.Schedule, chunk: int, overlap: int, batch_size: int,
                     on_batch: Callable[[int], None] | None = None) -> list[np.ndarray]:
  """Samples signals of any length in overlapping chunks, batched across signals and chunks.

  conditions: 48 kHz conditions [time] of any lengths; keys: one PRNG key per signal. Chunks are
  joined with a cross-fade (see `_crossfade_weights`). Because noise is positional, a chunk draws
  the same noise as the whole signal, so with enough overlap the result equals unchunked sampling.
  on_batch(n) is called after each batch of n chunks (for a progress bar). Returns [time] float32s.
  """
  if batch_size < 1:
    raise ValueError(f'batch_size must be at least 1, got {batch_size}')
  work = [(i, start, width, index == 0, index == len(plan) - 1)
          for i, cond in enumerate(conditions)
          for plan in [plan_chunks(len(cond), chunk, overlap)]
          for index, (start, width) in enumerate(plan)]
  sums = [np.zeros(len(c)) for c in conditions]
  norms = [np.zeros(len(c)) for c in conditions]
  for width in sorted({w[2] for w in work}):
    items = [w for w in work if w[2] == width]
    for b in range(0, len(items), batch_size):
      batch = items[b:b + batch_size]
      cond = np.zeros((batch_size, width), np.float32)
      for row, (i, start, _, _, _) in enumerate(batch):
        piece = conditions[i][start:start + width]
        cond[row, :len(piece)] = piece
      rows = [keys[i] for i, *_ in batch] + [keys[batch[0][0]]] * (batch_size - len(batch))
      starts = np.array([s for _, s, *_ in batch] + [0] * (batch_size - len(batch)), np.int32)
      out = np.asarray(upsample(params, cond, schedule, jnp.stack(rows), starts))
      for row, (i, start, _, first, last) in enumerate(batch):
        n = min(width, len(conditions[i]) - start)
        weights = _crossfade_weights(width, overlap, first, last)[:n]
        sums[i][start:start + n] += weights * out[row, :n]
        norms[i][start:start + n] += weights
      if on_batch:
        on_batch(len(batch))
  return [(s / np.maximum(n, 1e-12)).astype(np.float32) for s, n in zip(sums, norms)]
