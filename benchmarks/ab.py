"""A benchmark run from two source trees in turn: does a change make anything slower?

  python benchmarks/ab.py --baseline ../nuwave-jax-before --rounds 3 -- train_step.py --batch 1

Runs `benchmarks/SCRIPT ARGS` from the baseline tree and from this one, alternately, `--rounds`
times, each in a fresh process (the same Python), so that both see the same moments of a machine
whose speed drifts; the order within a round alternates too (the second run of a round tends to be
slower). Prints each run's table rows labelled by tree and round, then, for every row
label, the median of each numeric column per tree and their ratio (baseline / this tree: above 1
means this tree is faster, for columns of times).
"""

import argparse
import pathlib
import statistics
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parents[1]


def table_rows(output: str) -> list[list[str]]:
  """The cells of a markdown table's body rows in `output` (header and separator skipped)."""
  rows = [[cell.strip() for cell in line.strip().strip('|').split('|')]
          for line in output.splitlines() if line.startswith('|')]
  return [row for row in rows[1:] if not set(''.join(row)) <= set('-: ')]


def number(cell: str) -> float | None:
  try:
    return float(cell.split()[0].rstrip('%x'))
  except (ValueError, IndexError):
    return None


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--baseline', required=True, help='the source tree to compare with (a checkout)')
  parser.add_argument('--rounds', type=int, default=3)
  parser.add_argument('script', help='a script in benchmarks/, e.g. train_step.py')
  parser.add_argument('args', nargs=argparse.REMAINDER, help='its arguments')
  args = parser.parse_args()
  trees = {'baseline': pathlib.Path(args.baseline).resolve(), 'this tree': HERE}
  results = {name: [] for name in trees}
  for round_index in range(args.rounds):
    order = list(trees.items()) if round_index % 2 == 0 else list(trees.items())[::-1]
    for name, tree in order:
      command = [sys.executable, str(tree / 'benchmarks' / args.script), *args.args]
      run = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=False)
      if run.returncode:
        sys.exit(f'error: {name} ({tree}) failed:\n{run.stdout[-2000:]}{run.stderr[-2000:]}')
      machine = next((line for line in run.stdout.splitlines() if line.startswith('machine')), '')
      print(f'{name}, round {round_index + 1}: {machine}', flush=True)
      for row in table_rows(run.stdout):
        print('  | ' + ' | '.join(row) + ' |', flush=True)
        results[name].append(row)
  print('\nmedians per row label (first cell), baseline vs this tree:')
  labels = list(dict.fromkeys(row[0] for row in results['this tree']))
  for label in labels:
    columns = {}
    for name in trees:
      rows = [row for row in results[name] if row[0] == label]
      columns[name] = [statistics.median(v for v in (number(row[i]) for row in rows) if v is not None)
                       if any(number(row[i]) is not None for row in rows) else None
                       for i in range(1, len(rows[0]))] if rows else []
    cells = []
    for before, after in zip(columns['baseline'], columns['this tree']):
      if before is None or after is None:
        cells.append('-')
      else:
        cells.append(f'{before:g} vs {after:g} ({before / after:.3f})' if after else f'{before:g} vs 0')
    print(f'| {label} | ' + ' | '.join(cells) + ' |')


if __name__ == '__main__':
  main()
