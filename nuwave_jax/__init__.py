"""nuwave-jax: NU-Wave (Lee & Han, Interspeech 2021) audio super-resolution in JAX/Flax."""
