"""The short-time Fourier transform that the condition's low-pass and the LSD metric share, in
float64 numpy: periodic Hann window (torch.hann_window's default), frames centered on their samples
with reflect padding (torch.stft's center=True), one-sided spectra.
"""

import numpy as np


def hann_window(n: int) -> np.ndarray:
  """Periodic Hann window, float64 [n]."""
  return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def stft(audio: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
  """audio [batch, time] -> complex128 [batch, frames, n_fft // 2 + 1], frame f centered on sample
  f * hop; frames = 1 + time // hop."""
  half = n_fft // 2
  padded = np.pad(np.asarray(audio, np.float64), ((0, 0), (half, half)), mode='reflect')
  num_frames = 1 + (padded.shape[1] - n_fft) // hop
  index = np.arange(n_fft)[None, :] + hop * np.arange(num_frames)[:, None]
  return np.fft.rfft(padded[:, index] * hann_window(n_fft), axis=-1)


def istft(spectrum: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
  """The inverse of `stft` (windowed overlap-add over the sum of squared windows): complex
  [batch, frames, n_fft // 2 + 1] -> float64 [batch, length], length <= hop * (frames - 1)."""
  batch, num_frames, _ = spectrum.shape
  window = hann_window(n_fft)
  frames = np.fft.irfft(spectrum, n=n_fft, axis=-1) * window
  out_length = n_fft + hop * (num_frames - 1)
  signal = np.zeros((batch, out_length))
  envelope = np.zeros(out_length)
  for f in range(num_frames):
    signal[:, f * hop:f * hop + n_fft] += frames[:, f]
    envelope[f * hop:f * hop + n_fft] += window**2
  half = n_fft // 2
  return signal[:, half:half + length] / envelope[half:half + length]
