"""A tiny NU-Wave for tests and quick CPU runs: same code paths, a few thousand parameters.

Run:  python train.py --config configs/tiny.py --workdir /tmp/tiny
Cost: a train step takes milliseconds on a CPU. It learns little; it exists to exercise the code.
"""

from configs import default


def get_config():
  config = default.get_config(ratio=2)
  config.model.residual_channels = 8
  config.model.residual_layers = 4
  config.model.dilation_cycle = 2
  config.model.embedding_channels = 16
  config.model.embedding_dim = 32
  config.data.segment_samples = 2048
  config.data.source = 'folder'
  config.train.batch_size = 4
  config.train.num_steps = 20
  config.train.log_every = 5
  config.train.eval_every = 10
  config.train.eval_utterances = 2
  config.train.eval_seconds = 0.1
  config.train.checkpoint_every = 10
  config.sample.chunk_seconds = 0.25
  config.sample.overlap_seconds = 0.05
  config.sample.batch_size = 2
  return config
