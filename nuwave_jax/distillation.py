"""Progressive distillation of a checkpoint to a few-step student, stage by stage, on the sharded train
step (docs/reference.md §9; the family's objectives: `nuwave2/distillation.py`).

  nuwave-jax distill --teacher DIR --config configs/nuwave2_distill.py --workdir W

A distillation is a sequence of training runs in subfolders of W, each an ordinary training workdir
(checkpoints, config.json, TensorBoard, resume, SIGTERM and Ctrl-C saves, NaN stops):
  W/distill_<n>steps    a stage: the student samples on n steps, half its teacher's, and starts from
                        the teacher's parameters; the teacher is the checkpoint given, then each stage's
                        student in turn, down to config.distill.steps
  W/finetune_<n>steps   the n-step sampler, unrolled, fine-tuned against the ground truth
                        (config.distill.finetune_steps; none when 0)
  W/student             the result: its parameters and a config whose sample group records its grid,
                        so `upsample --checkpoint W/student` samples it on that grid
  W/teacher_evals.json  the teacher's scores on the eval clips at each rate, logged beside the
                        students' (eval_<rate>hz/<metric>_teacher)
A stage whose last step is saved is done; running the same command again resumes the first that is
not. The config is the teacher's (model, diffusion, data, sample), the distill config file's train
group and `distill` group, and the command line's --config.group.key overrides (data.dir, say).
"""

import json
import pathlib

import jax
import ml_collections
import numpy as np

from nuwave_jax import checkpoints
from nuwave_jax import configuration
from nuwave_jax import evaluation
from nuwave_jax import families
from nuwave_jax import inference
from nuwave_jax import training

STUDENT_DIR = 'student'
TEACHER_EVALS = 'teacher_evals.json'


def merge_config(teacher_config: ml_collections.ConfigDict, distill_config: ml_collections.ConfigDict,
                 teacher_dir, overrides: list[str] = (), teacher_step: int | None = None
                 ) -> ml_collections.ConfigDict:
  """The teacher's config with the distill config's train and distill groups, the overrides applied
  and config.distill.teacher (and teacher_step, None: its latest) naming the teacher; checked (a
  ValueError names any problem)."""
  missing = [group for group in ('train', 'distill') if group not in distill_config]
  if missing:
    raise ValueError(f'the distill config has no {", ".join(missing)} group')
  config = ml_collections.ConfigDict(teacher_config.to_dict())
  config.train = ml_collections.ConfigDict(distill_config.train.to_dict())
  config.distill = ml_collections.ConfigDict(distill_config.distill.to_dict())
  configuration.apply_overrides(config, list(overrides), fixed_groups=('model', 'diffusion', 'sample'))
  config.distill.teacher = str(pathlib.Path(teacher_dir))
  config.distill.teacher_step = teacher_step
  configuration.check_config(config)
  check_distill_group(config)
  return config


def check_distill_group(config) -> None:
  """config.distill's fields, each one named at fault."""
  d = config.distill
  problems = [f'distill.{field} must be {rule}, got {d.get(field)!r}' for field, holds, rule in (
      ('steps', lambda: configuration.positive_int(d.steps), 'an integer >= 1'),
      ('stage_steps', lambda: configuration.positive_int(d.stage_steps), 'an integer >= 1'),
      ('finetune_steps', lambda: isinstance(d.finetune_steps, int) and d.finetune_steps >= 0, 'an integer >= 0'),
      ('finetune_learning_rate', lambda: d.finetune_learning_rate > 0, 'positive'),
      ('finetune_waveform_weight', lambda: d.finetune_waveform_weight >= 0, 'at least 0'),
      ('finetune_n_ffts', lambda: len(d.finetune_n_ffts) >= 1 and all(n >= 16 and n % 4 == 0
                                                                       for n in d.finetune_n_ffts),
       'FFT sizes, multiples of 4'),
  ) if not _holds(holds)]
  if problems:
    raise ValueError('; '.join(problems))


def _holds(check) -> bool:
  try:
    return bool(check())
  except (TypeError, ValueError, AttributeError):
    return False


def plan(config) -> list[tuple[str, tuple[float, ...], str]]:
  """(subfolder, the student's grid, 'distill' or 'finetune') of every stage, from the teacher's grid
  (config.sample) halved down to config.distill.steps. A ValueError when the family cannot be
  distilled or its grid does not halve to that many steps."""
  family = families.of(config)
  grid = family.sampling_grid(config)
  target = config.distill.steps
  if len(grid) < target:
    raise ValueError(f'the teacher samples on {len(grid)} steps, fewer than distill.steps = {target}')
  halvings = len(grid) // target
  if len(grid) % target or halvings & (halvings - 1):
    raise ValueError(f'a grid of {len(grid)} steps cannot be halved down to distill.steps = {target}: '
                     f'{len(grid)} is not a power of 2 times {target}')
  stages = []
  while len(grid) > target:
    grid = grid[::2]
    stages.append((f'distill_{len(grid)}steps', grid, 'distill'))
  if config.distill.finetune_steps:
    stages.append((f'finetune_{len(grid)}steps', grid, 'finetune'))
  if not stages:
    raise ValueError(f'the teacher already samples on {target} steps and distill.finetune_steps is 0: nothing to do')
  return stages


