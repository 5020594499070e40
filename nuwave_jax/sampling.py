"""What every family's sampler shares: noise drawn by position, and signals of any length sampled in
overlapping chunks, batched across signals.

Gaussian noise is a function of (example key, step, absolute sample position): a chunk of a long file
that starts at sample s draws the same noise as the whole file does at s, which makes chunked sampling
match unchunked sampling where the overlap covers the network's context. A family's sampler
(`families.Sampler`) takes a batch of conditions, keys and start positions; `sample_chunked` cuts
signals into chunks, calls it batch by batch and joins the chunks with a cross-fade.
"""

from typing import Callable

import jax
import jax.numpy as jnp
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np

NOISE_BLOCK_SAMPLES = 1024  # noise is drawn in blocks of this many samples, keyed by block index
SHORT_WIDTHS = 8  # a signal shorter than a chunk is padded to a multiple of chunk / SHORT_WIDTHS

NoiseFn = Callable[[jax.Array], jax.Array]  # step index i -> [batch, time]; i = 0 is the initial y_T


class Devices:
  """The devices a batch of chunks is sharded over: rows split over a 1-D mesh (axis 'rows'), the
  parameters and the schedule replicated. One process's own devices (`jax.local_devices()`): several
  hosts each sample their own files."""

  def __init__(self, devices=None):
    self.devices = list(jax.local_devices() if devices is None else devices)
    mesh = Mesh(np.asarray(self.devices), ('rows',))
    self.rows = NamedSharding(mesh, P('rows'))
    self.replicated = NamedSharding(mesh, P())

  def __len__(self) -> int:
    return len(self.devices)

  def describe(self) -> str:
    """'8 cpu devices'."""
    platform = self.devices[0].platform
    return f'{len(self)} {platform} device{"s" if len(self) > 1 else ""}'

  def replicate(self, tree):
    return jax.device_put(tree, self.replicated)

  def split_rows(self, tree):
    return jax.device_put(tree, self.rows)


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


def _crossfade_weights(width: int, left: int, right: int) -> np.ndarray:
  """Weights of one chunk when joining, given its overlaps with the chunks before (`left` samples)
  and after (`right`; 0 where there is none): 1 inside, and in each overlap 0 over the outer quarter
  (the part sampled with the least context), a raised-cosine ramp over the central half, 1 over the
  inner quarter. A neighbour's ramp over the same overlap is the mirror image, so the weights of the
  two chunks sum to 1 there. [width] float64."""
  weights = np.ones(width)
  for overlap, side in ((left, slice(None)), (right, slice(None, None, -1))):
    if overlap:
      fade, margin = overlap // 2, overlap // 4
      ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)
      edge = weights[side]
      edge[:margin] = 0.0
      edge[margin:margin + fade] = ramp
  return weights


