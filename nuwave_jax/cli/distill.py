r"""nuwave-jax distill: a few-step student of a checkpoint, by progressive distillation (NU-Wave 2).

  nuwave-jax distill --teacher runs/nuwave2_small_long --teacher-step 5000 --config configs/nuwave2_distill.py \
      --workdir runs/nuwave2_small_2step --config.data.dir=data/speech

The teacher's grid of steps is halved, stage by stage, down to the config's distill.steps, each stage
a training run in a subfolder of --workdir that starts from its teacher; then the few-step sampler is
fine-tuned against the ground truth. The result is WORKDIR/student, which `upsample` and `evaluate`
sample on its own grid. The same command again resumes; SIGTERM and Ctrl-C save and stop. Several
processes: --multihost, or --coordinator-address, --num-processes and --process-id, as for train.
"""

import argparse
import pathlib
import sys

from nuwave_jax.cli import common


def parser() -> argparse.ArgumentParser:
  p = common.parser('distill', __doc__, 'Distill a NU-Wave 2 checkpoint to a few-step student (progressive '
                    'distillation, then a fine-tune against the ground truth); the same command again resumes.')
  p.add_argument('--teacher', required=True, metavar='DIR', help='a training workdir or a converted checkpoint')
  p.add_argument('--config', required=True, metavar='FILE', help='a distill config, e.g. configs/nuwave2_distill.py')
  p.add_argument('--workdir', required=True, help='the stages, their checkpoints and logs, and the student')
  p.add_argument('--teacher-step', type=int, metavar='N', help="the teacher's checkpoint of step N (default: newest)")
  p.add_argument('--no-ema', action='store_true', help="the teacher's raw instead of its EMA parameters")
  common.add_multihost_flags(p)
  common.add_overrides_help(p, 'data.dir=data/speech (data: the teacher\'s by default)')
  return p


def main(argv=None) -> int:
  args, overrides = common.parse(parser(), argv)
  import jax

  from nuwave_jax import checkpoints
  from nuwave_jax import configuration
  from nuwave_jax import distillation
  from nuwave_jax.data import pipeline
  try:
    if not pathlib.Path(args.teacher).is_dir():
      raise FileNotFoundError(f'--teacher {args.teacher}: no such checkpoint directory')
    teacher_config = configuration.load_saved_config(args.teacher)
    config = distillation.merge_config(teacher_config, configuration.load_config_file(args.config), args.teacher,
                                       overrides, args.teacher_step)
    distillation.plan(config)  # the family and the grid can be distilled: checked before anything is written
    distillation.check_teacher(config, pathlib.Path(args.workdir))
    params, _, _ = checkpoints.restore_params(args.teacher, use_ema=not args.no_ema, step=args.teacher_step)
  except (FileNotFoundError, ValueError) as error:
    return common.fail(error)
  common.initialize_multihost(args, config.train.peer_timeout_seconds)
  try:
    builder = common.prepare_data_once(config)
    train_data = lambda stage, start_step: pipeline.train_dataset(
        stage, process_index=jax.process_index(), process_count=jax.process_count(), seed=stage.train.seed,
        start_step=start_step, builder=builder).as_numpy_iterator()
    eval_utterances = pipeline.eval_utterances(config, config.train.eval_utterances, builder) \
        if jax.process_index() == 0 and config.train.eval_utterances else []
    log = print if jax.process_index() == 0 else (lambda _: None)
    distillation.distill(config, params, args.workdir, train_data, eval_utterances, log)
  except (FileNotFoundError, ValueError, FloatingPointError) as error:
    return common.fail(error)
  except jax.errors.JaxRuntimeError as error:
    return common.lost_host(error, args.workdir)
  return 0


if __name__ == '__main__':
  sys.exit(main())
