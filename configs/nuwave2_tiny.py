"""A tiny NU-Wave 2 for tests and quick CPU runs: the same code paths, a few thousand parameters.

It learns little; it exists to exercise the code.
"""

from configs import nuwave2


def get_config():
  config = nuwave2.get_config()
  config.model.residual_channels = 8
  config.model.residual_layers = 2
  config.model.embedding_channels = 16
  config.model.embedding_dim = 32
  config.model.bsft_channels = 8
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
