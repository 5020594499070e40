"""NU-Wave x2 (24 kHz -> 48 kHz), the paper's recipe (docs/reference.md §1-3).

Run:  python train.py --config configs/nuwave_x2.py --workdir runs/nuwave_x2
Cost: the paper trained on 2 V100s (global batch 36) for an unpublished length; users report
about 1.5 M steps or two weeks on one V100. Target (VCTK multi-speaker): SNR 26.4 dB, LSD 0.845.
"""

from configs import default


def get_config():
  return default.get_config(ratio=2)
