"""nuwave-jax: NU-Wave and NU-Wave 2 diffusion audio upsampling to 48 kHz in JAX/Flax.

  import nuwave_jax
  up = nuwave_jax.load('checkpoints/nuwave2')        # a checkpoint directory
  out = up.upsample(audio, 16000)                    # numpy [T] or [T, C] -> 48 kHz, same layout

`load` and `Upsampler` are `nuwave_jax.inference`'s (docs/usage.md); imported on first use, so that
`import nuwave_jax.x` stays light.
"""

import os

# TensorFlow, which only the input pipeline uses, turns its oneDNN custom operations on by itself on
# CPUs with AVX-512 and then prints two notices through absl before any log level applies; the
# pipeline's operations (FFTs, gathers) gain nothing from them. Set before TensorFlow is imported.
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')


def __getattr__(name):
  if name in ('load', 'Upsampler'):
    from nuwave_jax import inference
    return getattr(inference, name)
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
