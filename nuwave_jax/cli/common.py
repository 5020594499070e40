"""What the subcommands share: one flag style (argparse, --kebab-case, --config.group.key=VALUE
overrides wherever a config is read) and one way to fail (a one-line error, exit status 2)."""

import argparse
import sys
import textwrap

PROG = 'nuwave-jax'


def parser(command: str, doc: str, description: str) -> argparse.ArgumentParser:
  """A parser whose --help is `description`, the flags and the usage example of the command's
  docstring (its second paragraph), in 100 columns: one screen."""
  example = doc.strip().split('\n\n')[1]
  formatter = lambda prog: argparse.RawDescriptionHelpFormatter(prog, width=100)
  return argparse.ArgumentParser(prog=f'{PROG} {command}', description=textwrap.fill(description, 100),
                                 epilog=f'example:\n{example}', formatter_class=formatter)


def add_overrides_help(p: argparse.ArgumentParser, example: str) -> None:
  p.add_argument('--config.GROUP.KEY', dest='_overrides_help', metavar='VALUE',
                 help=f'override a config field, e.g. --config.{example}')


def parse(p: argparse.ArgumentParser, argv=None) -> tuple[argparse.Namespace, list[str]]:
  """(the parsed flags, the 'group.key=value' texts of the --config.group.key overrides)."""
  argv = list(sys.argv[1:] if argv is None else argv)
  overrides, rest, i = [], [], 0
  while i < len(argv):
    token = argv[i]
    if token.startswith('--config.'):
      if '=' not in token and i + 1 < len(argv):
        token, i = f'{token}={argv[i + 1]}', i + 1
      overrides.append(token[len('--config.'):])
    else:
      rest.append(token)
    i += 1
  return p.parse_args(rest), overrides


def load_config(path: str, overrides: list[str]):
  """The config file at `path` with the --config.group.key overrides applied, checked (raises
  FileNotFoundError or ValueError naming the problem)."""
  from nuwave_jax import configuration
  config = configuration.load_config_file(path)
  configuration.apply_overrides(config, overrides)
  configuration.check_config(config)
  return config


def fail(error: BaseException) -> int:
  print(f'error: {error}', file=sys.stderr)
  return 2
