"""How the original NU-Wave 2's PyTorch checkpoints map to our parameters (docs/reference.md §8).

Its state dict's names carry the prefix "model.model." (the Lightning module holds the diffusion
wrapper, which holds the network); each Fourier unit stores its Hann window as a buffer, checked to be
the window our STFT uses, then dropped.
"""

import numpy as np

from nuwave_jax import families
from nuwave_jax.families import CONV
from nuwave_jax.families import CONV2D_1X1_NO_BIAS
from nuwave_jax.families import CONV_NO_BIAS
from nuwave_jax.families import LINEAR
from nuwave_jax.nuwave2 import stft
from nuwave_jax.stft import hann_window

HANN_WINDOW = 'hann_window'


def names(config) -> dict[str, tuple[tuple[str, ...], str]]:
  """The original's module names -> (our param path, kind)."""
  table = {
      'input_projection': (('input_projection',), CONV),
      'diffusion_embedding.projection1': (('embedding_projection1',), LINEAR),
      'diffusion_embedding.projection2': (('embedding_projection2',), LINEAR),
      'skip_projection': (('skip_projection',), CONV),
      'output_projection': (('output_projection',), CONV),
  }
  for i in range(config.model.residual_layers):
    layer, ffc = f'layer_{i}', f'residual_layers.{i}.ffc1'
    spectral = (layer, 'stfc', 'global_to_global')
    table.update({
        f'residual_layers.{i}.diffusion_projection': ((layer, 'diffusion_projection'), LINEAR),
        f'residual_layers.{i}.output_projection': ((layer, 'output_projection'), CONV),
        f'{ffc}.convl2l': ((layer, 'stfc', 'local_to_local'), CONV_NO_BIAS),
        f'{ffc}.convl2g': ((layer, 'stfc', 'local_to_global'), CONV_NO_BIAS),
        f'{ffc}.convg2l': ((layer, 'stfc', 'global_to_local'), CONV_NO_BIAS),
        f'{ffc}.convg2g.conv1': (spectral + ('conv1',), CONV_NO_BIAS),
        f'{ffc}.convg2g.conv2': (spectral + ('conv2',), CONV_NO_BIAS),
        f'{ffc}.convg2g.fu.conv_layer': (spectral + ('fourier', 'conv'), CONV2D_1X1_NO_BIAS),
        f'{ffc}.convg2g.fu.bsft.mlp_shared': (spectral + ('fourier', 'bsft', 'shared'), CONV),
        f'{ffc}.convg2g.fu.bsft.mlp_gamma': (spectral + ('fourier', 'bsft', 'gamma'), CONV),
        f'{ffc}.convg2g.fu.bsft.mlp_beta': (spectral + ('fourier', 'bsft', 'beta'), CONV),
    })
  return table


def buffers(config) -> set[str]:
  return {f'residual_layers.{i}.ffc1.convg2g.fu.{HANN_WINDOW}' for i in range(config.model.residual_layers)}


def check_buffers(state: dict, config) -> None:
  """Every stored window must be the periodic Hann window of the STFT's size."""
  window = hann_window(stft.N_FFT)
  bad = sorted(k for k in buffers(config)
               if state[k].shape != window.shape or not np.allclose(state[k], window, atol=1e-3))
  if bad:
    raise ValueError(f'{bad[:3]} do not hold the periodic Hann window of {stft.N_FFT} samples the STFT uses')


def check_config(config) -> None:
  """Every NU-Wave 2 config's network is the original's."""
  del config


def hyper_parameters(config) -> tuple:
  """hparameter.yaml's fields the weights cannot tell: the output rate (its authors also released a
  16 kHz-output model), the STFT, the log-SNR range and the embedding."""
  m, d = config.model, config.diffusion
  stft_advice = lambda theirs: 'nuwave-jax computes the STFT of the released models'
  return ((('audio', 'sampling_rate'), 'data.sample_rate_hz', config.data.sample_rate_hz,
           lambda theirs: f'it makes {theirs} Hz audio, and nuwave-jax upsamples to {config.data.sample_rate_hz} Hz'),
          (('audio', 'filter_length'), 'the STFT size', stft.N_FFT, stft_advice),
          (('audio', 'hop_length'), 'the STFT hop', stft.HOP, stft_advice),
          (('logsnr', 'logsnr_min'), 'diffusion.logsnr_min', d.logsnr_min, None),
          (('logsnr', 'logsnr_max'), 'diffusion.logsnr_max', d.logsnr_max, None),
          (('dpm', 'pos_emb_scale'), 'model.embedding_scale', m.embedding_scale, None),
          (('dpm', 'pos_emb_channels'), 'model.embedding_channels', m.embedding_channels, None))


TORCH_KEYS = families.TorchKeys(prefixes=('model.model.', 'model.'), names=names, buffers=buffers,
                                check_buffers=check_buffers, check_config=check_config,
                                hyper_parameters=hyper_parameters)
