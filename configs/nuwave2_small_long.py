"""configs/nuwave2_small.py trained about five times longer: the recipe of the bundled `nuwave2-small`.

Run (on the real speech of scripts/fetch_speech.sh; the model card, docs/models.md, has the rest):
  scripts/fetch_speech.sh data/speech
  nuwave-jax train --config configs/nuwave2_small_long.py --workdir runs/nuwave2_small_long \
      --config.data.dir=data/speech
Cost: about 0.9 s per step on our 2-core benchmark machine: 8000 steps and 8 evals in about two and a
half hours. The network, the data, the condition and the sampler are nuwave2_small's; only the length
of the cosine decay (and so the run) differs. What it reaches: docs/models.md.
"""

from configs import nuwave2_small


def get_config():
  config = nuwave2_small.get_config()
  config.train.num_steps = 8000
  config.train.eval_every = 1000
  config.train.checkpoint_every = 500
  config.train.keep_checkpoints = None      # every 500 steps kept: the card compares them
  return config
