"""The numpy condition against PyTorch's own STFT and Upsample (what the original ran) and closed forms."""

import numpy as np
import pytest

from nuwave_jax.nuwave import conditioning


def test_half_pixel_linear_interpolation_closed_form():
  low = np.array([[0.0, 1.0, 2.0]])
  np.testing.assert_allclose(conditioning.upsample_linear(low, 2), [[0, 0.25, 0.75, 1.25, 1.75, 2]])
  # ratio 3: sources (i + 0.5) / 3 - 0.5 = -1/3 (clamped to 0), 0, 1/3, 2/3, 1, 4/3, 5/3, 2, 7/3 (-> 2)
  np.testing.assert_allclose(conditioning.upsample_linear(low, 3),
                             [[0, 0, 1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2, 2]], rtol=1e-6)
  np.testing.assert_allclose(conditioning.upsample_linear(low, 3, 7)[0], [0, 0, 1 / 3, 2 / 3, 1, 4 / 3, 5 / 3],
                             rtol=1e-6)


@pytest.mark.parametrize('ratio', [2, 3])
def test_lowpass_removes_everything_above_the_cutoff(ratio):
  t = np.arange(9600) / 48000
  keep_hz, drop_hz = 3000.0, 20000.0
  audio = (np.sin(2 * np.pi * keep_hz * t) + np.sin(2 * np.pi * drop_hz * t))[None]
  low = conditioning.lowpass(audio, ratio)
  spectrum = np.abs(np.fft.rfft(low[0, 1024:-1024] * np.hanning(9600 - 2048)))
  freqs = np.fft.rfftfreq(9600 - 2048, 1 / 48000)
  cutoff_hz = conditioning.cutoff_bin(1024, ratio) * 48000 / 1024
  assert cutoff_hz == {2: 12000.0, 3: 8015.625}[ratio]
  assert spectrum[freqs > cutoff_hz + 200].max() < 1e-4 * spectrum.max()
  # The passband tone survives untouched (away from the edges).
  np.testing.assert_allclose(low[0, 1024:-1024], np.sin(2 * np.pi * keep_hz * t[1024:-1024]), atol=1e-4)


@pytest.mark.parametrize('ratio,length', [(2, 4000), (3, 4000), (3, 32768)])
def test_condition_equals_the_originals_torch_pipeline(ratio, length):
  torch = pytest.importorskip('torch', reason='torch (the optional convert extra) is not installed')
  rng = np.random.default_rng(ratio)
  audio = rng.uniform(-1, 1, (2, length)).astype(np.float32)
  x = torch.nn.functional.pad(torch.from_numpy(audio).double(), (0, 1024))
  window = torch.hann_window(1024, dtype=torch.float64)
  spec = torch.stft(x, 1024, 256, window=window, center=True, pad_mode='reflect', return_complex=True)
  spec[:, int(513 / ratio):] = 0
  lp = torch.istft(spec, 1024, 256, window=window, center=True)[:, :length]
  low = lp[:, ::ratio].unsqueeze(1)
  up = torch.nn.Upsample(scale_factor=ratio, mode='linear', align_corners=False)(low)[:, 0, :length]
  np.testing.assert_allclose(conditioning.make_condition(audio, ratio), up.numpy(), atol=1e-5)


def test_make_condition_rejects_unbatched_audio():
  with pytest.raises(ValueError, match=r'\[batch, time\]'):
    conditioning.make_condition(np.zeros(100), 2)
