"""Progressive distillation of NU-Wave 2: the target against closed forms and an oracle teacher, the
stages handed over and resumed mid-stage, and the command's refusals before anything is written."""

import math
import os
import pathlib
import signal

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import nuwave2_tiny
import nuwave_jax
from nuwave_jax import checkpoints
from nuwave_jax import configuration
from nuwave_jax import distillation
from nuwave_jax import families
from nuwave_jax.cli import distill as distill_cli
from nuwave_jax.data import pipeline
from nuwave_jax.nuwave2 import conditioning
from nuwave_jax.nuwave2 import diffusion
from nuwave_jax.nuwave2 import distillation as nuwave2_distillation
from nuwave_jax.nuwave2 import sampling as nuwave2_sampling
from tests import conftest

FIXTURES = conftest.REPO / 'tests' / 'fixtures' / 'saved_before_family_packages'


def test_one_student_step_with_the_target_lands_on_the_teachers_two_steps():
  rng = np.random.default_rng(0)
  z_t = jnp.asarray(rng.normal(size=(3, 64)), jnp.float32)
  weights = jnp.asarray(rng.normal(size=(64, 64)) / 8, jnp.float32)
  teacher = lambda y, logsnr: jnp.tanh(y @ weights) * (1 + 0.1 * logsnr[:, None])  # any deterministic denoiser
  logsnr_t, logsnr_mid, logsnr_s = (jnp.asarray(v, jnp.float32) for v in ([-2.6, 2.0, 9.8], [-0.8, 6.4, 12.9],
                                                                          [2.0, 9.8, 14.4]))
  z_mid = diffusion.ddim_step(z_t, teacher(z_t, logsnr_t), logsnr_t, logsnr_mid)
  z_s = diffusion.ddim_step(z_mid, teacher(z_mid, logsnr_mid), logsnr_mid, logsnr_s)
  target = nuwave2_distillation.ddim_target(z_t, z_s, logsnr_t, logsnr_s)
  alpha_t, sigma_t = diffusion.alpha_sigma(logsnr_t[:, None])
  noise_target = (z_t - alpha_t * target) / sigma_t
  np.testing.assert_allclose(diffusion.ddim_step(z_t, noise_target, logsnr_t, logsnr_s), z_s, atol=2e-5)
  # In closed form (float64): x~ = (z_s - r z_t) / (alpha_s - r alpha_t), r = sigma_s / sigma_t.
  a = lambda lam: math.sqrt(1 / (1 + math.exp(-lam)))
  s = lambda lam: math.sqrt(1 / (1 + math.exp(lam)))
  for row, (lt, ls) in enumerate(zip([-2.6, 2.0, 9.8], [2.0, 9.8, 14.4])):
    r = s(ls) / s(lt)
    expected = (np.asarray(z_s[row], np.float64) - r * np.asarray(z_t[row], np.float64)) / (a(ls) - r * a(lt))
    np.testing.assert_allclose(target[row], expected, rtol=1e-4, atol=1e-4)


class OracleNetwork:
  """A stand-in for the network whose 'parameters' are the clean signal: it predicts the noise that
  takes it to its input (eps = (y - alpha x) / sigma), as a perfect denoiser would."""

  def apply(self, variables, *args, method=None):
    if method == 'bsft_features':
      return ()
    y, _, _, level = args
    logsnr = 20.0 - 40.0 * level  # the network is told (max - lambda) / (max - min)
    alpha, sigma = diffusion.alpha_sigma(logsnr[:, None])
    return (y - alpha * variables['params']['clean']) / sigma


