"""Progressive distillation of a NU-Wave 2 checkpoint to a 2-step student (docs/reference.md §9):
8 -> 4 -> 2 steps, then the 2-step sampler fine-tuned against the ground truth.

Run (the teacher: a training workdir or a converted checkpoint; its config gives the network, the
diffusion, the data and the sampler's options, this file the optimisation):
  nuwave-jax distill --teacher runs/nuwave2_small_long --teacher-step 5000 \
      --config configs/nuwave2_distill.py --workdir runs/nuwave2_small_2step --config.data.dir=data/speech
Cost on our 2-core benchmark machine with the bundled nuwave2-small as the teacher: docs/models.md.
What it reaches (the 2-step student beside its 8-step teacher and the teacher on a plain 2-step grid):
docs/results.md. The recipe of Salimans & Ho (CIFAR: 50 k steps per halving at batch 128, Adam 5e-5
linearly to 0, no EMA, clip 1) scaled to a small model on a CPU: fewer steps, a larger rate.
"""

import ml_collections

from configs import default


def get_config():
  config = ml_collections.ConfigDict()
  config.train = default.get_config().train
  config.train.batch_size = 4
  config.train.learning_rate = 2e-4          # each stage: linearly to 0
  config.train.lr_decay = 'linear'
  config.train.adam_b1 = 0.9
  config.train.adam_b2 = 0.99
  config.train.grad_clip_norm = 1.0
  config.train.ema_decay = 0.0               # no EMA: a stage's student is its last parameters
  config.train.log_every = 50
  config.train.eval_every = 500
  config.train.eval_utterances = 8
  config.train.eval_seconds = 2.0
  config.train.checkpoint_every = 250
  config.train.keep_checkpoints = 2

  config.distill = ml_collections.ConfigDict()
  config.distill.steps = 2                   # the student's steps: the teacher's grid halved down to this
  config.distill.stage_steps = 1000          # optimizer steps per halving
  # The fine-tune of the final sampler, unrolled from noise to its output, against the audio:
  # multi-resolution log-power L1 (these FFT sizes, hop a quarter) + this weight x waveform L1.
  config.distill.finetune_steps = 150        # 0: none
  config.distill.finetune_learning_rate = 1e-4
  config.distill.finetune_n_ffts = (512, 1024, 2048)
  config.distill.finetune_waveform_weight = 1.0
  return config
