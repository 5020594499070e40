"""Audio input: reading files (`audio`), TFDS builders (`builders`) and tf.data pipelines (`pipeline`)."""
