"""Every hyperparameter of NU-Wave 2 (Han & Lee, Interspeech 2022): one model for any input rate, its
log-SNR diffusion and 8-step DDIM sampler (docs/reference.md §8). Fields the two families share mean
what configs/default.py says; the ones of NU-Wave 2 alone are commented here.

Use: convert the official checkpoint (nuwave-jax convert nuwave2.ckpt --config configs/nuwave2.py
--out DIR), then nuwave-jax upsample --checkpoint DIR FILES... (a file's own rate sets its band).
Cost: the paper trained about 1 M steps, three weeks on 2 A100s. Target (VCTK, the last 8 speakers):
LSD 1.14 / 1.01 / 0.925 / 0.774 at 8 / 12 / 16 / 24 kHz input.
"""

import ml_collections

from configs import default
from nuwave_jax.nuwave2.diffusion import PAPER_LOG_SNRS


def get_config() -> ml_collections.ConfigDict:
  base = default.get_config()
  config = ml_collections.ConfigDict()

  config.model = ml_collections.ConfigDict()
  config.model.name = 'nuwave2'
  config.model.residual_channels = 64
  config.model.residual_layers = 15         # blocks of STFC
  config.model.embedding_channels = 128     # sin/cos features of the normalised negative log-SNR
  config.model.embedding_dim = 512
  config.model.embedding_scale = 50000.0    # v_i = scale * input * 10^(-4 i / 63)
  config.model.bsft_channels = 64           # BSFT's hidden channels
  config.model.dtype = 'float32'            # convolutions: 'float32' or 'bfloat16' (the STFT stays float32)
  config.model.prediction = 'eps'           # the network's output: 'eps' (the paper) or v = alpha eps - sigma y0

  config.diffusion = ml_collections.ConfigDict()
  config.diffusion.logsnr_min = -20.0       # lambda(1): pure noise, nearly
  config.diffusion.logsnr_max = 20.0        # lambda(0): clean, nearly
  # What is diffused: 'signal', the 48 kHz audio (the paper), or 'signal_minus_condition', the audio
  # minus its condition, which the sampler adds back: the given band passes through, the model adds
  # the rest. The loss is the paper's plain L1 (on eps, or on v).
  config.diffusion.target = 'signal'

  config.data = base.data
  del config.data['ratio'], config.data['lowpass_n_fft'], config.data['lowpass_hop']
  # The training condition, drawn per example: a cutoff f_c (Hz, both ends included; 24 kHz is the
  # segment itself), a Chebyshev type I low-pass of an order in filter_orders (both included) and a
  # ripple (dB) from filter_ripples_db, zero-phase, then resampling to 2 f_c and back.
  config.data.cutoff_range_hz = (3000, 24000)
  config.data.filter_orders = (1, 11)
  config.data.filter_ripples_db = (1e-9, 1e-6, 1e-3, 1.0, 5.0)
  # Inputs the evals and evaluate.py simulate from 48 kHz ground truth (Hz; cutoff rate // 2).
  config.data.eval_rates_hz = (8000, 12000, 16000, 24000)
  config.data.source = 'vctk'

  config.train = base.train
  config.train.batch_size = 24              # 12 per GPU on 2 GPUs
  config.train.learning_rate = 2e-4
  config.train.adam_b1 = 0.9
  config.train.adam_b2 = 0.99
  config.train.num_steps = 1_000_000

  config.sample = ml_collections.ConfigDict()
  config.sample.log_snrs = PAPER_LOG_SNRS    # the published 8 steps, the last to logsnr_max
  config.sample.steps = 0                   # 0: the log_snrs above; N: N steps on a uniform log-SNR grid
  # Beyond the paper (nuwave_jax/nuwave2/sampling.py): the starting y ~ N(0, noise_scale^2), and every
  # step's clean estimate keeping the condition's band below the input's cutoff.
  config.sample.noise_scale = 1.0
  config.sample.keep_band = False
  config.sample.seed = 0
  config.sample.chunk_seconds = base.sample.chunk_seconds
  config.sample.overlap_seconds = base.sample.overlap_seconds  # chunked = whole to 1e-5 (docs/performance.md)
  config.sample.batch_size = base.sample.batch_size
  return config
