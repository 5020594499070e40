"""VCTK 0.92's mic1 recordings out of its zip, by several threads at once: the only files training
reads (about half the zip's 11 GB; mic2, the text and the rest stay zipped).

  python -m nuwave_jax.data.vctk_zip VCTK-Corpus-0.92.zip DEST [--workers N]

DEST then holds wav48_silence_trimmed/<speaker>/<speaker>_<nnn>_mic1.flac, VCTK's own layout (the
`config.data.dir` of `data.source='vctk'`). Files already there at their full size are kept, so an
interrupted unzip continues where it stopped; each file is written under a temporary name first.
"""

import argparse
import concurrent.futures
import os
import pathlib
import re
import sys
import zipfile

from nuwave_jax.data import builders

_MIC1 = re.compile(rf'(?:^|/)({builders.VCTK_AUDIO_DIR}/[^/]+/[^/]+_mic1\.flac)$')


def mic1_members(zip_path) -> list[tuple[zipfile.ZipInfo, str]]:
  """(member, its path under DEST) of every mic1 recording in the zip, whatever folder it is under."""
  with zipfile.ZipFile(zip_path) as archive:
    return [(info, match.group(1)) for info in archive.infolist() if (match := _MIC1.search(info.filename))]


def _extract(zip_path, members: list[tuple[zipfile.ZipInfo, str]], destination: pathlib.Path) -> int:
  written = 0
  with zipfile.ZipFile(zip_path) as archive:
    for info, relative in members:
      target = destination / relative
      if target.is_file() and target.stat().st_size == info.file_size:
        continue
      target.parent.mkdir(parents=True, exist_ok=True)
      partial = target.with_name(target.name + '.partial')
      with archive.open(info) as source, open(partial, 'wb') as sink:
        while chunk := source.read(1 << 20):
          sink.write(chunk)
      os.replace(partial, target)
      written += 1
  return written


def extract_mic1(zip_path, destination, workers: int | None = None, log=print) -> int:
  """Unzips the mic1 recordings into destination with `workers` threads (default: a core each);
  returns how many files it wrote. A zip without any is refused, naming the file."""
  destination = pathlib.Path(destination)
  try:
    members = mic1_members(zip_path)
  except (zipfile.BadZipFile, OSError) as error:
    raise ValueError(f'{zip_path}: not a readable zip ({error})') from None
  if not members:
    raise ValueError(f'{zip_path}: no {builders.VCTK_AUDIO_DIR}/<speaker>/*_mic1.flac inside: not VCTK 0.92')
  workers = max(1, min(workers or os.cpu_count() or 1, len(members)))
  log(f'unzipping {len(members)} mic1 recordings ({sum(m.file_size for m, _ in members) / 1e9:.1f} GB) '
      f'from {zip_path} into {destination} with {workers} threads')
  with concurrent.futures.ThreadPoolExecutor(workers) as pool:
    parts = [pool.submit(_extract, zip_path, members[i::workers], destination) for i in range(workers)]
    written = sum(part.result() for part in parts)
  log(f'unzipped {written} files ({len(members) - written} were already there)')
  return written


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog='python -m nuwave_jax.data.vctk_zip', description=__doc__.split('\n\n')[0])
  parser.add_argument('zip', help='VCTK-Corpus-0.92.zip')
  parser.add_argument('destination', help="the folder to unzip into (config.data.dir)")
  parser.add_argument('--workers', type=int, help='threads (default: one per core)')
  args = parser.parse_args(argv)
  try:
    extract_mic1(args.zip, args.destination, args.workers)
  except (ValueError, OSError) as error:
    print(f'error: {error}', file=sys.stderr)
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
