"""NU-Wave 2's training condition in TensorFlow (docs/reference.md §8): the TF twin of
`conditioning.band_limited` for one example and any draw of (cutoff, order, ripple), drawn per
example in the tf.data pipeline by `random_condition`.

    cond = resample(resample(filtfilt(cheby1(order, ripple, cutoff), audio), 2 cutoff, 48 kHz), 48 kHz, 2 cutoff)

- The Chebyshev type I design is scipy's, in closed form: analog prototype poles, frequency warping,
  bilinear transform; all `order` zeros at z = -1.
- The zero-phase filter follows `scipy.signal.sosfiltfilt` exactly in structure: odd extension by
  3 (order + 1) samples at each end, then forward and backward passes that each start in the steady
  state of their first sample. By linearity each pass is x0 H(1) + h * (x - x0), and h * (.) is done
  as a product with H sampled on an FFT grid of `fft_size` points. That product is a circular
  convolution: it differs from sosfiltfilt by the impulse response's tail beyond fft_size - length,
  negligible unless a pole lies within ~1e-5 of z = -1 (order 1 with ripple <= 1e-6 dB, or a cutoff
  within ~50 Hz of 24 kHz: filters ringing at 24 kHz). Measured in docs/reference.md §8: the whole
  condition within 1.3e-7 of scipy's on real speech for 40 random draws; up to 3e-5 on synthetic
  speech and 1e-3 on white noise for those poles.
- `resample_poly` is scipy's polyphase resampler (Kaiser window, beta 5, 10 x max(up, down) taps each
  side, `firwin`'s unit-DC scaling), as a gather of the taps each output sample needs; the tap table's
  sine and Bessel function run in float32 (1e-7 relative).

Everything else runs in float64 on the host CPU, per example (the shapes depend on the draw).
"""

import math

import tensorflow as tf

from nuwave_jax.configuration import SAMPLE_RATE_HZ
from nuwave_jax.nuwave2 import conditioning
from nuwave_jax.nuwave2.stft import BINS

KAISER_BETA = 5.0


def cheby1_zpk(order: tf.Tensor, ripple_db: tf.Tensor, cutoff: tf.Tensor):
  """Digital poles [order] complex128 and gain (real) of scipy's `cheby1(order, ripple_db, cutoff)`,
  cutoff a fraction of Nyquist in (0, 1). Its zeros are all at z = -1."""
  order_f = tf.cast(order, tf.float64)
  eps = tf.sqrt(tf.pow(tf.constant(10.0, tf.float64), 0.1 * ripple_db) - 1.0)
  mu = tf.math.asinh(1.0 / eps) / order_f
  m = tf.cast(tf.range(-order + 1, order, 2), tf.float64)
  theta = math.pi * m / (2.0 * order_f)
  poles = -tf.sinh(tf.complex(tf.broadcast_to(mu, tf.shape(theta)), theta))
  gain = tf.math.real(tf.reduce_prod(-poles))
  gain = tf.where(order % 2 == 0, gain / tf.sqrt(1.0 + eps * eps), gain)
  warped = 4.0 * tf.tan(math.pi * cutoff / 2.0)  # scipy's fs = 2: 2 fs tan(pi Wn / fs)
  poles = poles * tf.complex(warped, tf.zeros_like(warped))
  gain = gain * tf.pow(warped, order_f)
  four = tf.complex(tf.constant(4.0, tf.float64), tf.constant(0.0, tf.float64))
  digital = (four + poles) / (four - poles)
  gain = gain * tf.math.real(1.0 / tf.reduce_prod(four - poles))
  return digital, gain


