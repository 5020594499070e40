"""Writes the bundled models (nuwave_jax/models/) from a trained teacher and its distilled student.

  python scripts/bundle_models.py --teacher runs/nuwave2_small_long --teacher-step 5000 \
      --student runs/nuwave2_small_2step/student --teacher-report runs/reports/teacher/report.json \
      --student-report runs/reports/student/report.json

Each model's folder gets its config, its parameters (the teacher's EMA, the student's) and its card:
what it is, its data and licence, and the numbers its reports measured on the whole eval split; and a
`check` that tests/test_bundled_models.py reproduces: evaluate's numbers on the first 8 clips of
data/speech/eval at 8 and 16 kHz inputs (seed 0). docs/models.md is the card in words.
"""

import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax  # noqa: E402

from nuwave_jax import checkpoints  # noqa: E402
from nuwave_jax import evaluation  # noqa: E402
from nuwave_jax import inference  # noqa: E402
from nuwave_jax import models  # noqa: E402
from nuwave_jax.data import audio as audio_io  # noqa: E402

DATA = ('the speech of Debian\'s tuxpaint-stamps-default package (scripts/fetch_speech.sh: one Spanish '
        'female speaker, 21 minutes, 44.1 kHz Ogg)')
LICENCE = 'GPL-2+, as its training data (nuwave_jax/models/LICENSE); the code is BSD-3'
CHECK = {'limit': 8, 'seed': 0, 'rates': (8000, 16000)}


def measured(report_path) -> list[str]:
  """One line per input rate of an evaluate report.json: LSD (LSD-HF, LSD-LF) and SNR, the input's beside."""
  report = json.loads(pathlib.Path(report_path).read_text())
  lines = []
  for rate, r in report['per_rate'].items():
    m, i = r['model'], r['input']
    lines.append(f"{int(rate) // 1000} kHz in: LSD {m['lsd']['mean']:.3f} (HF {m['lsd_hf']['mean']:.3f}, "
                 f"LF {m['lsd_lf']['mean']:.3f}), SNR {m['snr']['mean']:.2f} dB; the input {i['lsd']:.3f}, "
                 f"{i['snr']:.2f} dB")
  return [f"held-out speakers ({report['utterances']} clips of data/speech/eval):"] + lines


def check(upsampler, data) -> dict:
  utterances, _ = evaluation.scorable(audio_io.read_utterances(data, upsampler.config.data.trim_top_db,
                                                               CHECK['limit']), upsampler.trim_multiple)
  per_rate = {}
  for rate in CHECK['rates']:
    model = evaluation.evaluate(upsampler, utterances, 1, CHECK['seed'], input_rate_hz=rate).report['model']
    per_rate[str(rate)] = {metric: round(value['mean'], 5) for metric, value in model.items()}
  return {'data': str(data), 'limit': CHECK['limit'], 'seed': CHECK['seed'], 'per_rate': per_rate}


def bundle(name: str, checkpoint, report, summary: str, recipe: str, data, teacher: str | None = None,
           step: int | None = None) -> None:
  """nuwave_jax/models/NAME from a checkpoint (of `step`, default its newest); `{step}` in the recipe
  becomes the step restored."""
  params, config, step = checkpoints.restore_params(checkpoint, step=step)
  config.data.dir, config.data.tfds_data_dir = '', ''  # where it was trained: nothing a user has
  if 'distill' in config:
    config.distill.teacher, config.distill.teacher_step = teacher, None  # the bundled teacher itself
  upsampler = inference.Upsampler(config, params, devices=jax.devices()[:1])
  card = {'summary': summary, 'parameters': sum(x.size for x in jax.tree.leaves(params)),
          'steps': upsampler.sampler.steps, 'data': DATA, 'licence': LICENCE, 'recipe': recipe.format(step=step),
          'measured': measured(report), 'check': check(upsampler, data)}
  models.save(models.HERE / name, config, jax.tree.map(lambda x: jax.device_get(x), params), card)
  print(f'wrote {models.HERE / name}: {card["parameters"]:,} parameters, {card["steps"]} steps')


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--teacher', required=True)
  parser.add_argument('--teacher-step', type=int, help="the teacher's checkpoint of this step (default: its newest)")
  parser.add_argument('--student', required=True)
  parser.add_argument('--teacher-report', required=True)
  parser.add_argument('--student-report', required=True)
  parser.add_argument('--data', default='data/speech/eval')
  args = parser.parse_args()
  bundle('nuwave2-small', args.teacher, args.teacher_report,
         'a small NU-Wave 2 (any input rate from 6 kHz) trained on a CPU, 8 DDIM steps',
         'configs/nuwave2_small_long.py, its checkpoint of step {step} (docs/models.md)', args.data,
         step=args.teacher_step)
  bundle('nuwave2-small-2step', args.student, args.student_report,
         'nuwave2-small distilled to 2 steps (progressive distillation, then a fine-tune against the audio)',
         'configs/nuwave2_distill.py with nuwave2-small as the teacher (docs/models.md)', args.data, 'nuwave2-small')


if __name__ == '__main__':
  main()