@pytest.mark.parametrize('target, keep_band', [('signal', False), ('signal_minus_condition', True)])
def test_an_oracle_teacher_gives_the_oracle_signal_as_target(target, keep_band):
  config = nuwave2_tiny.get_config()
  config.diffusion.target, config.sample.keep_band, config.sample.noise_scale = target, keep_band, 0.5
  teacher_grid = config.sample.log_snrs
  families.of(config).with_sampling_grid(config, nuwave2_distillation.halve(teacher_grid))
  examples, loss = nuwave2_distillation.make_objective(config, OracleNetwork(), teacher_grid)
  rng = np.random.default_rng(1)
  t = np.arange(2048) / 48000
  audio = np.stack([0.5 * np.sin(2 * np.pi * f * t) + 0.1 * np.sin(2 * np.pi * 9000 * t) for f in (300, 700, 1100,
                                                                                                      1900)])
  condition, band_mask = conditioning.band_limited(audio, 16000)
  batch = {'audio': jnp.asarray(audio, jnp.float32), 'condition': jnp.asarray(condition),
           'band_mask': jnp.asarray(band_mask)}
  clean = batch['audio'] - batch['condition'] if target == 'signal_minus_condition' else batch['audio']
  teacher = {'clean': clean}
  _, (z_t, _, _, logsnr_t, clean_target, noise_target) = examples(jax.random.key(int(rng.integers(100))), batch,
                                                                  teacher)
  # Each step keeps its clean estimate on the oracle's signal: with keep_band, the oracle's signal with
  # the given band below the cutoff (the condition's; nothing, for the signal minus it), which two
  # DDIM steps and then one lead to alike.
  given = jnp.zeros_like(clean) if target == 'signal_minus_condition' else batch['condition']
  expected = nuwave2_sampling.keep_given_band(clean, given, batch['band_mask'].astype(jnp.float32)) \
      if keep_band else clean
  assert keep_band is False or float(jnp.abs(expected - clean).max()) > 1e-2  # the projection matters here
  np.testing.assert_allclose(clean_target, expected, atol=1e-4)
  alpha, sigma = diffusion.alpha_sigma(logsnr_t[:, None])
  np.testing.assert_allclose(noise_target, (z_t - alpha * clean_target) / sigma, atol=1e-5)
  assert float(loss(teacher, z_t, batch['condition'], batch['band_mask'], logsnr_t, clean_target, noise_target)) < 1e-4


def test_the_first_student_step_starts_from_pure_noise_and_later_ones_from_the_marginal():
  config = nuwave2_tiny.get_config()
  config.sample.noise_scale = 0.5
  teacher_grid = (-2.6, 2.0)
  families.of(config).with_sampling_grid(config, (-2.6,))
  examples, _ = nuwave2_distillation.make_objective(config, OracleNetwork(), teacher_grid)
  audio = jnp.full((64, 512), 0.3)
  batch = {'audio': audio, 'condition': audio, 'band_mask': jnp.ones((64, 513), jnp.int32)}
  _, (z_t, *_) = examples(jax.random.key(0), batch, {'clean': audio})
  # One student step only (j = 0): z_t is noise_scale * N(0, I), whatever the audio.
  assert abs(float(jnp.mean(z_t))) < 0.01 and abs(float(jnp.std(z_t)) - 0.5) < 0.01


def test_a_grid_that_does_not_halve_is_refused():
  with pytest.raises(ValueError, match='does not halve'):
    nuwave2_distillation.halve((-2.6, 2.0, 9.8))
  config = distillation.merge_config(configuration.load_saved_config(FIXTURES / 'nuwave2_tiny'),
                                     configuration.load_config_file(conftest.REPO / 'configs' / 'nuwave2_distill.py'),
                                     FIXTURES / 'nuwave2_tiny', ['distill.steps=3'])
  with pytest.raises(ValueError, match='cannot be halved down to distill.steps = 3'):
    distillation.plan(config)
  assert [name for name, _, _ in distillation.plan(merged(1))] == ['distill_4steps', 'distill_2steps',
                                                                  'distill_1steps', 'finetune_1steps']


def merged(steps: int = 2, **distill):
  config = distillation.merge_config(configuration.load_saved_config(FIXTURES / 'nuwave2_tiny'),
                                     configuration.load_config_file(conftest.REPO / 'configs' / 'nuwave2_distill.py'),
                                     FIXTURES / 'nuwave2_tiny', [f'distill.steps={steps}'])
  for key, value in distill.items():
    config.distill[key] = value
  return config


