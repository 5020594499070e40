"""A small NU-Wave (32 channels, 10 layers, ~0.4 M parameters) that learns in minutes on a CPU.

Run (the learning benchmark of docs/results.md, on the real speech of scripts/fetch_speech.sh):
  scripts/fetch_speech.sh data/speech
  python train.py --config configs/small.py --workdir runs/small --config.data.dir=data/speech
Cost: 0.12-0.16 s per step on our 2-core benchmark machines (6800 steps in 17-18 minutes with the
evals). It reaches a lower LSD than linear interpolation on the held-out speakers (docs/results.md).
Differs from the paper for speed: width, depth, crop, batch 1, a 33x learning rate with cosine decay;
and for learning in minutes: plain L1, half of the examples at log-uniform noise levels, the log-SNR
embedding, v-prediction, y_t - l y_c as the network's input, and a sampler that adds a quarter of
the paper's noise per step (docs/results.md says what each of these bought).
"""

from configs import default


def get_config():
  config = default.get_config(ratio=3)
  config.model.residual_channels = 32
  config.model.residual_layers = 10
  config.model.noise_input = 'log_snr'
  config.model.embedding_scale = 1.0
  config.model.prediction = 'v'
  config.model.network_input = 'noisy_minus_condition'
  config.diffusion.loss = 'l1'
  config.diffusion.log_uniform_fraction = 0.5
  config.diffusion.noise_std_min = 5e-4     # the sampler's lowest std is 1e-3
  config.data.source = 'folder'
  config.data.segment_samples = 8192
  config.train.batch_size = 1
  config.train.learning_rate = 1e-3
  config.train.lr_decay = 'cosine'
  config.train.num_steps = 6800
  config.train.log_every = 50
  config.train.eval_every = 1700
  config.train.eval_utterances = 8
  config.train.eval_seconds = 2.0
  config.train.checkpoint_every = 1700
  config.sample.noise_scale = 0.25          # chosen on training clips (README)
  return config
