"""NU-Wave 2 (Han & Lee, Interspeech 2022): one network for any input rate, its log-SNR diffusion and
DDIM sampler (docs/reference.md §8). `model.py` is the network, `stft.py` its STFT, `diffusion.py` the
math, `sampling.py` the jitted sampler, `conditioning.py` the condition (`band_limit.py` the training
condition in TF), `torch_keys.py` the original checkpoints' names; `family.py` puts them behind the
`families.Family` interface."""

from nuwave_jax.nuwave2.family import FAMILY  # noqa: F401
