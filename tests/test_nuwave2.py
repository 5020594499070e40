"""NU-Wave 2: the network against a float64 numpy transcription of the original, its STFT against
PyTorch's, the any-rate condition, the log-SNR diffusion and the DDIM sampler against closed forms."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import nuwave2
from configs import nuwave2_tiny
from nuwave_jax import checkpoints
from nuwave_jax import convert
from nuwave_jax import families
from nuwave_jax import sampling
from nuwave_jax.nuwave2 import conditioning
from nuwave_jax.nuwave2 import diffusion
from nuwave_jax.nuwave2 import model as model_lib
from nuwave_jax.nuwave2 import sampling as nuwave2_sampling
from nuwave_jax.nuwave2 import stft
from tests import reference_nuwave2


def _relative_error(a, b):
  return float(np.linalg.norm(np.asarray(a, np.float64) - b) / np.linalg.norm(b))


def _state_dict(config, seed=0):
  m = config.model
  return reference_nuwave2.random_state_dict(np.random.default_rng(seed), m.residual_channels, m.residual_layers,
                                             m.embedding_channels, m.embedding_dim, m.bsft_channels)


def test_the_published_network_has_1711681_parameters():
  shapes = checkpoints.param_shapes(nuwave2.get_config())
  assert sum(int(np.prod(s)) for s in shapes.values()) == 1_711_681
  assert len([k for k in shapes if k[-1] == 'kernel' and k[0] == 'layer_14']) == 11


def test_stft_and_istft_are_torchs():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, 3, 2048)).astype(np.float32)
  spectrum = stft.stft(x)
  assert spectrum.shape == (2, 3, 9, 513)
  reference = reference_nuwave2.stft(x.reshape(6, 2048))  # [6, 513, 9]
  np.testing.assert_allclose(np.asarray(spectrum).reshape(6, 9, 513).transpose(0, 2, 1), reference, atol=2e-6)
  np.testing.assert_allclose(stft.istft(spectrum), x, atol=2e-6)  # a perfect reconstruction
  other = rng.normal(size=(4, 9, 513)) + 1j * rng.normal(size=(4, 9, 513))  # not the spectrum of a signal
  np.testing.assert_allclose(stft.istft(jnp.asarray(other, jnp.complex64)),
                             reference_nuwave2.istft(other.transpose(0, 2, 1)), atol=1e-5)
  torch = pytest.importorskip('torch')
  window = torch.hann_window(1024, dtype=torch.float64)
  theirs = torch.stft(torch.from_numpy(x.reshape(6, 2048).astype(np.float64)), 1024, 256,
                      window=window, center=True, normalized=True, onesided=True, return_complex=True)
  np.testing.assert_allclose(reference, theirs.numpy(), atol=1e-9)
  back = torch.istft(theirs, 1024, 256, window=window, center=True, normalized=True, onesided=True)
  np.testing.assert_allclose(reference_nuwave2.istft(theirs.numpy()), back.numpy(), atol=1e-9)


@pytest.mark.parametrize('config_fn, time', [(nuwave2_tiny.get_config, 1024), (nuwave2.get_config, 2048)])
def test_the_network_equals_a_float64_transcription_of_the_original_through_the_converter(config_fn, time):
  config = config_fn()
  state_dict = _state_dict(config)
  params = convert.params_from_torch(state_dict, config)
  rng = np.random.default_rng(1)
  noisy, cond = rng.normal(size=(2, 3, time)).astype(np.float32)
  bands = np.stack([conditioning.band_mask(rate) for rate in (8000, 22050, 44100)])
  level = np.array([0.05, 0.5, 0.97], np.float32)
  expected = reference_nuwave2.forward(state_dict, noisy, cond, bands, level, config.model.residual_layers)
  module = model_lib.build_model(config)
  got = module.apply({'params': params}, noisy, cond, bands, level)
  assert got.shape == (3, time) and got.dtype == jnp.float32
  assert _relative_error(got, expected) < 2e-5
  # BSFT's modulation computed once (the sampler's split) gives the same output.
  features = module.apply({'params': params}, bands, method='bsft_features')
  split = module.apply({'params': params}, noisy, cond, features, level, method='denoise')
  np.testing.assert_allclose(split, got, rtol=1e-6, atol=1e-6 * float(np.abs(got).max()))
  # The band matters: another band, another output.
  other = module.apply({'params': params}, noisy, cond, np.roll(bands, 1, axis=0), level)
  assert _relative_error(other, expected) > 1e-3


def test_bfloat16_convolutions_stay_near_float32():
  config = nuwave2_tiny.get_config()
  params = model_lib.init_params(model_lib.build_model(config), jax.random.key(0))
  rng = np.random.default_rng(2)
  noisy, cond = rng.normal(size=(2, 2, 2048)).astype(np.float32)
  band, level = np.stack([conditioning.band_mask(r) for r in (8000, 24000)]), np.array([0.1, 0.7], np.float32)
  full = model_lib.build_model(config).apply({'params': params}, noisy, cond, band, level)
  config.model.dtype = 'bfloat16'
  half = model_lib.build_model(config).apply({'params': params}, noisy, cond, band, level)
  assert half.dtype == jnp.float32
  assert 1e-4 < _relative_error(half, np.asarray(full, np.float64)) < 3e-2  # bfloat16's 8 bits, not float32's


def test_the_converter_names_what_does_not_fit():
  config = nuwave2_tiny.get_config()
  state_dict = _state_dict(config)
  bare = {k[len('model.model.'):]: v for k, v in state_dict.items()}  # a bare network state dict
  for a, b in zip(jax.tree.leaves(convert.params_from_torch(bare, config)),
                  jax.tree.leaves(convert.params_from_torch(state_dict, config))):
    np.testing.assert_array_equal(a, b)
  missing = dict(state_dict)
  del missing['model.model.residual_layers.1.ffc1.convl2g.weight']
  with pytest.raises(ValueError, match=r"missing \['residual_layers.1.ffc1.convl2g.weight'\]"):
    convert.params_from_torch(missing, config)
  extra = dict(state_dict, **{'model.model.residual_layers.2.ffc1.convl2l.weight': np.zeros((8, 4, 3))})
  with pytest.raises(ValueError, match=r"unexpected \['residual_layers.2.ffc1.convl2l.weight'\]"):
    convert.params_from_torch(extra, config)
  shaped = dict(state_dict, **{'model.model.residual_layers.0.ffc1.convg2g.fu.conv_layer.weight': np.zeros((8, 8))})
  with pytest.raises(ValueError, match=r'conv_layer.weight has shape \(8, 8\), expected \(8, 8, 1, 1\)'):
    convert.params_from_torch(shaped, config)
  window = dict(state_dict, **{'model.model.residual_layers.0.ffc1.convg2g.fu.hann_window': np.ones(1024)})
  with pytest.raises(ValueError, match='periodic Hann window'):
    convert.params_from_torch(window, config)
  with pytest.raises(ValueError, match=r"'model.model.input_projection.weight'|missing"):
    convert.params_from_torch(_state_dict(nuwave2.get_config()), config)  # the published size
  with pytest.raises(ValueError, match='was trained with audio.sampling_rate = 16000.*upsamples to 48000 Hz'):
    convert.check_hyper_parameters({'hparams': {'audio': {'sampling_rate': 16000}}}, config, 'x.ckpt')
  convert.check_hyper_parameters({'hparams': {'audio': {'sampling_rate': 48000, 'hop_length': 256},
                                              'logsnr': {'logsnr_min': -20.0, 'logsnr_max': 20.0}}}, config, 'x.ckpt')


@pytest.mark.parametrize('rate, bins', [(8000, 85), (11025, 117), (12000, 128), (16000, 171), (22050, 235),
                                        (24000, 256), (32000, 342), (44100, 471), (48000, 513)])
def test_the_condition_is_the_originals_test_path(rate, bins):
  import scipy.signal
  rng = np.random.default_rng(2)
  t = np.arange(48000 // 256 * 256) / 48000
  cutoff = rate // 2
  audio = np.stack([0.3 * np.sin(2 * np.pi * 0.5 * cutoff * t) + 0.3 * np.sin(2 * np.pi * min(1.4 * cutoff, 23000) * t),
                    0.1 * rng.normal(size=len(t))])
  cond, band = conditioning.band_limited(audio, rate)
  assert cond.shape == audio.shape and cond.dtype == np.float32 and band.shape == (2, 513)
  assert band.sum(axis=1).tolist() == [bins, bins] and np.all(band[:, :bins] == 1)  # int(cutoff / 24 kHz x 513)
  if rate == 48000:
    np.testing.assert_array_equal(cond, audio.astype(np.float32))
    return
  # The original's steps, written out: Chebyshev I (8, 0.05 dB), zero-phase, down to 2 x cutoff and back.
  sos = scipy.signal.cheby1(8, 0.05, cutoff / 24000, btype='lowpass', output='sos')
  for row, expected_input in zip(cond, audio):
    low = scipy.signal.resample_poly(scipy.signal.sosfiltfilt(sos, expected_input), cutoff * 2, 48000)
    expected = scipy.signal.resample_poly(low, 48000, cutoff * 2)[:len(t)]
    np.testing.assert_allclose(row, expected, atol=1e-6)
  # What it does: the tone at half the cutoff passes, the one above the cutoff is gone.
  spectrum = np.abs(np.fft.rfft(cond[0] * np.hanning(len(t))))
  tone = lambda hz: spectrum[int(round(hz * len(t) / 48000))]
  reference = np.abs(np.fft.rfft(audio[0] * np.hanning(len(t))))
  assert abs(tone(0.5 * cutoff) / reference[int(round(0.5 * cutoff * len(t) / 48000))] - 1) < 0.01
  assert tone(min(1.4 * cutoff, 23000)) < 1e-3 * tone(0.5 * cutoff)


def test_a_real_low_rate_file_is_resampled_and_banded_by_its_rate():
  audio = np.random.default_rng(3).normal(size=(1, 22050))
  cond, band = conditioning.from_low_rate(audio, 22050)
  assert cond.shape == (1, 48000 // 256 * 256) and band.sum() == 235


def test_the_log_snr_schedule_and_its_coefficients_follow_their_closed_forms():
  t = jnp.linspace(0.0, 1.0, 11)
  logsnr = diffusion.cosine_log_snr(t, -20.0, 20.0)
  np.testing.assert_allclose([logsnr[0], logsnr[-1]], [20.0, -20.0], atol=2e-3)  # float32 tan near pi / 2
  assert np.all(np.diff(np.asarray(logsnr)) < 0)
  alpha, sigma = diffusion.alpha_sigma(logsnr)
  np.testing.assert_allclose(alpha**2 + sigma**2, 1.0, atol=1e-6)
  np.testing.assert_allclose(2 * np.log(alpha / sigma), logsnr, atol=1e-3)
  np.testing.assert_allclose(diffusion.normalized_log_snr(jnp.array([20.0, 0.0, -20.0]), -20.0, 20.0), [0.0, 0.5, 1.0])
  times = np.sort(np.asarray(diffusion.training_times(jax.random.key(0), 8)))
  np.testing.assert_allclose(np.diff(times), 1 / 8, atol=1e-6)  # low-discrepancy: evenly spread
  assert 0 <= times[0] < 1 / 8


def test_ddim_schedules_and_steps():
  published = diffusion.make_schedule(diffusion.PAPER_LOG_SNRS)
  np.testing.assert_allclose(published.logsnr_t, diffusion.PAPER_LOG_SNRS, rtol=1e-6)
  np.testing.assert_allclose(published.logsnr_s, list(diffusion.PAPER_LOG_SNRS[1:]) + [20.0], rtol=1e-6)
  uniform = diffusion.make_schedule(steps=4)
  np.testing.assert_allclose(uniform.logsnr_t, [-20, -10, 0, 10])
  np.testing.assert_allclose(uniform.logsnr_s, [-10, 0, 10, 20])
  with pytest.raises(ValueError, match='increase'):
    diffusion.make_schedule((1.0, 0.5))
  # One step with the true noise lands on the forward process at the next log-SNR, exactly.
  rng = np.random.default_rng(4)
  clean, eps = rng.normal(size=(2, 2, 300))
  lt, ls = -0.8, 2.0
  at, st = math.sqrt(1 / (1 + math.exp(-lt))), math.sqrt(1 / (1 + math.exp(lt)))
  as_, ss = math.sqrt(1 / (1 + math.exp(-ls))), math.sqrt(1 / (1 + math.exp(ls)))
  stepped = diffusion.ddim_step(jnp.asarray(at * clean + st * eps, jnp.float32), jnp.asarray(eps, jnp.float32), lt, ls)
  np.testing.assert_allclose(stepped, as_ * clean + ss * eps, atol=2e-5)


def test_an_oracle_denoiser_recovers_the_clean_signal_and_the_scan_equals_a_loop():
  clean = (0.8 * np.sin(np.linspace(0, 60, 4096))).reshape(2, 2048).astype(np.float32)
  schedule = diffusion.make_schedule(diffusion.PAPER_LOG_SNRS)

  def oracle(y, logsnr):  # the noise that y holds, given y0
    alpha, sigma = diffusion.alpha_sigma(logsnr[:, None])
    return (y - alpha * clean) / sigma

  initial = jax.random.normal(jax.random.key(0), clean.shape)
  out = jax.jit(lambda s: diffusion.ddim_sample(oracle, initial, s))(schedule)
  # It ends at log-SNR 20, not infinity: y = alpha y0 + sigma eps with sigma = 4.5e-5.
  sigma_end = math.sqrt(1 / (1 + math.exp(20.0)))
  np.testing.assert_allclose(out, clean, atol=6 * sigma_end)
  assert np.abs(np.asarray(out) - clean).max() > 0.1 * sigma_end  # the noise that is left, not none
  # The scan against a Python loop, with the tiny network as the denoiser.
  config = nuwave2_tiny.get_config()
  module = model_lib.build_model(config)
  params = model_lib.init_params(module, jax.random.key(1))
  cond = np.asarray(jax.random.normal(jax.random.key(2), clean.shape))
  band = np.stack([conditioning.band_mask(16000)] * 2)
  keys, starts = jax.random.split(jax.random.key(3), 2), jnp.zeros(2, jnp.int32)
  upsample = nuwave2_sampling.make_sample_fn(module, -20.0, 20.0)
  scanned = upsample(params, cond, schedule, keys, starts, band)
  y = sampling.positional_noise(keys, starts, 2048)(0)
  for lt, ls in zip(schedule.logsnr_t, schedule.logsnr_s):
    level = diffusion.normalized_log_snr(jnp.full((2,), lt), -20.0, 20.0)
    y = diffusion.ddim_step(y, module.apply({'params': params}, y, cond, band, level), lt, ls)
  np.testing.assert_allclose(scanned, np.clip(y, *diffusion.CLAMP), rtol=1e-5, atol=1e-5)
  # A new schedule of the same length does not recompile.
  upsample(params, cond, diffusion.make_schedule(np.array(diffusion.PAPER_LOG_SNRS) - 0.5), keys, starts, band)
  assert upsample._cache_size() == 1


def test_chunked_sampling_equals_unchunked_sampling_for_nuwave2():
  """Each spectral transform sees a 1024-sample frame, so the receptive field grows by a frame per
  block: with 4096 samples of overlap the tiny network's chunks agree with the whole signal to float32
  rounding (the paper network needs 0.25 s, docs/performance.md); with 1024 they do not."""
  config = nuwave2_tiny.get_config()
  module = model_lib.build_model(config)
  params = model_lib.init_params(module, jax.random.key(1))
  upsample = nuwave2_sampling.make_sample_fn(module, -20.0, 20.0)
  schedule = diffusion.make_schedule(diffusion.PAPER_LOG_SNRS)
  cond = np.random.default_rng(5).uniform(-1, 1, 16384).astype(np.float32)
  band = conditioning.band_mask(12000)
  key = jax.random.key(6)
  whole = np.asarray(upsample(params, cond[None], schedule, key[None], jnp.zeros(1, jnp.int32), band[None])[0])
  rms = np.sqrt(np.mean(whole**2))
  errors = {}
  for overlap in (1024, 4096):
    chunked = sampling.sample_chunked(upsample, params, [cond], [key], schedule, chunk=8192, overlap=overlap,
                                      batch_size=2, extras={'band_mask': [band]})[0]
    errors[overlap] = np.abs(chunked - whole).max() / rms
  assert errors[4096] < 1e-4 < 1e-2 < errors[1024], errors


@pytest.mark.parametrize('target, prediction', [('signal', 'eps'), ('signal_minus_condition', 'eps'),
                                                ('signal_minus_condition', 'v')])
def test_the_training_objective_is_the_papers(target, prediction):
  """Low-discrepancy times, y_t = alpha y0 + sigma eps (y0: the audio, or the audio minus its
  condition), the network fed the normalised negative log-SNR, plain L1 on eps (or on
  v = alpha eps - sigma y0): each checked in float64 from the drawn arrays."""
  config = nuwave2_tiny.get_config()
  config.diffusion.target = target
  config.model.prediction = prediction
  module = model_lib.build_model(config)
  params = model_lib.init_params(module, jax.random.key(0))
  rng = np.random.default_rng(0)
  batch = {'audio': rng.uniform(-1, 1, (6, 512)).astype(np.float32),
           'condition': rng.uniform(-1, 1, (6, 512)).astype(np.float32),
           'band_mask': np.stack([conditioning.band_mask(r) for r in (8000, 12000, 16000, 24000, 44100, 6000)])}
  make_examples, loss_fn = families.of(config).make_objective(config, module)
  _, (noisy, cond, band, level, wanted) = make_examples(jax.random.key(1), batch)
  logsnr = 20.0 - 40.0 * np.asarray(level, np.float64)  # level = (max - lambda) / (max - min)
  b = math.atan(math.exp(-10.0))
  a = math.atan(math.exp(10.0)) - b
  t = (np.arctan(np.exp(-logsnr / 2)) - b) / a  # lambda(t) = -2 log tan(a t + b), inverted
  np.testing.assert_allclose(np.sort(np.mod(t - t[0], 1.0)), np.arange(6) / 6, atol=1e-5)
  alpha, sigma = np.sqrt(1 / (1 + np.exp(-logsnr))), np.sqrt(1 / (1 + np.exp(logsnr)))
  clean = batch['audio'] - batch['condition'] if target == 'signal_minus_condition' else batch['audio']
  if prediction == 'eps':
    np.testing.assert_allclose(noisy, alpha[:, None] * clean + sigma[:, None] * np.asarray(wanted), atol=2e-6)
  else:  # y0 = alpha y_t - sigma v
    np.testing.assert_allclose(alpha[:, None] * np.asarray(noisy) - sigma[:, None] * np.asarray(wanted), clean,
                               atol=2e-6)
  np.testing.assert_array_equal(cond, batch['condition'])
  np.testing.assert_array_equal(band, batch['band_mask'])
  eps_hat = np.asarray(module.apply({'params': params}, noisy, cond, band, level), np.float64)
  np.testing.assert_allclose(loss_fn(params, noisy, cond, band, level, wanted),
                             np.mean(np.abs(np.asarray(wanted, np.float64) - eps_hat)), rtol=1e-5)


def test_eps_from_v_is_the_closed_form():
  rng = np.random.default_rng(0)
  clean, noise = rng.standard_normal((2, 3, 64))
  logsnr = jnp.asarray([-15.0, 0.3, 12.0])
  noisy = diffusion.q_sample(jnp.asarray(clean), jnp.asarray(noise), logsnr)
  v = diffusion.velocity(jnp.asarray(clean), jnp.asarray(noise), logsnr)
  np.testing.assert_allclose(diffusion.noise_from_velocity(noisy, v, logsnr), noise, atol=1e-5)


def test_the_signal_minus_condition_target_adds_the_condition_back_before_the_clamp():
  rng = np.random.default_rng(0)
  initial = jnp.asarray(0.1 * rng.standard_normal((2, 256)), jnp.float32)
  cond = jnp.asarray(rng.uniform(-0.05, 0.05, (2, 256)), jnp.float32)
  denoise = lambda y, logsnr: 0.3 * y  # any deterministic denoiser
  schedule = diffusion.make_schedule(diffusion.PAPER_LOG_SNRS)
  plain = diffusion.ddim_sample(denoise, initial, schedule)
  shifted = diffusion.ddim_sample(denoise, initial, schedule, cond)
  assert float(jnp.abs(plain).max()) < 0.9  # within the clamp, so the difference is the offset alone
  np.testing.assert_allclose(shifted, plain + cond, atol=1e-7)
  clamped = diffusion.ddim_sample(denoise, initial, schedule, cond + 2.0)
  assert float(clamped.max()) == pytest.approx(diffusion.CLAMP[1])


def _band_energy(x, low_hz, high_hz):
  """The energy of x [time] (48 kHz) between low_hz and high_hz, from its DFT."""
  spectrum = np.fft.rfft(np.asarray(x, np.float64))
  frequencies = np.fft.rfftfreq(len(x), 1 / 48000)
  return float(np.sum(np.abs(spectrum[(frequencies >= low_hz) & (frequencies < high_hz)])**2))


def test_keep_given_band_takes_the_bins_below_the_cutoff_from_the_given_signal():
  t = np.arange(8192) / 48000
  low_a, low_b, high = (np.sin(2 * np.pi * f * t) for f in (1000.0, 2500.0, 9000.0))
  band = conditioning.band_mask(12000)  # 6 kHz: 128 bins
  estimate = jnp.asarray([low_a + high], jnp.float32)
  given = jnp.asarray([low_b], jnp.float32)
  kept = np.asarray(nuwave2_sampling.keep_given_band(estimate, given, jnp.asarray(band[None], jnp.float32)))[0]
  # Away from the ends (where the STFT's reflect padding spreads a sinusoid over every bin), exact.
  np.testing.assert_allclose(kept[1024:-1024], (low_b + high)[1024:-1024], atol=1e-4)
  assert np.abs(kept - (low_b + high)).max() < 0.5
  ones, zeros = np.ones((1, 513), np.float32), np.zeros((1, 513), np.float32)
  np.testing.assert_allclose(nuwave2_sampling.keep_given_band(estimate, given, ones), given, atol=2e-6)
  np.testing.assert_allclose(nuwave2_sampling.keep_given_band(estimate, given, zeros), estimate, atol=2e-6)


def test_a_projected_ddim_sample_keeps_the_given_band():
  """A denoiser that puts noise in every band; projecting each clean estimate onto the given band
  leaves the sample's band below the cutoff equal to the given signal's (away from the ends)."""
  rng = np.random.default_rng(0)
  t = np.arange(8192) / 48000
  given = jnp.asarray([0.3 * np.sin(2 * np.pi * 700 * t) + 0.1 * np.sin(2 * np.pi * 3100 * t)], jnp.float32)
  band = jnp.asarray(conditioning.band_mask(8000)[None], jnp.float32)  # 4 kHz
  initial = jnp.asarray(0.02 * rng.standard_normal((1, 8192)), jnp.float32)
  denoise = lambda y, logsnr: 0.5 * y  # leaves broadband noise in every estimate
  schedule = diffusion.make_schedule(diffusion.PAPER_LOG_SNRS)
  project = lambda clean: nuwave2_sampling.keep_given_band(clean, given, band)
  plain = np.asarray(diffusion.ddim_sample(denoise, initial, schedule))[0, 1024:-1024]
  kept = np.asarray(diffusion.ddim_sample(denoise, initial, schedule, project=project))[0, 1024:-1024]
  target = np.asarray(given)[0, 1024:-1024]
  assert np.abs(kept).max() < 0.9 and np.abs(plain).max() < 0.9  # inside the clamp
  low = lambda x: _band_energy(x, 0, 3800)
  assert low(plain - target) > 0.1 * low(target)
  assert low(kept - target) < 1e-4 * low(target)  # what is left: the window's leakage at the cutoff
  assert _band_energy(kept, 4500, 24000) > 0.5 * _band_energy(plain, 4500, 24000)  # the band above is sampled


@pytest.mark.parametrize('target', ['signal', 'signal_minus_condition'])
def test_keep_band_with_a_full_band_returns_the_condition(target):
  """sample.keep_band as the upsampler runs it: a band that covers every bin leaves nothing to sample,
  so even an untrained network's output is the condition; with an 8 kHz band, it is not."""
  config = nuwave2_tiny.get_config()
  module = model_lib.build_model(config)
  params = model_lib.init_params(module, jax.random.key(1))
  cond = np.asarray(jax.random.uniform(jax.random.key(2), (1, 2048), minval=-0.5, maxval=0.5))
  schedule = diffusion.make_schedule(diffusion.PAPER_LOG_SNRS)
  keys, starts = jax.random.key(3)[None], jnp.zeros(1, jnp.int32)
  upsample = nuwave2_sampling.make_sample_fn(module, -20.0, 20.0, target, keep_band=True)
  np.testing.assert_allclose(upsample(params, cond, schedule, keys, starts, np.ones((1, 513), np.int32)), cond,
                             atol=1e-5)
  partial = upsample(params, cond, schedule, keys, starts, conditioning.band_mask(16000)[None])
  assert np.abs(np.asarray(partial) - cond).max() > 0.1