def _frequency_response(poles, gain, fft_size: int) -> tf.Tensor:
  """H(e^{jw}) = gain (1 + z)^order / prod(z - p) on the rfft grid: [fft_size // 2 + 1] complex128."""
  w = 2.0 * math.pi * tf.range(fft_size // 2 + 1, dtype=tf.float64) / fft_size
  z = tf.complex(tf.cos(w), tf.sin(w))
  one = tf.complex(tf.constant(1.0, tf.float64), tf.constant(0.0, tf.float64))
  factors = (z[None, :] + one) / (z[None, :] - poles[:, None])
  return tf.reduce_prod(factors, axis=0) * tf.complex(gain, tf.zeros_like(gain))


def zero_phase_lowpass(audio: tf.Tensor, order: tf.Tensor, ripple_db: tf.Tensor, cutoff: tf.Tensor,
                       fft_size: int) -> tf.Tensor:
  """`scipy.signal.sosfiltfilt(cheby1(order, ripple_db, cutoff, output='sos'), audio)`. audio [time]
  float64 (time > 3 (order + 1)); fft_size >= time + 6 (order + 1) -> [time] float64."""
  poles, gain = cheby1_zpk(order, ripple_db, cutoff)
  response = _frequency_response(poles, gain, fft_size)
  dc_gain = tf.math.real(response[0])
  pad = 3 * (order + 1)
  head = 2.0 * audio[0] - tf.reverse(audio[1:pad + 1], [0])
  tail = 2.0 * audio[-1] - tf.reverse(audio[-pad - 1:-1], [0])
  extended = tf.concat([head, audio, tail], 0)
  length = tf.shape(extended)[0]

  def one_pass(x):  # steady state at x[0]: as if x[0] had been the input forever
    start = x[0]
    spectrum = tf.signal.rfft(x - start, [fft_size]) * response
    return tf.signal.irfft(spectrum, [fft_size])[:length] + start * dc_gain

  forward = one_pass(extended)
  backward = tf.reverse(one_pass(tf.reverse(forward, [0])), [0])
  return backward[pad:length - pad]


def kaiser_sinc_table(max_rate: tf.Tensor) -> tf.Tensor:
  """scipy's polyphase filter for rates whose larger side is max_rate (after dividing out their gcd):
  firwin(2 half + 1, 1 / max_rate, window=('kaiser', 5)) with half = 10 max_rate, unit DC gain ->
  [2 half + 1] float64. The sine and the Bessel function run in float32 (1e-7 relative; the
  accumulation is float64): TF's float64 Bessel is 10x slower."""
  half = 10 * max_rate
  offsets = tf.range(-half, half + 1, dtype=tf.int64)
  # sin(pi m / R) from m reduced to [-R, R) in integers: the float32 sine sees [-pi, pi).
  reduced = tf.cast(tf.math.floormod(offsets + max_rate, 2 * max_rate) - max_rate, tf.float32) / \
      tf.cast(max_rate, tf.float32)
  x = tf.cast(offsets, tf.float32) / tf.cast(max_rate, tf.float32)
  safe = tf.where(offsets == 0, tf.ones_like(x), x)
  sinc = tf.where(offsets == 0, tf.ones_like(x), tf.sin(math.pi * reduced) / (math.pi * safe))
  ramp = tf.sqrt(tf.maximum(1.0 - tf.square(tf.cast(offsets, tf.float32) / tf.cast(half, tf.float32)), 0.0))
  window = tf.math.bessel_i0(KAISER_BETA * ramp) / tf.math.bessel_i0(tf.constant(KAISER_BETA))
  taps = tf.cast(sinc * window, tf.float64)
  return taps / tf.reduce_sum(taps)


def resample_poly(audio: tf.Tensor, up: tf.Tensor, down: tf.Tensor, table: tf.Tensor | None = None) -> tf.Tensor:
  """`scipy.signal.resample_poly(audio, up, down)` (default window and padding). audio [n] float64 ->
  [ceil(n up / down)] float64. up, down: positive int64 scalars, up != down; table: their
  `kaiser_sinc_table`, if already made."""
  g = _gcd(up, down)
  up, down = up // g, down // g
  if table is None:
    table = kaiser_sinc_table(tf.maximum(up, down))
  half = 10 * tf.maximum(up, down)
  n_in = tf.shape(audio, out_type=tf.int64)[0]
  n_out = (n_in * up + down - 1) // down
  outputs = tf.range(n_out, dtype=tf.int64)
  first = -((half - outputs * down) // up)  # ceil((i down - half) / up): the first input in reach
  inputs = first[:, None] + tf.range(2 * half // up + 1, dtype=tf.int64)[None, :]
  offsets = outputs[:, None] * down - inputs * up  # y[i] = sum_j x[j] h[i down - j up]
  valid = (inputs >= 0) & (inputs < n_in) & (tf.abs(offsets) <= half)
  taps = tf.gather(table, tf.clip_by_value(offsets + half, 0, 2 * half))
  taps = tf.where(valid, taps * tf.cast(up, tf.float64), tf.zeros_like(taps))
  samples = tf.gather(audio, tf.clip_by_value(inputs, 0, n_in - 1))
  return tf.reduce_sum(taps * samples, axis=1)


def _gcd(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
  def body(a, b):
    return b, tf.math.floormod(a, b)
  a, _ = tf.while_loop(lambda a, b: b > 0, body, (a, b))
  return a


def band_limited(audio: tf.Tensor, cutoff_hz: tf.Tensor, order: tf.Tensor, ripple_db: tf.Tensor,
                 fft_size: int) -> tf.Tensor:
  """`conditioning.band_limited(audio[None], 2 cutoff_hz, order, ripple_db)[0]` for one example:
  audio [time] float32 -> [time] float32; a cutoff of 24 kHz returns the audio itself."""
  cutoff_hz = tf.cast(cutoff_hz, tf.int64)
  nyquist = SAMPLE_RATE_HZ // 2

  def limited():
    x = tf.cast(audio, tf.float64)
    low = zero_phase_lowpass(x, order, tf.cast(ripple_db, tf.float64),
                             tf.cast(cutoff_hz, tf.float64) / nyquist, fft_size)
    rate = tf.constant(SAMPLE_RATE_HZ, tf.int64)
    table = kaiser_sinc_table(rate // _gcd(2 * cutoff_hz, rate))  # both ways: the same filter
    low = resample_poly(low, 2 * cutoff_hz, rate, table)
    up = resample_poly(low, rate, 2 * cutoff_hz, table)
    return tf.cast(up[:tf.shape(audio)[0]], tf.float32)

  return tf.cond(cutoff_hz >= nyquist, lambda: tf.cast(audio, tf.float32), limited)


def fft_size_for(segment_samples: int, max_order: int) -> int:
  """The FFT grid of `zero_phase_lowpass` for a segment: a power of two >= 2 x the extended segment,
  so the impulse response has at least a segment's length to decay before it wraps around."""
  return 1 << math.ceil(math.log2(2 * (segment_samples + 6 * (max_order + 1))))


def random_condition(audio: tf.Tensor, seed: tf.Tensor, data) -> dict:
  """The condition of one training segment [time] float32: a cutoff f_c ~ U{data.cutoff_range_hz}, a
  Chebyshev type I order ~ U{data.filter_orders} and a ripple from data.filter_ripples_db, drawn from
  `seed` -> {'audio', 'condition' [time], 'band_mask' [513] int32 (bins below int(f_c / 24 kHz * 513))}.
  data: config.data."""
  cutoff_key, order_key, ripple_key = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
  low, high = data.cutoff_range_hz
  cutoff = tf.random.stateless_uniform([], cutoff_key, low, high + 1, dtype=tf.int64)
  order = tf.random.stateless_uniform([], order_key, data.filter_orders[0], data.filter_orders[1] + 1,
                                      dtype=tf.int32)
  ripples = tf.constant(data.filter_ripples_db, tf.float64)
  ripple = tf.gather(ripples, tf.random.stateless_uniform([], ripple_key, 0, len(data.filter_ripples_db),
                                                          dtype=tf.int32))
  fft_size = fft_size_for(data.segment_samples, data.filter_orders[1])
  condition = band_limited(audio, cutoff, order, ripple, fft_size)
  # Bins kept for each cutoff, from the one definition (an input rate of 2 f_c has cutoff f_c).
  kept_bins = tf.constant([int(conditioning.band_mask(2 * c, sample_rate_hz=data.sample_rate_hz).sum())
                           for c in range(low, high + 1)], tf.int32)
  mask = tf.cast(tf.range(BINS) < tf.gather(kept_bins, cutoff - low), tf.int32)
  return {'audio': audio, 'condition': condition, 'band_mask': mask}
