"""The effective bandwidth of a recording: where its content stops, which may be far below its Nyquist
frequency (a 44.1 kHz file holding 8 kHz telephone audio, an MP3's 16 kHz shelf, a Vorbis low-pass).

From the long-term spectrum (Welch, ~11 Hz bins, smoothed over ~150 Hz), in dB:
  1. a frequency f is a drop when the median level of the kilohertz below it stands at least DROP_DB
     above everything from f + 300 Hz up to Nyquist (2 % kept clear of it): a natural roll-off (speech
     falling 20 dB over several kHz) never is, a low-pass shelf, a resampler's stopband or digital
     silence is;
  2. the highest drop, refined to the highest frequency within 1 kHz below it whose level is no more
     than EDGE_DB under that median, is the cutoff;
  3. a cutoff within 800 Hz of Nyquist counts as full band.
"""

import numpy as np
import scipy.signal

DROP_DB = 25.0
EDGE_DB = 15.0
ROUND_HZ = 50  # cutoffs are rounded down to a multiple: the input's band is never overstated


def effective_bandwidth(audio: np.ndarray, rate: int) -> float:
  """The highest frequency (Hz) of audio [channels, time] at `rate`: rate / 2 when nothing cuts it
  off (full band, silence, or a file too short to tell: under 0.1 s)."""
  nyquist = rate / 2
  mono = np.asarray(audio, np.float64).mean(axis=0)
  segment = 1 << int(np.ceil(np.log2(rate / 11.0)))  # ~11 Hz bins
  if len(mono) < max(segment, rate // 10) or not np.any(mono):
    return nyquist
  freqs, power = scipy.signal.welch(mono, rate, nperseg=segment, noverlap=segment // 2)
  level = 10 * np.log10(power + 1e-30)
  width = max(3, int(round(150 / (freqs[1] - freqs[0]))) | 1)
  level = scipy.signal.medfilt(level, width)
  usable = freqs <= 0.98 * nyquist
  freqs, level = freqs[usable], level[usable]
  above = np.maximum.accumulate(level[::-1])[::-1]  # above[k]: the loudest level from freqs[k] up
  below = lambda f: np.median(level[(freqs >= f - 1000) & (freqs <= f)])
  drops = [f for f in np.arange(1000.0, freqs[-1] - 300, ROUND_HZ)
           if below(f) - above[np.searchsorted(freqs, f + 300)] >= DROP_DB]
  if not drops:
    return nyquist
  top = drops[-1]
  near = (freqs >= top - 1000) & (freqs <= top) & (level >= below(top) - EDGE_DB)
  edge = freqs[near][-1] if np.any(near) else top
  if edge > freqs[-1] - 800:
    return nyquist
  return float(np.floor(edge / ROUND_HZ) * ROUND_HZ)
