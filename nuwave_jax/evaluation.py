"""Evaluation over a set of 48 kHz utterances: the paper's metrics over N sampling runs.

The one eval loop, run by evaluate.py and by training's evals, at one input rate per call. Each
utterance is trimmed to the family's multiple (NU-Wave's ratio, NU-Wave 2's 256) and peak-normalised
(docs/reference.md §4, §8), its low-rate input is simulated as the family's test set makes it
(`Upsampler.simulate`), and it is upsampled `runs` times with different seeds. Per run, each metric is
the mean over utterances; the report gives the mean and standard deviation over runs, with the input
itself, as the network's condition brings it to 48 kHz, beside the model ('input': NU-Wave's linear
interpolation, NU-Wave 2's polyphase resampling).
"""

import dataclasses
import json
import pathlib

import numpy as np

from nuwave_jax import inference
from nuwave_jax import metrics

METRICS = ('snr', 'lsd', 'lsd_hf', 'lsd_lf')


def score(reference: np.ndarray, estimate: np.ndarray, input_rate_hz: int) -> dict[str, float]:
  """SNR, LSD, LSD-HF and LSD-LF of one utterance ([time] arrays at 48 kHz)."""
  return {'snr': metrics.snr(reference, estimate), 'lsd': metrics.lsd(reference, estimate),
          'lsd_hf': metrics.lsd_high(reference, estimate, input_rate_hz),
          'lsd_lf': metrics.lsd_low(reference, estimate, input_rate_hz)}


def prepare_reference(audio: np.ndarray, multiple: int) -> np.ndarray:
  """Trimmed to a multiple of `multiple` (`Upsampler.trim_multiple`) and peak-normalised to 1
  (silence stays silent). [time]."""
  audio = audio[:len(audio) // multiple * multiple]
  peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
  return (audio / peak if peak > 0 else audio).astype(np.float32)


def scorable(utterances: list[tuple[str, np.ndarray]], multiple: int):
  """(the (name, audio) pairs the metrics can score, a reason for each one left out): no sample
  left once trimmed to a multiple of `multiple` (`prepare_reference`), or silence (SNR and LSD are
  undefined against a silent reference)."""
  kept, skipped = [], []
  for name, audio in utterances:
    reference = prepare_reference(audio, multiple)
    if len(reference) == 0:
      skipped.append(f'{name}: shorter than {multiple} samples at 48 kHz')
    elif not np.any(reference):
      skipped.append(f'{name}: silent')
    else:
      kept.append((name, audio))
  return kept, skipped


def mean_scores(per_utterance: list[dict[str, float]]) -> dict[str, float]:
  return {m: float(np.mean([s[m] for s in per_utterance])) for m in METRICS}


@dataclasses.dataclass
class Evaluation:
  """The report of `evaluate` and its first run's signals, [time] float32 at 48 kHz each."""
  report: dict
  references: list[np.ndarray]
  conditions: list[np.ndarray]
  outputs: list[np.ndarray]
  outputs_keep_input_band: list[np.ndarray] | None


def evaluate(upsampler, utterances: list[tuple[str, np.ndarray]], runs: int, seed: int, on_batch=None,
             keep_input_band: bool = False, input_rate_hz: int | None = None):
  """Scores `upsampler` (an `inference.Upsampler`, sampling as its config.sample says) on (name,
  48 kHz audio) pairs that `scorable` kept, their input simulated at input_rate_hz (default: the one
  rate the checkpoint takes). Run r samples each utterance with the seed `inference.seed_for(name,
  seed + r)`, as `nuwave-jax upsample` does. With keep_input_band the report also scores the outputs
  with the input's own band kept (`input_band`) as 'model_keep_input_band'.

  Returns an `Evaluation`: the report dict and the first run's signals.
  """
  input_rate = input_rate_hz or upsampler.input_rate_hz
  names = [n for n, _ in utterances]
  references = [prepare_reference(a, upsampler.trim_multiple) for _, a in utterances]
  simulated = [upsampler.simulate(r[None], input_rate) for r in references]
  conditions = [condition.signal[0] for condition in simulated]
  baseline = [score(r, c, input_rate) for r, c in zip(references, conditions)]
  scored = {'model': [], 'model_keep_input_band': []}  # per run, per utterance
  first = None
  for run in range(runs):
    outputs = [o[0] for o in upsampler.sample(simulated, [inference.seed_for(n, seed + run) for n in names],
                                              on_batch)]
    scored['model'].append([score(r, o, input_rate) for r, o in zip(references, outputs)])
    merged = None
    if keep_input_band:
      merged = [upsampler.finish(condition, o[None], True)[0] for o, condition in zip(outputs, simulated)]
      scored['model_keep_input_band'].append([score(r, m, input_rate) for r, m in zip(references, merged)])
    first = first or (outputs, merged)
  report = {'utterances': len(utterances), 'runs': runs, 'input_rate_hz': input_rate}
  for key, per_run in scored.items():
    if per_run:
      run_means = [mean_scores(scores) for scores in per_run]
      report[key] = {m: {'mean': float(np.mean([r[m] for r in run_means])),
                         'std': float(np.std([r[m] for r in run_means]))} for m in METRICS}
      report[f'{key}_per_run'] = run_means
  report['input'] = mean_scores(baseline)
  report['per_utterance'] = [
      {'name': n, 'input': baseline[i], **{key: mean_scores([scores[i] for scores in per_run])
                                           for key, per_run in scored.items() if per_run}}
      for i, n in enumerate(names)]
  return Evaluation(report, references, conditions, *first)


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
