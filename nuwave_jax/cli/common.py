"""What the subcommands share: one flag style (argparse, --kebab-case, --config.group.key=VALUE
overrides wherever a config is read) and one way to fail (a one-line error, exit status 2)."""

import argparse
import sys
import textwrap

PROG = 'nuwave-jax'


def parser(command: str, doc: str, description: str, usage: str | None = None) -> argparse.ArgumentParser:
  """A parser whose --help is `description`, the flags and the usage example of the command's
  docstring (its second paragraph), in 100 columns: one screen. usage: the usage line's arguments
  (default: argparse's list of every flag)."""
  example = doc.strip().split('\n\n')[1]
  formatter = lambda prog: argparse.RawDescriptionHelpFormatter(prog, width=100, max_help_position=30)
  return argparse.ArgumentParser(prog=f'{PROG} {command}', description=textwrap.fill(description, 100),
                                 usage=usage and f'%(prog)s {usage}', epilog=f'example:\n{example}',
                                 formatter_class=formatter)


def add_overrides_help(p: argparse.ArgumentParser, example: str) -> None:
  p.add_argument('--config.GROUP.KEY', dest='_overrides_help', metavar='VALUE',
                 help=f'a config field, e.g. --config.{example}')


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


def load_upsampler(checkpoint, use_ema: bool, overrides: list[str], schedule: str | None = None,
                   steps: int | None = None, step: int | None = None):
  """A checkpoint's `inference.Upsampler` with --schedule / --steps (as its family reads them) and the
  'sample.key=value' overrides applied (raises ValueError or FileNotFoundError naming the problem)."""
  from nuwave_jax import families
  from nuwave_jax import inference
  saved = inference.saved_config(checkpoint)
  grid = families.of(saved).sampling_overrides(saved, schedule, steps)
  upsampler = inference.Upsampler.from_checkpoint(checkpoint, use_ema=use_ema, overrides=grid + overrides, step=step)
  upsampler.chunk_samples()
  return upsampler


def add_multihost_flags(p: argparse.ArgumentParser) -> None:
  """The flags of a run of several processes (a TPU pod slice, several GPU hosts)."""
  p.add_argument('--multihost', action='store_true', help='one host of a multi-host run (cluster detected)')
  p.add_argument('--coordinator-address', metavar='ADDR', help="process 0's HOST:PORT")
  p.add_argument('--num-processes', type=int, metavar='N', help='processes in the run')
  p.add_argument('--process-id', type=int, metavar='I', help='this process, 0 .. num-processes - 1')


def initialize_multihost(args, heartbeat_timeout_seconds: int = 100) -> None:
  """jax.distributed for a run of several processes (add_multihost_flags), before any computation. A
  process that hears nothing from another for heartbeat_timeout_seconds stops the run."""
  if args.coordinator_address or args.multihost:
    import jax
    # CPU hosts need gloo for cross-process collectives; the option is ignored on GPU and TPU.
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')
    jax.distributed.initialize(args.coordinator_address, args.num_processes, args.process_id,
                               heartbeat_timeout_seconds=heartbeat_timeout_seconds)


def prepare_data_once(config):
  """The config's prepared dataset (`pipeline.make_builder`): process 0 prepares it first, so hosts
  sharing a filesystem never build it twice."""
  import jax
  from jax.experimental import multihost_utils

  from nuwave_jax.data import pipeline
  if jax.process_index() != 0:
    multihost_utils.sync_global_devices('nuwave data prepared')
  builder = pipeline.make_builder(config)
  if jax.process_index() == 0 and jax.process_count() > 1:
    multihost_utils.sync_global_devices('nuwave data prepared')
  return builder


def lost_host(error: BaseException, workdir) -> int:
  """A collective failed: another process of the run is gone (a single process re-raises). (If JAX's
  heartbeats find that first, JAX stops this process itself with 'the JAX distributed service
  detected fatal errors'.)"""
  import jax
  if jax.process_count() == 1:
    raise error
  return fail(f'process {jax.process_index()} lost contact with another process of the run '
              f'({str(error).splitlines()[0][:200]}); start every process again with the same '
              f'command to resume from the newest checkpoint in {workdir}')


def fail(error: BaseException) -> int:
  print(f'error: {error}', file=sys.stderr)
  return 2
