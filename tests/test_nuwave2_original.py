"""NU-Wave 2 against the authors' own model.py, where a checkout of github.com/maum-ai/nuwave2 and
PyTorch are at hand: NUWAVE2_ORIGINAL=/path/to/nuwave2 python -m pytest tests/test_nuwave2_original.py.

The original calls torch.stft(return_complex=False) and passes the real [..., 2] spectrum to
torch.istft, which torch 2.x refuses; the two calls are wrapped to go through complex spectra (the
same numbers). Nothing else of the original is changed.
"""

import importlib.util
import os
import types

import numpy as np
import pytest

from configs import nuwave2
from nuwave_jax import convert
from nuwave_jax.nuwave2 import conditioning
from nuwave_jax.nuwave2 import model as model_lib

ORIGINAL = os.environ.get('NUWAVE2_ORIGINAL', '')
pytestmark = pytest.mark.skipif(not os.path.isfile(os.path.join(ORIGINAL, 'model.py')),
                                reason='NUWAVE2_ORIGINAL is not a checkout of maum-ai/nuwave2 (its model.py)')


def _original_network(torch):
  spec = importlib.util.spec_from_file_location('nuwave2_original_model', os.path.join(ORIGINAL, 'model.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  stft, istft = torch.stft, torch.istft

  def real_stft(*args, return_complex=False, **kwargs):
    return torch.view_as_real(stft(*args, return_complex=True, **kwargs))

  def complex_istft(x, *args, **kwargs):
    return istft(torch.view_as_complex(x.contiguous()), *args, **kwargs)

  module.torch = types.SimpleNamespace(**{**vars(torch), 'stft': real_stft, 'istft': complex_istft})
  ns = types.SimpleNamespace
  hparams = ns(arch=ns(residual_layers=15, residual_channels=64, pos_emb_dim=512, bsft_channels=64),
               dpm=ns(pos_emb_scale=50000, pos_emb_channels=128),
               audio=ns(filter_length=1024, hop_length=256, win_length=1024, sampling_rate=48000))
  return module.NuWave2(hparams).eval()


def test_the_network_equals_the_originals_own_code():
  torch = pytest.importorskip('torch')
  torch.manual_seed(0)
  net = _original_network(torch)
  config = nuwave2.get_config()
  state_dict = {'model.model.' + k: v.numpy() for k, v in net.state_dict().items()}  # a Lightning file's keys
  params = convert.params_from_torch(state_dict, config)
  module = model_lib.build_model(config)
  rng = np.random.default_rng(1)
  noisy, cond = (0.5 * rng.normal(size=(2, 3, 8192))).astype(np.float32)
  band = np.stack([conditioning.band_mask(rate) for rate in (8000, 16000, 44100)])
  level = np.array([0.05, 0.5, 0.9], np.float32)
  ours = np.asarray(module.apply({'params': params}, noisy, cond, band, level))
  with torch.no_grad():
    theirs = net(torch.from_numpy(noisy), torch.from_numpy(cond), torch.from_numpy(band).long(),
                 torch.from_numpy(level)).numpy()
  # Both are float32 through 15 blocks; each is about 1.2e-4 of the output's peak from the same network
  # in float64 (measured 2026-12-01), so they agree to a few times that.
  assert np.abs(ours - theirs).max() < 5e-4 * np.abs(theirs).max()
