"""How the original NU-Wave's PyTorch checkpoints map to our parameters (docs/reference.md §1).

Its state dict's names carry the prefix "model." (the Lightning module holds the network as .model);
its one buffer, diffusion_embedding.exponents, holds the embedding's frequencies and is checked
against the config, then dropped.
"""

import numpy as np

from nuwave_jax import families
from nuwave_jax.families import CONV
from nuwave_jax.families import LINEAR

EXPONENTS_KEY = 'diffusion_embedding.exponents'


def names(config) -> dict[str, tuple[tuple[str, ...], str]]:
  """The original's module names -> (our param path, kind)."""
  table = {
      'input_projection': (('input_projection',), CONV),
      'low_projection': (('condition_projection',), CONV),
      'diffusion_embedding.projection1': (('embedding_projection1',), LINEAR),
      'diffusion_embedding.projection2': (('embedding_projection2',), LINEAR),
      'skip_projection': (('skip_projection',), CONV),
      'output_projection': (('output_projection',), CONV),
  }
  for i in range(config.model.residual_layers):
    layer = f'layer_{i}'
    table[f'residual_layers.{i}.diffusion_projection'] = ((layer, 'diffusion_projection'), LINEAR)
    table[f'residual_layers.{i}.dilated_conv'] = ((layer, 'dilated_conv'), CONV)
    table[f'residual_layers.{i}.low_projection'] = ((layer, 'condition_conv'), CONV)
    table[f'residual_layers.{i}.output_projection'] = ((layer, 'output_projection'), CONV)
  return table


def buffers(config) -> set[str]:
  del config
  return {EXPONENTS_KEY}


def check_buffers(state: dict, config) -> None:
  """The exponents must be the frequencies this config computes."""
  half = config.model.embedding_channels // 2
  exponents = 1e-4 ** (np.arange(half) / half)
  # rtol 1e-3: a checkpoint saved in float16 rounds them by up to 4.9e-4.
  if state[EXPONENTS_KEY].shape != exponents.shape or not np.allclose(state[EXPONENTS_KEY], exponents, rtol=1e-3):
    raise ValueError(f'{EXPONENTS_KEY} (shape {state[EXPONENTS_KEY].shape}) does not hold the '
                     f'{half} noise-level frequencies this config computes')


def check_config(config) -> None:
  """The original network embeds the level, predicts the noise and sees y_t itself."""
  m = config.model
  if m.noise_input != 'level':
    raise ValueError(f"the original network embeds the noise level: model.noise_input must be "
                     f"'level', not {m.noise_input!r}")
  if m.prediction != 'eps':
    raise ValueError(f"the original network predicts the noise: model.prediction must be 'eps', "
                     f"not {m.prediction!r}")
  if m.network_input != 'noisy':
    raise ValueError(f"the original network sees y_t itself: model.network_input must be 'noisy', "
                     f"not {m.network_input!r}")


def hyper_parameters(config) -> tuple:
  """hparameter.yaml's fields the weights cannot tell: the ratio and the dilation cycle."""
  ratio = config.data.ratio
  return ((('audio', 'ratio'), 'data.ratio', ratio, lambda theirs: f'use configs/nuwave_x{theirs}.py'),
          (('arch', 'dilation_cycle_length'), 'model.dilation_cycle', config.model.dilation_cycle, None))


TORCH_KEYS = families.TorchKeys(prefixes=('model.',), names=names, buffers=buffers, check_buffers=check_buffers,
                                check_config=check_config, hyper_parameters=hyper_parameters)
