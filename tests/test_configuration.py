"""The one config check every entry point calls: each field at fault is named, before work starts."""

import pathlib

import pytest

from configs import nuwave2_tiny
from configs import tiny
from nuwave_jax import configuration
from nuwave_jax import distillation
from nuwave_jax import families

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize('path', sorted((REPO / 'configs').glob('[!_]*.py')), ids=lambda p: p.name)
def test_every_shipped_config_passes(path):
  config = configuration.load_config_file(path)
  if 'distill' in config:  # a distill config: the teacher's config gives its model, data and sampler
    config = distillation.merge_config(nuwave2_tiny.get_config(), config, 'runs/teacher')
  configuration.check_config(config)


TINY = {'nuwave': tiny.get_config, 'nuwave2': nuwave2_tiny.get_config}


@pytest.mark.parametrize('family, field', [(name, field) for name in sorted(TINY) for field in
                                           sorted({**configuration.CHOICES, **families.get(name).choices})])
def test_a_misspelt_choice_is_refused_by_name(family, field):
  config = TINY[family]()
  group, key = field.split('.')
  choices = {**configuration.CHOICES, **families.get(family).choices}[field]
  assert config[group][key] in choices  # every choice field is in the config
  config[group][key] = 'typo'
  with pytest.raises(ValueError, match=rf"^{field} must be one of \(.*\), got 'typo'$"):
    configuration.check_config(config)


@pytest.mark.parametrize('field, value, rule', [
    ('data.ratio', -2, 'an integer >= 2'), ('data.ratio', 1, 'an integer >= 2'),
    ('data.sample_rate_hz', 44100, '48000'), ('data.segment_samples', 0, 'at least data.ratio'),
    ('data.gain_min', 2.0, r'in \[0, data.gain_max'), ('train.batch_size', 0, 'at least 1'),
    ('train.num_steps', 0, 'at least 1'), ('train.learning_rate', -0.01, 'positive'),
    ('train.keep_checkpoints', 0, 'at least 1'), ('train.checkpoint_every', 0, 'at least 1'),
    ('train.log_every', 0, 'at least 1'), ('train.eval_every', 0, 'at least 1'),
    ('train.microbatches', 3, 'an integer >= 1 that divides train.batch_size'),
    ('diffusion.log_uniform_fraction', 1.5, r'in \[0, 1\]'),
    ('model.kernel_size', 2, 'an odd integer'), ('model.embedding_channels', 15, 'an even integer'),
    ('sample.noise_scale', 1.5, r'in \[0, 1\]'), ('sample.betas', (0.1, 1.5), 'a sequence of betas'),
    ('sample.overlap_seconds', 0.25, r'in \[0, sample.chunk_seconds'),
    ('sample.batch_size', 0, 'an integer >= 1'), ('train.learning_rate', None, 'positive'),
])
def test_settings_a_run_cannot_mean_are_refused_by_name(tiny_config, field, value, rule):
  configuration.check_config(tiny_config)
  group, key = field.split('.')
  tiny_config[group][key] = value
  with pytest.raises(ValueError, match=rf'{field} must be {rule}.*, got {value!r}'.replace('(', r'\(')
                     .replace(')', r'\)')):
    configuration.check_config(tiny_config)


def test_noise_std_min_must_lie_below_the_schedules_largest_std(tiny_config):
  tiny_config.diffusion.log_uniform_fraction = 0.5
  tiny_config.diffusion.noise_std_min = 0.98  # the paper schedule's largest std is 0.975
  with pytest.raises(ValueError, match="diffusion.noise_std_min must be below the training schedule's"):
    configuration.check_config(tiny_config)
  tiny_config.diffusion.noise_std_min = 0.97
  configuration.check_config(tiny_config)


def test_every_field_at_fault_is_named_in_one_error(tiny_config):
  tiny_config.diffusion.loss = 'l2'
  tiny_config.train.batch_size = 0
  tiny_config.model.kernels = 'gpu'
  with pytest.raises(ValueError) as error:
    configuration.check_config(tiny_config)
  message = str(error.value)
  assert 'diffusion.loss' in message and 'train.batch_size' in message and 'model.kernels' in message


@pytest.mark.parametrize('field, value, rule', [
    ('sample.noise_scale', -0.1, r'in \[0, 1\]'),
    ('sample.steps', -1, 'an integer >= 0'), ('data.segment_samples', 1000, 'a multiple of 256'),
])
def test_nuwave2_settings_a_run_cannot_mean_are_refused_by_name(field, value, rule):
  config = nuwave2_tiny.get_config()
  configuration.check_config(config)
  group, key = field.split('.')
  config[group][key] = value
  with pytest.raises(ValueError, match=rf'{field} must be {rule}.*, got {value!r}'):
    configuration.check_config(config)