def stage_config(config, grid, kind: str, index: int) -> ml_collections.ConfigDict:
  """The training config of one stage: the student's grid, the stage's steps and learning rate, a
  seed of its own (so stages see different batches)."""
  stage = ml_collections.ConfigDict(config.to_dict())
  families.of(stage).with_sampling_grid(stage, grid)
  d = stage.distill
  if kind == 'finetune':
    stage.train.num_steps, stage.train.learning_rate = d.finetune_steps, d.finetune_learning_rate
  else:
    stage.train.num_steps = d.stage_steps
  stage.train.seed = config.train.seed + index
  return stage


def is_done(workdir: pathlib.Path, num_steps: int) -> bool:
  """Whether workdir holds a checkpoint of step num_steps."""
  if not (workdir / checkpoints.CHECKPOINT_SUBDIR).is_dir():
    return False
  manager = checkpoints.make_manager(workdir)
  try:
    return num_steps in manager.all_steps()
  finally:
    manager.close()


def teacher_scores(config, params, eval_set, workdir: pathlib.Path, log) -> dict[int, dict[str, float]]:
  """{rate: {metric: value}} of the teacher on the eval clips, at every eval rate: computed once and
  kept in W/teacher_evals.json."""
  path = workdir / TEACHER_EVALS
  if path.is_file():
    return {int(rate): scores for rate, scores in json.loads(path.read_text()).items()}
  upsampler = inference.Upsampler(config, params)
  scores = {}
  for rate in upsampler.family.eval_rates(config):
    model = evaluation.evaluate(upsampler, eval_set, 1, config.sample.seed, input_rate_hz=rate).report['model']
    scores[rate] = {metric: value['mean'] for metric, value in model.items()}
    log(f'teacher ({len(families.of(config).sampling_grid(config))} steps) at {rate / 1000:g} kHz: '
        f"SNR {scores[rate]['snr']:.2f} dB, LSD {scores[rate]['lsd']:.3f}")
  if jax.process_index() == 0:
    evaluation.write_report({str(rate): s for rate, s in scores.items()}, path)
  return scores


def distill(config, teacher_params, workdir, train_data, eval_utterances=(), log=print) -> bool:
  """Runs the stages of `plan(config)` in workdir (module docstring), each resuming where it stopped.
  train_data(stage_config, start_step): this process's batches, as training's. Returns whether every
  stage is done (False when a stage was stopped by SIGTERM or Ctrl-C)."""
  workdir = pathlib.Path(workdir)
  family = families.of(config)
  stages = plan(config)
  check_teacher(config, workdir)
  training.check_batch_fits(config.train.batch_size, config.train.microbatches, jax.device_count())
  eval_set, _ = training.eval_clips(list(eval_utterances), config)
  beside = ('teacher', teacher_scores(config, teacher_params, eval_set, workdir, log)) if eval_set else None
  teacher_grid, params = family.sampling_grid(config), teacher_params
  for index, (name, grid, kind) in enumerate(stages):
    stage = stage_config(config, grid, kind, index)
    stage_dir = workdir / name
    if is_done(stage_dir, stage.train.num_steps):
      log(f'{name}: done')
    else:
      module = family.build_model(stage)
      if kind == 'finetune':
        objective, constants = family.make_finetune_objective(
            stage, module, tuple(stage.distill.finetune_n_ffts), stage.distill.finetune_waveform_weight), None
      else:
        objective, constants = family.make_distillation_objective(stage, module, teacher_grid), params
      log(f'{name}: {len(grid)} steps {tuple(grid)}, from {len(teacher_grid)}')
      state = training.train_and_evaluate(stage, stage_dir, lambda start, stage=stage: train_data(stage, start),
                                          eval_utterances, objective=objective, constants=constants,
                                          initial_params=params, beside=beside)
      if int(jax.device_get(state.step)) < stage.train.num_steps:
        return False
    params, _, _ = checkpoints.restore_params(stage_dir)
    teacher_grid = grid
  student_dir = workdir / STUDENT_DIR
  if not is_done(student_dir, 0):  # every process takes part in the save
    checkpoints.save_params(student_dir, stage, {'params': jax.tree.map(np.asarray, params)})
  log(f'student: {len(teacher_grid)} steps {tuple(teacher_grid)} in {workdir / STUDENT_DIR}')
  return True


def check_teacher(config, workdir: pathlib.Path) -> None:
  """Refuses a workdir whose stages were distilled from another teacher or model."""
  for stage_dir in sorted(workdir.glob('*/' + configuration.CONFIG_FILENAME)):
    saved = configuration.load_saved_config(stage_dir.parent)
    done, wanted = saved.get('distill', {}), config.distill
    teacher, step = done.get('teacher'), done.get('teacher_step')
    if teacher is not None and (pathlib.Path(teacher).resolve() != pathlib.Path(wanted.teacher).resolve()
                                or step != wanted.get('teacher_step')):
      at = lambda directory, n: directory if n is None else f'{directory} (step {n})'
      raise ValueError(f'{workdir} holds a distillation of {at(teacher, step)}, not of '
                       f'{at(wanted.teacher, wanted.get("teacher_step"))}: use a new --workdir')
    configuration.check_same_architecture(saved, config, str(stage_dir.parent))
