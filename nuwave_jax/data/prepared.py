"""A prepared TFDS dataset copied between disks (a VM's local disk and Google Drive), shard by shard,
each shard verified against the dataset's own metadata.

  python -m nuwave_jax.data.prepared copy SRC DST    # SRC: a tensorflow_datasets folder or one below it
  python -m nuwave_jax.data.prepared verify DIR

A prepared dataset's dataset_info.json lists each split's shards and their example counts. A shard is
verified by reading it whole (TFRecord checks every record's CRC) and counting its examples, and a
split by its bytes (the examples' bytes in the metadata, plus 16 per record). `copy` writes each
shard under a temporary name, verifies it and renames it; the metadata files come last, so a copy cut
short (a recycled VM, Drive's lagging writes) is never taken for a prepared dataset, and running it
again copies only what is missing or fails.
"""

import argparse
import json
import os
import pathlib
import re
import shutil
import sys

INFO = 'dataset_info.json'
RECORD_OVERHEAD_BYTES = 16  # a TFRecord's length (8), its CRC (4) and the data's CRC (4)


class VerifyError(ValueError):
  """A prepared dataset or shard that does not match its metadata."""


def datasets_under(root: pathlib.Path) -> list[pathlib.Path]:
  """The prepared datasets' version folders (those holding dataset_info.json) at or below root."""
  return sorted(p.parent for p in root.rglob(INFO))


def shards(dataset: pathlib.Path) -> list[tuple[str, int]]:
  """(file name, examples) of every shard dataset_info.json lists."""
  info = json.loads((dataset / INFO).read_text())
  out = []
  for split in info['splits']:
    lengths = [int(n) for n in split['shardLengths']]
    for i, length in enumerate(lengths):
      out.append((f"{info['name']}-{split['name']}.{info.get('fileFormat', 'tfrecord')}-"
                  f'{i:05d}-of-{len(lengths):05d}', length))
  return out


def count_records(path: pathlib.Path) -> int:
  """Examples in a TFRecord file, each record's CRC checked; a VerifyError names a damaged file."""
  import tensorflow as tf  # here: only the tools that read shards need it
  try:
    return sum(1 for _ in tf.data.TFRecordDataset(str(path), buffer_size=8 << 20))
  except tf.errors.OpError as error:
    reason = re.sub(r'\{\{.*?\}\}|\[Op:.*', '', error.message.splitlines()[0]).strip()
    raise VerifyError(f'{path}: damaged ({reason})') from None


def verify_shard(path: pathlib.Path, examples: int) -> None:
  if not path.is_file():
    raise VerifyError(f'{path}: missing')
  found = count_records(path)
  if found != examples:
    raise VerifyError(f'{path}: {found} examples where its metadata says {examples} (cut short?)')


def verify(dataset: pathlib.Path, log=print) -> None:
  """Every shard of one prepared dataset, and each split's bytes, against dataset_info.json."""
  info = json.loads((dataset / INFO).read_text())
  for name, examples in shards(dataset):
    verify_shard(dataset / name, examples)
  for split in info['splits']:
    files = [dataset / name for name, _ in shards(dataset) if f"-{split['name']}." in name]
    expected = int(split.get('numBytes', 0)) + RECORD_OVERHEAD_BYTES * sum(map(int, split['shardLengths']))
    if split.get('numBytes') and sum(f.stat().st_size for f in files) != expected:
      raise VerifyError(f"{dataset}: split {split['name']} holds {sum(f.stat().st_size for f in files)} "
                        f'bytes where its metadata says {expected}')
  log(f'verified {dataset}: {len(shards(dataset))} shards')


def copy(source: pathlib.Path, destination: pathlib.Path, log=print) -> None:
  """Copies every prepared dataset under source to the same place under destination, verified."""
  found = datasets_under(source)
  if not found:
    raise VerifyError(f'{source}: no prepared dataset ({INFO}) at or below it')
  for dataset in found:
    target = destination / dataset.relative_to(source)
    target.mkdir(parents=True, exist_ok=True)
    listed = shards(dataset)
    total = sum((dataset / name).stat().st_size for name, _ in listed)
    done = 0
    for i, (name, examples) in enumerate(listed):
      size = (dataset / name).stat().st_size
      final = target / name
      try:
        if final.is_file() and final.stat().st_size == size:
          verify_shard(final, examples)  # already there from a copy cut short
        else:
          raise VerifyError(f'{final}: missing')
      except VerifyError:
        partial = target / (name + '.partial')
        shutil.copyfile(dataset / name, partial)
        verify_shard(partial, examples)
        os.replace(partial, final)
      done += size
      log(f'{target}: shard {i + 1}/{len(listed)} verified ({done / 1e9:.2f} of {total / 1e9:.2f} GB)')
    for meta in sorted(p for p in dataset.iterdir() if p.is_file() and p.name not in dict(listed) and p.name != INFO):
      shutil.copyfile(meta, target / meta.name)
    shutil.copyfile(dataset / INFO, target / (INFO + '.partial'))
    os.replace(target / (INFO + '.partial'), target / INFO)  # last: the copy is complete
    verify(target, log)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog='python -m nuwave_jax.data.prepared', description=__doc__.split('\n\n')[0])
  commands = parser.add_subparsers(dest='command', required=True)
  copying = commands.add_parser('copy', help='copy prepared datasets, each shard verified')
  copying.add_argument('source', type=pathlib.Path)
  copying.add_argument('destination', type=pathlib.Path)
  checking = commands.add_parser('verify', help='verify prepared datasets against their metadata')
  checking.add_argument('folder', type=pathlib.Path)
  args = parser.parse_args(argv)
  try:
    if args.command == 'copy':
      copy(args.source, args.destination)
    else:
      found = datasets_under(args.folder)
      if not found:
        raise VerifyError(f'{args.folder}: no prepared dataset ({INFO}) at or below it')
      for dataset in found:
        verify(dataset)
  except (VerifyError, OSError) as error:
    print(f'error: {error}', file=sys.stderr)
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
