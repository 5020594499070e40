"""The input's own band kept in the output (`--keep-input-band`): below the input's cutoff, the
upsampled audio is replaced by the input itself, so the model only adds what was missing.

A crossfaded merge of the two signals' spectra, over the whole signal at once: frequencies below the
cutoff minus TRANSITION_HZ come from the input, those from the cutoff up from the model's output, and
those between are a raised-cosine mix (a zero-phase filter pair whose responses sum to 1, so nothing
is lost at the seam). It keeps the input's band to float rounding (1e-7, measured on a loud untrained
model's output); a short-time merge (n_fft 1024, hop 256) left 1e-4 of it near the crossfade.
The input enters at 48 kHz as a band-limited resampler
makes it (soxr, from the low-rate samples), not as the model's linearly interpolated condition, whose
top octave linear interpolation attenuates (to 0.41 at the cutoff). Off by default: the paper's
protocol scores the model's own output.
"""

import numpy as np

from nuwave_jax.data import audio as audio_io

TRANSITION_HZ = 750.0
# Zeros appended before the transform, so that the filters' short ringing does not wrap around.
PAD_SAMPLES = 4096


def to_48k(low: np.ndarray, input_rate_hz: int, length: int, sample_rate_hz: int = 48000) -> np.ndarray:
  """Low-rate audio [channels, n] at input_rate_hz -> [channels, length] at sample_rate_hz (soxr VHQ,
  linear phase), cut or zero-padded to `length`."""
  up = audio_io.resample(low, input_rate_hz, sample_rate_hz)
  out = np.zeros((len(low), length), np.float32)
  out[:, :min(length, up.shape[1])] = up[:, :length]
  return out


def keep_input_band(output: np.ndarray, input_48k: np.ndarray, cutoff_hz: float,
                    sample_rate_hz: int = 48000) -> np.ndarray:
  """output, input_48k: [channels, time] at sample_rate_hz -> [channels, time] float32 with the band
  below cutoff_hz taken from input_48k (module docstring)."""
  output, input_48k = np.asarray(output, np.float64), np.asarray(input_48k, np.float64)
  if output.shape != input_48k.shape:
    raise ValueError(f'output {output.shape} and input {input_48k.shape} differ in shape')
  length = output.shape[-1]
  padded = length + PAD_SAMPLES
  frequencies = np.fft.rfftfreq(padded, 1.0 / sample_rate_hz)
  position = np.clip((frequencies - (cutoff_hz - TRANSITION_HZ)) / TRANSITION_HZ, 0.0, 1.0)
  from_output = 0.5 - 0.5 * np.cos(np.pi * position)  # 0 below the transition, 1 from the cutoff
  merged = np.fft.rfft(output, padded) * from_output + np.fft.rfft(input_48k, padded) * (1.0 - from_output)
  return np.fft.irfft(merged, padded)[..., :length].astype(np.float32)
