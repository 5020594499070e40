"""configs/nuwave2_small.py trained about five times longer: the recipe of the bundled `nuwave2-small`.

Run (on the real speech of scripts/fetch_speech.sh; the model card, docs/models.md, has the rest):
  scripts/fetch_speech.sh data/speech
  nuwave-jax train --config configs/nuwave2_small_long.py --workdir runs/nuwave2_small_long \
      --config.data.dir=data/speech
Cost: about 0.9 s per step on our 2-core benchmark machine (5000 steps and 5 evals in 2 h 37 min).
The network, the data, the condition and the sampler are nuwave2_small's; only the length of the
cosine decay (and so the run) differs. The bundled nuwave2-small is this run's checkpoint of step
5000, the best of its evals: at step 6000 the 8, 12 and 16 kHz evals were worse (docs/models.md).
"""

from configs import nuwave2_small


def get_config():
  config = nuwave2_small.get_config()
  config.train.num_steps = 8000
  config.train.eval_every = 1000
  config.train.checkpoint_every = 500
  config.train.keep_checkpoints = None      # every 500 steps kept: the card compares them
  return config
