"""NU-Wave (Lee & Han, Interspeech 2021): one input rate, a DiffWave network with a waveform-domain
condition path, WaveGrad's continuous noise level and the ancestral sampler (docs/reference.md §1-4).
`model.py` is the network (`cpu_kernels.py` its CPU form), `diffusion.py` the math, `sampling.py` the
jitted sampler, `conditioning.py` the condition (`conditioning_tf.py` its TF twin), `torch_keys.py`
the original checkpoints' names; `family.py` puts them behind the `families.Family` interface."""

from nuwave_jax.nuwave.family import FAMILY  # noqa: F401
