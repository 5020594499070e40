"""Model families: the interface each one implements, and the registry that finds it by name.

A family is one package (`nuwave_jax/nuwave/`, `nuwave_jax/nuwave2/`) whose `FAMILY` is a `Family`:
its network, training objective and training condition, sampler and schedule, the condition of a real
file and of an input simulated from 48 kHz ground truth, the input rates it takes, the converter of
the original checkpoints, its config checks and its chip memory hints. Shared code (training, data,
inference, evaluation, convert, chips, configuration, cli) calls `of(config)` or `get(name)` and then
these methods; it never asks which family it holds. A third family is one package and one line in
`PACKAGES` (docs/architecture.md walks through it).
"""

import abc
import dataclasses
import importlib
from typing import Any
from typing import Callable

import numpy as np

# config.model.name -> the package whose FAMILY implements it. Imported on first use.
PACKAGES = {'nuwave': 'nuwave_jax.nuwave', 'nuwave2': 'nuwave_jax.nuwave2'}
UNNAMED = 'nuwave'  # the family of checkpoints saved before config.model.name existed


class InputError(ValueError):
  """An input that cannot be upsampled (the message names the file and the problem)."""


@dataclasses.dataclass
class Condition:
  """What the sampler needs of one input at 48 kHz, channels first.

  signal: [channels, time] float32, the network's condition (the input brought to 48 kHz as the
    family's training made it: the baseline every report scores beside the model);
  input_48k: [channels, time] float32, the input's own band at 48 kHz, what `--keep-input-band` keeps;
  cutoff_hz: the input's cutoff, below which `input_48k` holds the input;
  extras: per-channel sampler inputs beyond the signal, by the name the sampler takes them under
    (NU-Wave 2: {'band_mask': [channels, 513] int32}); empty for NU-Wave.
  """
  signal: np.ndarray
  input_48k: np.ndarray
  cutoff_hz: float
  extras: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

  def channel(self, c: int) -> 'Condition':
    """Channel c alone, [1, time]."""
    return Condition(self.signal[c:c + 1], self.input_48k[c:c + 1], self.cutoff_hz,
                     {k: v[c:c + 1] for k, v in self.extras.items()})


@dataclasses.dataclass(frozen=True)
class Sampler:
  """A jitted `sample(params, cond, schedule, keys, start_samples, **extras) -> [batch, time]`
  float32: cond [batch, time] (time a multiple of `sampling.NOISE_BLOCK_SAMPLES`), keys [batch] PRNG
  keys, start_samples [batch] int (the absolute position of each row's first sample), extras as the
  family's `Condition.extras`, stacked by row; and the schedule (arrays) it runs on."""
  sample: Callable[..., Any]
  schedule: Any
  steps: int  # network evaluations per output


@dataclasses.dataclass(frozen=True)
class TrainingConditionTF:
  """A family's training condition in tf.data (held by tests to the numpy one):
  per_example(audio [time] float32, seed [2] int64, data config) -> {'audio', 'condition', ...},
  each [time] or per-example arrays; per_batch({'audio': [batch, time], ...}, data config) -> the
  same dict with whatever is made per batch added. Either may be None (nothing at that stage)."""
  per_example: Callable[..., dict] | None
  per_batch: Callable[..., dict] | None


# Kinds of original module: how its tensors become ours. Conv1d weight (out, in, kernel) -> kernel
# (kernel, in, out); Linear weight (out, in) and a 1x1 Conv2d's (out, in, 1, 1) -> (in, out).
CONV, CONV_NO_BIAS, LINEAR, CONV2D_1X1_NO_BIAS = 'conv', 'conv_no_bias', 'linear', 'conv2d_1x1_no_bias'


@dataclasses.dataclass(frozen=True)
class TorchKeys:
  """How an original PyTorch checkpoint maps to our parameters (`nuwave_jax.convert`).

  prefixes: the state dict's name prefixes, the first that all names carry is removed;
  names(config) -> {original module name: (our parameter path, kind)} (kinds: CONV, ... above);
  buffers(config) -> the original's non-parameter tensors, checked by check_buffers(state, config)
    (raises ValueError) and then dropped;
  check_config(config): raises ValueError for a config the original weights cannot mean;
  hyper_parameters(config) -> ((keys in hparameter.yaml, our field, our value, advice), ...), the
    fields a Lightning checkpoint's stored hyperparameters must agree with.
  """
  prefixes: tuple[str, ...]
  names: Callable
  buffers: Callable
  check_buffers: Callable
  check_config: Callable
  hyper_parameters: Callable


