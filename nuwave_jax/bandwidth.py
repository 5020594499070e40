"""The effective bandwidth of a recording: where its content stops, which may be far below its Nyquist
frequency (a 44.1 kHz file holding 8 kHz telephone audio, an MP3's 16 kHz shelf, a Vorbis low-pass).

From the long-term spectrum (Welch, ~11 Hz bins, smoothed over ~150 Hz), in dB:
  1. the floor F is the median level of the top 500 Hz below Nyquist (2 % kept clear of it);
  2. the edge is the highest frequency whose level is at least EDGE_DB above F;
  3. it is a cutoff only if it is steep: from edge + 500 Hz up (at least 300 Hz of spectrum), nothing
     rises more than STEEP_DB above F. A natural roll-off (speech falling 20 dB over several kHz)
     fails this and counts as full band, and so does a cutoff within 800 Hz of Nyquist.
The edge is where the content is EDGE_DB above what lies beyond it: for a gentle low-pass (Vorbis's
falls ~100 dB over 3 kHz) that is near the bottom of the slope, an upper estimate of the band.
"""

import numpy as np
import scipy.signal

EDGE_DB = 20.0
STEEP_DB = 10.0
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
  floor = np.median(level[freqs >= freqs[-1] - 500])
  loud = np.flatnonzero(level >= floor + EDGE_DB)
  if not len(loud):
    return nyquist
  edge = freqs[loud[-1]]
  if edge > freqs[-1] - 800 or level[freqs >= edge + 500].max() > floor + STEEP_DB:
    return nyquist
  return float(np.floor(edge / ROUND_HZ) * ROUND_HZ)
