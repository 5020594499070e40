"""NU-Wave's condition in TensorFlow, made per batch in the tf.data pipeline: the twin of
`conditioning.make_condition`, held to it by tests."""

import tensorflow as tf

from nuwave_jax.nuwave import conditioning


def make_condition_tf(audio: tf.Tensor, ratio: int, n_fft: int = conditioning.DEFAULT_N_FFT,
                      hop: int = conditioning.DEFAULT_HOP) -> tf.Tensor:
  """`conditioning.make_condition` in TF. audio: [batch, time] float32 -> [batch, time]."""
  audio = tf.convert_to_tensor(audio, tf.float32)
  length = tf.shape(audio)[1]
  half = n_fft // 2
  padded = tf.pad(audio, [[0, 0], [0, n_fft]])
  padded = tf.pad(padded, [[0, 0], [half, half]], mode='REFLECT')
  window_fn = tf.signal.hann_window  # periodic by default, as torch.hann_window
  spectrum = tf.signal.stft(padded, n_fft, hop, n_fft, window_fn=window_fn, pad_end=False)
  keep = tf.cast(tf.range(n_fft // 2 + 1) < conditioning.cutoff_bin(n_fft, ratio), spectrum.dtype)
  frames = tf.signal.irfft(spectrum * keep, fft_length=[n_fft]) * window_fn(n_fft)
  signal = tf.signal.overlap_and_add(frames, hop)
  window_sq = tf.tile(window_fn(n_fft)[None, :] ** 2, [tf.shape(frames)[1], 1])
  envelope = tf.signal.overlap_and_add(window_sq, hop)
  lowpassed = signal[:, half:half + length] / envelope[half:half + length]
  low = lowpassed[:, ::ratio]
  return upsample_linear_tf(low, ratio, length)


def upsample_linear_tf(low: tf.Tensor, ratio: int, length) -> tf.Tensor:
  """Half-pixel linear interpolation by `ratio`, cropped to `length`. [batch, n] -> [batch, length]."""
  n = tf.shape(low)[1]
  source = tf.maximum((tf.cast(tf.range(length), tf.float64) + 0.5) / ratio - 0.5, 0.0)
  left = tf.minimum(tf.cast(tf.floor(source), tf.int32), n - 1)
  right = tf.minimum(left + 1, n - 1)
  frac = tf.cast(source - tf.cast(left, tf.float64), tf.float32)
  return (tf.gather(low, left, axis=1) * (1.0 - frac) + tf.gather(low, right, axis=1) * frac)


def add_condition(batch: dict, data) -> dict:
  """The per-batch stage of NU-Wave's training condition: {'audio': [batch, time]} -> with
  'condition' [batch, time] added (data: config.data)."""
  return {**batch, 'condition': make_condition_tf(batch['audio'], data.ratio, data.lowpass_n_fft, data.lowpass_hop)}