class Family(abc.ABC):
  """One model family. Methods take the config (an ml_collections ConfigDict, checked) where they
  depend on it."""
  name: str      # config.model.name
  title: str     # as the papers write it: 'NU-Wave'
  # How the condition brings the input to 48 kHz: what reports call the input baseline.
  input_baseline: str
  # Fields of this family that take one of a few strings, and those strings.
  choices: dict[str, tuple]
  torch_keys: TorchKeys
  # Training audio one TPU device holds at once (float32 samples), by HBM per device in GiB:
  # measured by benchmarks/tpu_fit.py with a quarter of the HBM to spare (docs/performance.md).
  samples_that_fit: dict[int, int]
  # XLA options the train step compiles with on a TPU ({} for none).
  tpu_compiler_options: dict[str, Any] = {}

  # Configs.
  @abc.abstractmethod
  def config_checks(self, config) -> list:
    """(a zero-argument check that must hold, 'group.key', what it must be) for this family's fields."""

  @abc.abstractmethod
  def upgrade_saved_config(self, config) -> None:
    """Brings a config.json written by an older version to the current fields, in place: fields
    added since get what their absence meant, renamed values their new names, unread ones go."""

  # The network.
  @abc.abstractmethod
  def build_model(self, config):
    """The flax module `config.model` describes."""

  @abc.abstractmethod
  def init_params(self, module, rng):
    """Float32 parameters of `module` (a network of `build_model`)."""

  # Training.
  @abc.abstractmethod
  def make_objective(self, config, module):
    """(examples, loss): examples(rng, batch) -> (next rng, a tuple of [global_batch, ...] arrays
    drawn once for the whole batch: the network's inputs and target); loss(params, *examples) -> the
    scalar loss. batch: what the training pipeline gives (`training_condition_tf`)."""

  @abc.abstractmethod
  def training_condition_tf(self) -> TrainingConditionTF:
    """The condition of a training segment, made in the tf.data pipeline."""

  # Sampling.
  @abc.abstractmethod
  def make_sampler(self, config, module) -> Sampler:
    """The jitted sampler config.sample describes."""

  @abc.abstractmethod
  def sampling_overrides(self, config, schedule: str | None, steps: int | None) -> list[str]:
    """'sample.key=value' overrides for the command line's --schedule and --steps (None: not given);
    a ValueError names a flag this family does not take."""

  # Conditions.
  @abc.abstractmethod
  def input_rate_hz(self, config) -> int | None:
    """The one input rate the checkpoint takes, or None when it takes a range (`check_input_rate`)."""

  @abc.abstractmethod
  def check_input_rate(self, config, rate: int) -> None:
    """Raises an InputError (no file named) unless inputs at `rate` Hz can be simulated and scored."""

  @abc.abstractmethod
  def eval_rates(self, config) -> tuple[int, ...]:
    """The input rates evaluations simulate by default."""

  @abc.abstractmethod
  def describe_input_rates(self, config) -> str:
    """What inputs it takes, for help and error messages: '24000 Hz (x2)'."""

  @abc.abstractmethod
  def trim_multiple(self, config) -> int:
    """Ground truth and inputs at 48 kHz are trimmed to a multiple of this many samples."""

  @abc.abstractmethod
  def simulate(self, config, reference: np.ndarray, input_rate_hz: int) -> Condition:
    """The condition of an input at input_rate_hz simulated from 48 kHz ground truth
    [channels, time] (time a multiple of `trim_multiple`), as the family's test set makes it."""

  @abc.abstractmethod
  def check_bandwidth(self, config, bandwidth: float | str | None) -> None:
    """Raises a ValueError for a content cutoff (`condition_from_file`'s bandwidth) it cannot take."""

  @abc.abstractmethod
  def condition_from_file(self, config, audio: np.ndarray, rate: int, path, resample: bool = False,
                          bandwidth: float | str | None = None) -> tuple[Condition | None, str]:
    """(the condition of a real recording [channels, n] at its own `rate`, a note on its band for the
    user, '' for none). The condition is None when the recording's band already reaches 24 kHz:
    nothing to add. bandwidth: where its content stops, when below rate / 2: 'auto' (detected), Hz,
    or None (rate / 2). resample: bring another rate to the one it takes. An InputError names `path`
    and the problem."""

  # Few-step samplers (optional: a family whose sampler cannot be distilled keeps these refusals).
  def sampling_grid(self, config) -> tuple[float, ...]:
    """The noise levels its sampler's steps start from, as config.sample says (NU-Wave 2: log-SNRs)."""
    raise ValueError(f'{self.title} checkpoints cannot be distilled: its sampler is not a deterministic '
                     'DDIM on a grid of noise levels')

  def with_sampling_grid(self, config, grid) -> None:
    """Sets config.sample to sample on `grid` (what a student's checkpoint records), in place."""
    raise ValueError(f'{self.title} checkpoints cannot be distilled')

  def make_distillation_objective(self, config, module, teacher_grid):
    """(examples, loss) of a progressive-distillation stage: the student samples on config's grid,
    half of `teacher_grid`; examples(rng, batch, teacher_params)."""
    raise ValueError(f'{self.title} checkpoints cannot be distilled')

  def make_finetune_objective(self, config, module, n_ffts, waveform_weight: float):
    """(examples, loss) of a fine-tune of the sampler on config's grid against the ground truth."""
    raise ValueError(f'{self.title} checkpoints cannot be distilled')


def upgrade_config(config, added: dict, renamed_values: dict | None = None, removed: dict | None = None) -> None:
  """`Family.upgrade_saved_config`'s steps, in place: added {group: {key: value its absence meant}},
  renamed_values {(group, key): {old value: new value}}, removed {group: (key, ...)}."""
  for group, keys in added.items():
    for key, value in keys.items():
      if key not in config[group]:
        config[group][key] = value
  for (group, key), names in (renamed_values or {}).items():
    if config[group].get(key) in names:
      config[group][key] = names[config[group][key]]
  for group, keys in (removed or {}).items():
    for key in keys:
      if key in config[group]:
        del config[group][key]


def get(name: str) -> Family:
  """The family of config.model.name `name`; a ValueError lists the known ones."""
  if name not in PACKAGES:
    raise ValueError(f'model.name must be one of {tuple(PACKAGES)}, got {name!r}')
  return importlib.import_module(PACKAGES[name]).FAMILY


def of(config) -> Family:
  """The family of a config (`config.model.name`)."""
  return get(config.model.name)
