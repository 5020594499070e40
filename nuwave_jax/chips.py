"""TPU chips as JAX sees them, and training settings that fit one.

`CHIPS` holds, per host shape, what one JAX device has: HBM, peak bfloat16 matmul rate and HBM
bandwidth (Google Cloud's TPU pages: v4, v5e, v6e; v3 per core, two per chip), and how to build its
compile-only topology (`jax.experimental.topologies`) for benchmarks/tpu_fit.py. `train_overrides`
turns a device kind and count into config overrides: a global batch the devices split evenly and
enough microbatches for one device's share to fit its HBM, from the audio per device that
benchmarks/tpu_fit.py measured to fit for the config's family (docs/performance.md).

  python -m nuwave_jax.chips --config configs/nuwave_x3.py [--platform tpu]

prints this machine's devices and, as its last line, a JSON object with the overrides (the Colab
notebook's chip check; with --platform it fails unless JAX runs on that platform).
"""

import argparse
import dataclasses
import json
import math
import os
import sys

from nuwave_jax import families


@dataclasses.dataclass(frozen=True)
class Chip:
  """One host shape: `devices` JAX devices of `device_kind`, each with these resources."""
  name: str                  # what Colab, Kaggle and Cloud call it: 'v5e-1'
  device_kind: str           # jax.Device.device_kind
  devices: int               # JAX devices on the host (v4: one per chip, its two cores as one)
  hbm_gib: float             # HBM per device, GiB
  peak_tflops: float         # peak bfloat16 matmul TFLOP/s per device
  hbm_gbps: float            # HBM bandwidth per device, GB/s
  topology: str              # jax.experimental.topologies.get_topology_desc's name
  chips_per_host: tuple[int, int, int]
  chip_config: str | None = None  # 'megacore': two cores as one device


CHIPS = {c.name: c for c in (
    Chip('v5e-1', 'TPU v5 lite', 1, 16, 197, 819, 'v5e:1x1', (1, 1, 1)),
    Chip('v6e-1', 'TPU v6 lite', 1, 32, 918, 1640, 'v6e:1x1', (1, 1, 1)),
    Chip('v5e-8', 'TPU v5 lite', 8, 16, 197, 819, 'v5e:2x4', (2, 4, 1)),
    Chip('v6e-8', 'TPU v6 lite', 8, 32, 918, 1640, 'v6e:2x4', (2, 4, 1)),
    Chip('v4-8', 'TPU v4', 4, 32, 275, 1228, 'v4:2x2x1', (2, 2, 1), 'megacore'),
    Chip('v3-8', 'TPU v3', 8, 16, 61.5, 450, 'v3:2x2', (2, 2, 1)),
)}

def hbm_gib_of(device_kind: str) -> float | None:
  """HBM per device of a device kind, GiB (None for one not in CHIPS, such as a CPU)."""
  return next((c.hbm_gib for c in CHIPS.values() if c.device_kind == device_kind), None)


def valid_batch(batch_size: int, devices: int) -> int:
  """The global batch nearest `batch_size` that `devices` split evenly (ties: the larger)."""
  return max(devices, math.floor(batch_size / devices + 0.5) * devices)


def train_overrides(config, device_kind: str, devices: int) -> dict[str, int]:
  """{'train.batch_size': B, 'train.microbatches': M} for training `config` on `devices`
  devices of `device_kind`: B the config's batch made a multiple of the device count, M the fewest
  parts (dividing each device's rows) for a part to fit the audio its family's
  `Family.samples_that_fit` measured for that HBM (also used for bfloat16 convolutions, which save
  less than half: NU-Wave's batch 36 still asks 21.6 GiB on a v5e); M = 1 off a known TPU."""
  batch = valid_batch(config.train.batch_size, devices)
  rows = batch // devices
  hbm = hbm_gib_of(device_kind)
  if hbm is None:
    return {'train.batch_size': batch, 'train.microbatches': 1}
  fits = families.of(config).samples_that_fit
  fit = fits[min(fits, key=lambda gib: abs(gib - hbm))] // config.data.segment_samples
  microbatches = next(m for m in range(1, rows + 1) if rows % m == 0 and rows // m <= max(fit, 1))
  return {'train.batch_size': batch, 'train.microbatches': microbatches}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog='python -m nuwave_jax.chips', description=__doc__.split('\n\n')[0])
  parser.add_argument('--config', required=True, help='the config file to train')
  parser.add_argument('--platform', help="fail unless JAX's backend is this one ('tpu')")
  args = parser.parse_args(argv)
  import jax

  from nuwave_jax import configuration
  config = configuration.load_config_file(args.config)
  try:
    backend = jax.default_backend()
  except RuntimeError as error:  # JAX_PLATFORMS names a platform this machine does not have
    print(f'error: JAX found no {os.environ.get("JAX_PLATFORMS", "device")} here ({str(error).splitlines()[0]}); '
          'on Colab: Runtime > Change runtime type > TPU', file=sys.stderr)
    return 1
  if args.platform and backend != args.platform:
    print(f'error: JAX runs on {backend}, not {args.platform} ({jax.devices()})', file=sys.stderr)
    return 1
  devices = jax.devices()
  kind = devices[0].device_kind
  chip = next((c.name for c in CHIPS.values() if c.device_kind == kind and c.devices == len(devices)), None)
  hbm = hbm_gib_of(kind)
  print(f'{len(devices)} x {kind}' + (f' ({chip})' if chip else '') + (f', {hbm:g} GiB HBM each' if hbm else ''))
  print(json.dumps({'platform': backend, 'device_kind': kind, 'devices': len(devices), 'chip': chip,
                    'overrides': train_overrides(config, kind, len(devices))}))
  return 0


if __name__ == '__main__':
  sys.exit(main())
