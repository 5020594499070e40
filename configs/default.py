"""Every hyperparameter of NU-Wave, grouped as model / diffusion / data / train / sample.

`nuwave_x2.py` and `nuwave_x3.py` are this recipe at ratio 2 and 3; `tiny.py` shrinks it for tests.
The numbers are the paper's and its code's (docs/reference.md §1-4). This file is the reference for
every field: each one's meaning is the comment beside it.
"""

import ml_collections

# The paper's 8-step inference schedule (hparameter.yaml "ddpm.infer_schedule").
PAPER_SAMPLING_BETAS = (1e-6, 2e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 9e-1)


def get_config(ratio: int = 2) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()

  config.model = ml_collections.ConfigDict()
  config.model.name = 'nuwave'              # the family (nuwave_jax/families.py): 'nuwave' (this file) or 'nuwave2'
  config.model.residual_channels = 64
  config.model.residual_layers = 30
  config.model.dilation_cycle = 10          # dilation 2^(i mod cycle)
  config.model.kernel_size = 3
  config.model.embedding_channels = 128     # sin/cos features of the noise level
  config.model.embedding_dim = 512
  config.model.embedding_scale = 50000.0    # v_i = scale * input * 10^(-4 i / 64)
  # The embedding's input: 'level' l = sqrt(alpha_bar) (the paper) or 'log_snr' log(l^2 / (1 - l^2))
  # (NU-Wave 2), which tells the last sampling steps apart (use embedding_scale ~1 with it).
  config.model.noise_input = 'level'
  # What the network outputs: 'eps' the noise (the paper) or 'v' = l eps - s y0 (nuwave/diffusion.py).
  config.model.prediction = 'eps'
  # What the network sees in place of y_t: 'noisy' y_t (the paper) or 'noisy_minus_condition' y_t - l y_c.
  config.model.network_input = 'noisy'
  config.model.dtype = 'float32'            # convolutions: 'float32' or 'bfloat16'
  # How the network is computed (the same values either way): 'plain' (model.py), 'cpu'
  # (cpu_kernels.py: faster on a CPU), or 'auto': 'cpu' when JAX computes on a CPU.
  config.model.kernels = 'auto'

  config.diffusion = ml_collections.ConfigDict()
  config.diffusion.num_steps = 1000         # training schedule: T
  config.diffusion.beta_start = 1e-6
  config.diffusion.beta_end = 0.006
  config.diffusion.loss = 'log_l1'          # 'log_l1' (NU-Wave) or 'l1' (NU-Wave 2)
  # Noise level per training example: WaveGrad's continuous level over the schedule above (the
  # paper), except for this fraction of examples, whose noise std is log-uniform from noise_std_min
  # to the schedule's largest (0.975).
  config.diffusion.log_uniform_fraction = 0.0
  config.diffusion.noise_std_min = 1e-4

  config.data = ml_collections.ConfigDict()
  config.data.sample_rate_hz = 48000
  config.data.ratio = ratio                 # 2: 24 -> 48 kHz, 3: 16 -> 48 kHz
  config.data.segment_samples = 32768       # training crop (0.68 s)
  config.data.lowpass_n_fft = 1024          # condition: STFT brick-wall low-pass
  config.data.lowpass_hop = 256
  config.data.gain_min = 0.5                # random gain U(gain_min, gain_max) in training
  config.data.gain_max = 1.0
  config.data.trim_top_db = 15.0            # librosa trim per utterance (0 disables)
  # Where the audio comes from: 'folder' (any tree of audio files with train/ and eval/
  # subfolders), 'vctk' (the VCTK 0.92 layout in manual_dir) or 'tfds' (a prepared TFDS name).
  config.data.source = 'vctk'
  config.data.dir = ''                      # the audio folder, or VCTK's manual_dir
  config.data.tfds_name = ''
  config.data.tfds_data_dir = ''
  config.data.vctk_variant = 'multi'        # 'multi' (108 speakers) or 'single' (p225)
  config.data.on_bad_file = 'fail'          # 'fail' or 'skip' (with a warning and a count)
  config.data.shuffle_buffer = 1024

  config.train = ml_collections.ConfigDict()
  config.train.batch_size = 36              # global: 18 per GPU on 2 GPUs
  # Gradient accumulation: the global batch in this many sequential parts (the same update, 1/n of
  # the activation memory; on a CPU, batches beyond 1 x 32768 per device run faster per example so).
  # What fits each TPU chip: nuwave_jax/chips.py (python -m nuwave_jax.chips --config FILE).
  config.train.microbatches = 1
  config.train.learning_rate = 3e-5
  config.train.lr_decay = 'constant'       # or 'cosine' or 'linear': to 0 at num_steps
  config.train.adam_b1 = 0.5
  config.train.adam_b2 = 0.999
  config.train.adam_eps = 1e-9
  config.train.grad_clip_norm = 0.5
  config.train.ema_decay = 0.999
  config.train.ema_style = 'standard'       # 'standard' or the original's 'original' (see README)
  config.train.num_steps = 1_500_000
  config.train.log_every = 100
  config.train.eval_every = 10_000
  config.train.eval_utterances = 4          # sampled at every eval step, on process 0
  config.train.eval_seconds = 2.0           # each cropped to this length
  config.train.checkpoint_every = 5_000
  # Multi-host: a process that hears nothing from another for this long (it was killed, preempted or
  # its host failed) stops the run with an error instead of waiting forever (jax.distributed heartbeats).
  config.train.peer_timeout_seconds = 100
  config.train.keep_checkpoints = 3
  config.train.seed = 0

  config.sample = ml_collections.ConfigDict()
  config.sample.betas = PAPER_SAMPLING_BETAS
  config.sample.seed = 0
  # Each ancestral step's added noise sigma_t times this: 1 the paper, 0 none (nuwave/diffusion.py).
  config.sample.noise_scale = 1.0
  # Long files are sampled in overlapping chunks of chunk_seconds (a 4 s file is one chunk); the
  # overlap is what the paper network's context needs for chunked output to equal unchunked to float
  # rounding (8e-7; 0.1 s leaves 2e-4: docs/performance.md).
  config.sample.chunk_seconds = 4.0
  config.sample.overlap_seconds = 0.25
  config.sample.batch_size = 1              # chunks sampled at once (memory grows with it; 4 s: ~3.5 GB)

  return config
