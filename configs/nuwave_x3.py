"""NU-Wave x3 (16 kHz -> 48 kHz), the paper's recipe (docs/reference.md §1-3).

Run:  python train.py --config configs/nuwave_x3.py --workdir runs/nuwave_x3
Cost: as nuwave_x2 (about 1.5 M steps at global batch 36).
Target (VCTK multi-speaker): SNR 24.0 dB, LSD 0.997.
"""

from configs import default


def get_config():
  return default.get_config(ratio=3)
