"""Evaluation over a set of 48 kHz utterances: the paper's metrics over N sampling runs.

The one eval loop, run by evaluate.py and by training's evals. Each utterance is trimmed to a multiple
of the ratio and peak-normalised (docs/reference.md §4), its low-resolution input is simulated as in
training, and it is upsampled `runs` times with different seeds. Per run, each metric is the mean over
utterances; the report gives the mean and standard deviation over runs, with the linear-interpolation
baseline (the condition itself) beside the model.
"""

import json
import pathlib

import numpy as np

from nuwave_jax import conditioning
from nuwave_jax import metrics

METRICS = ('snr', 'lsd', 'lsd_hf', 'lsd_lf')


def score(reference: np.ndarray, estimate: np.ndarray, input_rate_hz: int) -> dict[str, float]:
  """SNR, LSD, LSD-HF and LSD-LF of one utterance ([time] arrays at 48 kHz)."""
  return {'snr': metrics.snr(reference, estimate), 'lsd': metrics.lsd(reference, estimate),
          'lsd_hf': metrics.lsd_high(reference, estimate, input_rate_hz),
          'lsd_lf': metrics.lsd_low(reference, estimate, input_rate_hz)}


def prepare_reference(audio: np.ndarray, ratio: int) -> np.ndarray:
  """Trimmed to a multiple of the ratio and peak-normalised to 1 (silence stays silent). [time]."""
  audio = audio[:len(audio) // ratio * ratio]
  peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
  return (audio / peak if peak > 0 else audio).astype(np.float32)


def scorable(utterances: list[tuple[str, np.ndarray]], ratio: int):
  """(the (name, audio) pairs the metrics can score, a reason for each one left out): no sample
  left once trimmed to a multiple of the ratio, or silence (SNR and LSD are undefined against a
  silent reference)."""
  kept, skipped = [], []
  for name, audio in utterances:
    reference = prepare_reference(audio, ratio)
    if len(reference) == 0:
      skipped.append(f'{name}: shorter than {ratio} samples at 48 kHz')
    elif not np.any(reference):
      skipped.append(f'{name}: silent')
    else:
      kept.append((name, audio))
  return kept, skipped


def mean_scores(per_utterance: list[dict[str, float]]) -> dict[str, float]:
  return {m: float(np.mean([s[m] for s in per_utterance])) for m in METRICS}


def evaluate(upsampler, utterances: list[tuple[str, np.ndarray]], runs: int, seed: int, on_batch=None):
  """Scores `upsampler` (an `inference.Upsampler`, sampling as its config.sample says) on (name,
  48 kHz audio) pairs that `scorable` kept.

  Returns (report dict, references, conditions, outputs of the first run).
  """
  ratio, input_rate = upsampler.ratio, upsampler.input_rate_hz
  d, sample = upsampler.config.data, upsampler.config.sample
  names = [n for n, _ in utterances]
  references = [prepare_reference(a, ratio) for _, a in utterances]
  conditions = [conditioning.make_condition(r[None], ratio, d.lowpass_n_fft, d.lowpass_hop)[0]
                for r in references]
  linear = [score(r, c, input_rate) for r, c in zip(references, conditions)]
  run_means, per_run_scores, first_outputs = [], [], None
  for run in range(runs):
    outputs = upsampler.upsample_signals(conditions, [seed + run] * len(conditions), sample.chunk_seconds,
                                         sample.overlap_seconds, sample.batch_size, on_batch)
    first_outputs = outputs if first_outputs is None else first_outputs
    scores = [score(r, o, input_rate) for r, o in zip(references, outputs)]
    per_run_scores.append(scores)
    run_means.append(mean_scores(scores))
  report = {
      'utterances': len(utterances), 'runs': runs, 'ratio': ratio, 'input_rate_hz': input_rate,
      'model': {m: {'mean': float(np.mean([r[m] for r in run_means])),
                    'std': float(np.std([r[m] for r in run_means]))} for m in METRICS},
      'linear': mean_scores(linear),
      'per_run': run_means,
      'per_utterance': [{'name': n, 'model': mean_scores([s[i] for s in per_run_scores]),
                         'linear': linear[i]} for i, n in enumerate(names)],
  }
  return report, references, conditions, first_outputs


def write_report(report: dict, path: pathlib.Path) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps(report, indent=2) + '\n')


def plot_spectrograms(path: pathlib.Path, title: str, signals: dict[str, np.ndarray],
                      sample_rate_hz: int = 48000) -> None:
  """One PNG with a log-power spectrogram (the LSD's STFT) per signal, stacked vertically."""
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  fig, axes = plt.subplots(len(signals), 1, figsize=(10, 2.6 * len(signals)), sharex=True)
  for ax, (label, signal) in zip(np.atleast_1d(axes), signals.items()):
    log_power = metrics.log_power_spectrogram(np.asarray(signal, np.float64)[None])[0].T
    seconds = len(signal) / sample_rate_hz
    ax.imshow(10 * log_power, origin='lower', aspect='auto', cmap='magma', vmin=-80, vmax=40,
              extent=(0, seconds, 0, sample_rate_hz / 2000))
    ax.set_ylabel('kHz')
    ax.set_title(label, loc='left', fontsize=10)
  np.atleast_1d(axes)[-1].set_xlabel('seconds')
  fig.suptitle(title)
  fig.tight_layout()
  path.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(path, dpi=90)
  plt.close(fig)
