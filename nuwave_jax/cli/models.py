"""nuwave-jax models: the models that ship with the package, for --checkpoint NAME and nuwave_jax.load(NAME).

  nuwave-jax models

Lists each bundled model: its family and size, its sampler's steps, the data it was trained on and
its licence, and what it measured on held-out speech (docs/models.md, its model card, says how).
"""

import argparse
import sys

from nuwave_jax.cli import common


def parser() -> argparse.ArgumentParser:
  return common.parser('models', __doc__, 'List the models that ship with the package (for --checkpoint NAME).')


def main(argv=None) -> int:
  common.parse(parser(), argv)
  from nuwave_jax import models
  names = models.names()
  if not names:
    print('no bundled models in this installation')
    return 0
  for name in names:
    card = models.card(name)
    default = '  (the default of `upsample`)' if name == models.DEFAULT else ''
    print(f"{name}{default}\n  {card['summary']}\n  {card['parameters']:,} parameters, {card['steps']} steps; "
          f"trained on {card['data']} ({card['licence']})")
    for line in card.get('measured', []):
      print(f'  {line}')
  print(f'\nmodel cards: docs/models.md; {models.OFFICIAL}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
