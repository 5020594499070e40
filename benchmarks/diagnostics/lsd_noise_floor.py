"""How hard LSD punishes residual noise on a corpus: LSD of the ground truth plus white noise.

  python benchmarks/diagnostics/lsd_noise_floor.py [--data data/speech/eval] [--ratio 2] [--limit 16]

A diffusion sampler leaves some noise in its output. LSD compares log power spectra floored at 1e-8, so
in bands where the reference is digitally silent (above 17.6 kHz in the Ogg Vorbis speech of
fetch-speech, above 22.05 kHz in any 44.1 kHz corpus) even faint noise costs several decades per bin.
This prints the LSD of the perfect output plus white noise of a given RMS, beside the linear baseline,
and the share of STFT bins at the 1e-8 floor per band: the noise floor a model must stay under.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import numpy as np  # noqa: E402

from benchmarks import common  # noqa: E402
from nuwave_jax import evaluation  # noqa: E402
from nuwave_jax import metrics  # noqa: E402
from nuwave_jax.data import audio as audio_io  # noqa: E402
from nuwave_jax.nuwave import conditioning  # noqa: E402


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--data', default=common.EVAL_DATA,
                      help='a folder of audio files (any rate; resampled to 48 kHz)')
  parser.add_argument('--ratio', type=int, default=2)
  parser.add_argument('--limit', type=int, default=16)
  parser.add_argument('--seconds', type=float, default=2.0)
  args = parser.parse_args()

  utterances = audio_io.read_utterances(args.data, 15.0, args.limit)
  files, clips = [n for n, _ in utterances], [a for _, a in utterances]
  references = [evaluation.prepare_reference(c[:int(args.seconds * 48000)], args.ratio) for c in clips]
  mean_lsd = lambda estimates: np.mean([metrics.lsd(r, e) for r, e in zip(references, estimates)])
  linear = [conditioning.make_condition(r[None], args.ratio)[0] for r in references]
  print(f'{len(files)} files of {args.data}, first {args.seconds:g} s of each')
  print(f'linear interpolation x{args.ratio}: LSD {mean_lsd(linear):.3f}')
  print('| white noise RMS | dBFS | LSD of ground truth + noise |\n|---|---|---|')
  rng = np.random.default_rng(0)
  for rms in (1e-6, 1e-5, 1e-4, 1e-3, 1e-2):
    noisy = [r + rms * rng.standard_normal(r.shape) for r in references]
    print(f'| {rms:g} | {20 * np.log10(rms):.0f} | {mean_lsd(noisy):.3f} |')
  spectra = np.concatenate([metrics.log_power_spectrogram(r[None].astype(np.float64))[0]
                            for r in references])
  print('| band (kHz) | mean log10 power | STFT bins at the 1e-8 floor |\n|---|---|---|')
  bins_per_khz = 1024 / 24
  for low, high in ((0, 6), (6, 12), (12, 16), (16, 17.6), (17.6, 20), (20, 24)):
    band = spectra[:, int(low * bins_per_khz):int(high * bins_per_khz) + (high == 24)]
    print(f'| {low:g}-{high:g} | {band.mean():.2f} | {np.mean(band <= -8 + 1e-6):.0%} |')


if __name__ == '__main__':
  main()
