"""A small NU-Wave 2 (32 channels, 8 blocks, ~0.18 M parameters) that learns in half an hour on a CPU.

Run (the learning benchmark of docs/results.md, on the real speech of scripts/fetch_speech.sh):
  scripts/fetch_speech.sh data/speech
  python train.py --config configs/nuwave2_small.py --workdir runs/nuwave2_small --config.data.dir=data/speech
Cost: about 0.9 s per step on our 2-core benchmark machine (1500 steps and 3 evals in under 30 minutes).
Differs from the paper for speed: width, depth, embedding and BSFT sizes, crop 8192, batch 4, a 5x
learning rate with cosine decay; and for learning in minutes, v-prediction and the target 'signal_minus_condition'
(the model diffuses the audio minus its condition, so the band it is given passes through;
docs/results.md compares the paper's eps and signal). The training condition (every cutoff from 3 to
24 kHz, random Chebyshev filters) and the 8-step schedule are the paper's; the sampler keeps the
given band at every step and starts from half the noise (sample.keep_band, sample.noise_scale, chosen
on training clips: docs/results.md).
"""

from configs import nuwave2


def get_config():
  config = nuwave2.get_config()
  config.model.residual_channels = 32
  config.model.residual_layers = 8
  config.model.embedding_channels = 64
  config.model.embedding_dim = 128
  config.model.bsft_channels = 32
  config.model.prediction = 'v'
  config.diffusion.target = 'signal_minus_condition'
  config.data.source = 'folder'
  config.data.segment_samples = 8192
  config.train.batch_size = 4
  config.train.learning_rate = 1e-3
  config.train.lr_decay = 'cosine'
  config.train.num_steps = 1500
  config.train.log_every = 50
  config.train.eval_every = 500
  config.train.eval_utterances = 8
  config.train.eval_seconds = 2.0
  config.train.checkpoint_every = 500
  config.sample.keep_band = True
  config.sample.noise_scale = 0.5
  return config