def _run(config, workdir, synthetic_folder, tmp_path, stop_at=None):
  """distillation.distill on the synthetic folder; stop_at (stage, step): a SIGTERM there."""
  config.data.dir, config.data.tfds_data_dir = str(synthetic_folder), str(tmp_path / 'tfds')
  config.data.trim_top_db = 0.0
  builder = pipeline.make_builder(config)

  def train_data(stage, start):
    for step, batch in enumerate(pipeline.train_dataset(stage, seed=stage.train.seed, start_step=start,
                                                         builder=builder).as_numpy_iterator(), start):
      if stop_at == (stage.train.seed - config.train.seed, step):
        os.kill(os.getpid(), signal.SIGTERM)
      yield batch

  params, _, _ = checkpoints.restore_params(FIXTURES / 'nuwave2_tiny')
  return distillation.distill(config, params, workdir, train_data, pipeline.eval_utterances(config, 2, builder),
                              log=lambda _: None)


def _small_run():
  config = merged(stage_steps=4, finetune_steps=2)
  config.train.batch_size, config.train.checkpoint_every, config.train.eval_every = 8, 2, 4
  config.train.eval_seconds = 0.1
  return config


def test_stages_hand_over_and_a_run_stopped_mid_stage_resumes_to_the_same_student(synthetic_folder, tmp_path):
  assert _run(_small_run(), tmp_path / 'whole', synthetic_folder, tmp_path)
  stopped = tmp_path / 'stopped'
  assert not _run(_small_run(), stopped, synthetic_folder, tmp_path, stop_at=(1, 2))  # SIGTERM in stage 2
  assert not (stopped / distillation.STUDENT_DIR).exists()
  assert _run(_small_run(), stopped, synthetic_folder, tmp_path)
  whole, _, _ = checkpoints.restore_params(tmp_path / 'whole' / distillation.STUDENT_DIR)
  again, saved, _ = checkpoints.restore_params(stopped / distillation.STUDENT_DIR)
  jax.tree.map(np.testing.assert_array_equal, whole, again)
  assert tuple(saved.sample.log_snrs) == (-2.6, 9.8) and saved.sample.steps == 0
  # Each stage started from its teacher: the first stage's student is near the given teacher.
  teacher, _, _ = checkpoints.restore_params(FIXTURES / 'nuwave2_tiny')
  first, _, _ = checkpoints.restore_params(tmp_path / 'whole' / 'distill_4steps')
  moved = max(float(jnp.abs(a - b).max()) for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(teacher)))
  assert 0 < moved < 0.05
  # The student samples on its own grid by default.
  assert nuwave_jax.load(tmp_path / 'whole' / distillation.STUDENT_DIR).sampler.steps == 2


@pytest.mark.parametrize('teacher, flags, message', [
    ('nuwave_tiny', [], 'NU-Wave checkpoints cannot be distilled'),
    ('missing', [], '--teacher'),
    ('nuwave2_tiny', ['--config.distill.steps=3'], 'cannot be halved down to distill.steps = 3'),
    ('nuwave2_tiny', ['--config.model.residual_channels=4'], 'model.residual_channels is fixed by the checkpoint'),
    ('nuwave2_tiny', ['--teacher-step', '99'], 'holds no checkpoint of step 99'),
])
def test_the_command_refuses_what_it_cannot_distill_before_writing(teacher, flags, message, tmp_path, capsys):
  workdir = tmp_path / 'w'
  code = distill_cli.main(['--teacher', str(FIXTURES / teacher), '--config', 'configs/nuwave2_distill.py',
                           '--workdir', str(workdir), *flags])
  assert code == 2 and message in capsys.readouterr().err
  assert not workdir.exists()


def test_a_workdir_of_another_teacher_is_refused(tmp_path):
  config = merged()
  (tmp_path / 'w' / 'distill_4steps').mkdir(parents=True)
  other = merged()
  other.distill.teacher = str(pathlib.Path('/elsewhere'))
  configuration.save_config(tmp_path / 'w' / 'distill_4steps', other)
  with pytest.raises(ValueError, match='holds a distillation of /elsewhere'):
    distillation.check_teacher(config, tmp_path / 'w')
  other.distill.teacher, other.distill.teacher_step = config.distill.teacher, 500
  configuration.save_config(tmp_path / 'w' / 'distill_4steps', other)
  with pytest.raises(ValueError, match=r'\(step 500\), not of'):
    distillation.check_teacher(config, tmp_path / 'w')