def round_up_to_blocks(samples: int) -> int:
  """The smallest multiple of NOISE_BLOCK_SAMPLES >= samples (at least one block)."""
  return max(1, -(-samples // NOISE_BLOCK_SAMPLES)) * NOISE_BLOCK_SAMPLES


def plan_chunks(length: int, chunk: int, overlap: int) -> list[tuple[int, int]]:
  """(start, width) of the chunks that tile [0, length) with the fewest extra samples.

  A signal no longer than a chunk is one chunk, its length rounded up to a multiple of an eighth of
  a chunk (in whole noise blocks), so that a folder of short files compiles the sampler for at most
  nine widths, not one per length. A longer one: chunks of `chunk` samples every chunk - overlap
  samples, the last one moved back so that it ends within a noise block after the signal (it then
  overlaps its neighbour by more than `overlap`). Starts are multiples of NOISE_BLOCK_SAMPLES, so
  that every chunk draws the noise the whole signal would (`positional_noise`).
  """
  if chunk % NOISE_BLOCK_SAMPLES or overlap % NOISE_BLOCK_SAMPLES or not 0 <= overlap < chunk:
    raise ValueError(f'chunk ({chunk}) and overlap ({overlap}) must be multiples of '
                     f'{NOISE_BLOCK_SAMPLES} samples with overlap < chunk')
  if length <= chunk:
    bucket = max(1, chunk // NOISE_BLOCK_SAMPLES // SHORT_WIDTHS) * NOISE_BLOCK_SAMPLES
    return [(0, min(chunk, max(1, -(-length // bucket)) * bucket))]
  hop = chunk - overlap
  count = 1 + -(-(length - chunk) // hop)
  starts = [i * hop for i in range(count - 1)] + [round_up_to_blocks(length - chunk)]
  return [(start, chunk) for start in starts]


def sample_chunked(sample, params, conditions: list[np.ndarray], keys: list[jax.Array], schedule,
                   chunk: int, overlap: int, batch_size: int, on_batch: Callable[[int], None] | None = None,
                   extras: dict[str, list[np.ndarray]] | None = None,
                   devices: Devices | None = None) -> list[np.ndarray]:
  """Samples signals of any length in overlapping chunks, batched across signals and chunks.

  sample: a family's `Sampler.sample`; conditions: 48 kHz conditions [time] of any lengths; keys:
  one PRNG key per signal; extras: {name: one array per signal} that `sample` takes by name, stacked
  per row (NU-Wave 2's band mask). Chunks of one width are sampled `batch_size` per device at a time
  (the last call of a width takes only the chunks left, padded to a multiple of the devices with rows
  of silence that are then dropped) and joined with a cross-fade (`_crossfade_weights`). devices:
  where the rows go (`Devices`; params and schedule already replicated there), or None for JAX's
  default device. Because noise is positional, a chunk draws the same noise as the whole signal, so
  with enough overlap the result equals unchunked sampling, whatever the batch. on_batch(n) is called
  after each call on n chunks (for a progress bar). Returns [time] float32s.
  """
  if batch_size < 1:
    raise ValueError(f'batch_size must be at least 1, got {batch_size}')
  extras = extras or {}
  shards = len(devices) if devices else 1
  rows_per_call = batch_size * shards
  work = []  # (signal, start, width, left overlap, right overlap)
  for i, cond in enumerate(conditions):
    plan = plan_chunks(len(cond), chunk, overlap)
    ends = [start + width for start, width in plan]
    for j, (start, width) in enumerate(plan):
      left = ends[j - 1] - start if j else 0
      right = ends[j] - plan[j + 1][0] if j + 1 < len(plan) else 0
      work.append((i, start, width, left, right))
  sums = [np.zeros(len(c)) for c in conditions]
  norms = [np.zeros(len(c)) for c in conditions]
  # Widest first: with freed host memory kept for reuse (host_memory), the scratch space of the widest
  # call then serves every narrower one, where ascending widths would each need a fresh, larger block.
  for width in sorted({w[2] for w in work}, reverse=True):
    items = [w for w in work if w[2] == width]
    for b in range(0, len(items), rows_per_call):
      batch = items[b:b + rows_per_call]
      rows = -(-len(batch) // shards) * shards
      padded = batch + batch[-1:] * (rows - len(batch))  # padding rows: a copy of the last, then dropped
      cond = np.zeros((rows, width), np.float32)
      for row, (i, start, *_) in enumerate(batch):
        piece = conditions[i][start:start + width]
        cond[row, :len(piece)] = piece
      starts = np.array([start for _, start, *_ in padded], np.int32)
      batch_keys = jnp.stack([keys[i] for i, *_ in padded])
      batch_extras = {name: np.stack([values[i] for i, *_ in padded]) for name, values in extras.items()}
      arguments = (cond, batch_keys, starts, batch_extras)
      if devices:
        arguments = devices.split_rows(arguments)
      cond, batch_keys, starts, batch_extras = arguments
      out = np.asarray(sample(params, cond, schedule, batch_keys, starts, **batch_extras))
      for row, (i, start, _, left, right) in enumerate(batch):
        n = min(width, len(conditions[i]) - start)
        weights = _crossfade_weights(width, left, right)[:n]
        sums[i][start:start + n] += weights * out[row, :n]
        norms[i][start:start + n] += weights
      if on_batch:
        on_batch(len(batch))
  return [(s / np.maximum(n, 1e-12)).astype(np.float32) for s, n in zip(sums, norms)]
