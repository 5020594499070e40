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

import jax
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
  """The report of `evaluate` and its first run's signals, [time] float32 at 48 kHz each, of the
  utterances this process sampled (their positions in the utterances given: `indices`)."""
  report: dict
  references: list[np.ndarray]
  conditions: list[np.ndarray]
  outputs: list[np.ndarray]
  outputs_keep_input_band: list[np.ndarray] | None
  indices: list[int]


def split(lengths: list[int], index: int, count: int) -> list[int]:
  """The positions of the utterances process `index` of `count` samples: the longest first, each to
  the process with the least audio so far, so that every process has about as much to do."""
  totals, mine = [0] * count, []
  for i in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
    target = min(range(count), key=lambda p: (totals[p], p))
    totals[target] += lengths[i]
    if target == index:
      mine.append(i)
  return sorted(mine)


def evaluate(upsampler, utterances: list[tuple[str, np.ndarray]], runs: int, seed: int, on_batch=None,
             keep_input_band: bool = False, input_rate_hz: int | None = None, process: tuple[int, int] = (0, 1)):
  """Scores `upsampler` (an `inference.Upsampler`, sampling as its config.sample says) on (name,
  48 kHz audio) pairs that `scorable` kept, their input simulated at input_rate_hz (default: the one
  rate the checkpoint takes). Run r samples each utterance with the seed `inference.seed_for(name,
  seed + r)`, as `nuwave-jax upsample` does. With keep_input_band the report also scores the outputs
  with the input's own band kept (`input_band`) as 'model_keep_input_band'. process: (index, count)
  of a run of several processes (jax.distributed), each sampling its share of the utterances (`split`)
  on its own devices; the scores are gathered, so every process returns the whole report.

  Returns an `Evaluation`: the report dict and the first run's signals.
  """
  input_rate = input_rate_hz or upsampler.input_rate_hz
  names = [n for n, _ in utterances]
  references = [prepare_reference(a, upsampler.trim_multiple) for _, a in utterances]
  mine = split([len(r) for r in references], *process)
  simulated = [upsampler.simulate(references[i][None], input_rate) for i in mine]
  conditions = [condition.signal[0] for condition in simulated]
  kinds = ('model', 'model_keep_input_band') if keep_input_band else ('model',)
  # scores[kind]: [utterances, runs, metrics]; the input's: [utterances, metrics]
  scores = {kind: np.full((len(names), runs, len(METRICS)), np.nan) for kind in kinds}
  baseline = np.full((len(names), len(METRICS)), np.nan)
  as_row = lambda values: [values[m] for m in METRICS]
  for row, i in enumerate(mine):
    baseline[i] = as_row(score(references[i], conditions[row], input_rate))
  first = None
  for run in range(runs):
    outputs = [o[0] for o in upsampler.sample(simulated, [inference.seed_for(names[i], seed + run) for i in mine],
                                              on_batch)]
    merged = [upsampler.finish(c, o[None], True)[0] for o, c in zip(outputs, simulated)] if keep_input_band else None
    for kind, signals in (('model', outputs), ('model_keep_input_band', merged)):
      for row, i in enumerate(mine if signals is not None else []):
        scores[kind][i, run] = as_row(score(references[i], signals[row], input_rate))
    first = first or (outputs, merged)
  if process[1] > 1:  # every process's share of the scores
    scores, baseline = gather_scores((scores, baseline))
  return Evaluation(make_report(names, scores, baseline, runs, input_rate), [references[i] for i in mine],
                    conditions, *first, mine)


def gather_scores(tree):
  """Float64 arrays, NaN where another process scores, merged across the processes of the run. They
  travel as int32 pairs: JAX's arrays hold no float64 unless x64 is on."""
  from jax.experimental import multihost_utils
  bits = jax.tree.map(lambda x: np.ascontiguousarray(x, np.float64).view(np.int32), tree)
  gathered = multihost_utils.process_allgather(bits)
  return jax.tree.map(lambda x: np.nanmax(np.ascontiguousarray(np.asarray(x)).view(np.float64), axis=0), gathered)


def make_report(names: list[str], scores: dict[str, np.ndarray], baseline: np.ndarray, runs: int,
                input_rate_hz: int) -> dict:
  """The report of `evaluate` from every utterance's scores: per kind (the model, and with its input's
  band kept), the mean and std over runs of the means over utterances, each run's means, the input's
  means, and each utterance's scores (means over runs)."""
  as_dict = lambda row: {m: float(v) for m, v in zip(METRICS, row)}
  report = {'utterances': len(names), 'runs': runs, 'input_rate_hz': input_rate_hz}
  for kind, values in scores.items():
    run_means = values.mean(axis=0)  # [runs, metrics]
    report[kind] = {m: {'mean': float(np.mean(run_means[:, j])), 'std': float(np.std(run_means[:, j]))}
                    for j, m in enumerate(METRICS)}
    report[f'{kind}_per_run'] = [as_dict(row) for row in run_means]
  report['input'] = as_dict(baseline.mean(axis=0))
  report['per_utterance'] = [{'name': n, 'input': as_dict(baseline[i]),
                              **{kind: as_dict(values[i].mean(axis=0)) for kind, values in scores.items()}}
                             for i, n in enumerate(names)]
  return report


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