def test_noise_scale_scales_the_starting_noise():
  config = nuwave2_tiny.get_config()
  module = model_lib.build_model(config)
  params = model_lib.init_params(module, jax.random.key(1))
  cond = np.asarray(0.3 * jax.random.normal(jax.random.key(2), (2, 2048)))
  band = np.stack([conditioning.band_mask(16000)] * 2)
  schedule, starts = diffusion.make_schedule(diffusion.PAPER_LOG_SNRS), jnp.zeros(2, jnp.int32)
  keys = jax.random.split(jax.random.key(3), 2)
  upsample = lambda scale, k: np.asarray(nuwave2_sampling.make_sample_fn(module, -20.0, 20.0, noise_scale=scale)(
      params, cond, schedule, k, starts, band))
  # The scan with the noise scaled by hand, as test_ddim_schedules_and_steps does it unscaled.
  y = 0.3 * sampling.positional_noise(keys, starts, 2048)(0)
  for lt, ls in zip(schedule.logsnr_t, schedule.logsnr_s):
    level = diffusion.normalized_log_snr(jnp.full((2,), lt), -20.0, 20.0)
    y = diffusion.ddim_step(y, module.apply({'params': params}, y, cond, band, level), lt, ls)
  np.testing.assert_allclose(upsample(0.3, keys), np.clip(y, *diffusion.CLAMP), rtol=1e-5, atol=1e-5)
  # No starting noise: the same output whatever the seed.
  np.testing.assert_array_equal(upsample(0.0, keys), upsample(0.0, jax.random.split(jax.random.key(9), 2)))
  assert np.abs(upsample(1.0, keys) - upsample(0.3, keys)).max() > 1e-3
