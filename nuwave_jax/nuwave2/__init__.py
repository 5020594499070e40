"""NU-Wave 2 (Han & Lee, Interspeech 2022): one network for any input rate, its log-SNR diffusion and
DDIM sampler (docs/reference.md §8). `model.py` is the network, `diffusion.py` the math, `sampling.py`
the jitted sampler; the condition is `conditioning.band_limited`."""
