"""The README fits two screens and every command in it parses as written; docs/usage.md's Python
example runs as written."""

import pathlib
import re
import shlex

import numpy as np
import pytest
import soundfile

from nuwave_jax import cli
from nuwave_jax.cli import common
from tests import conftest

README = conftest.REPO / 'README.md'


def code_blocks(path: pathlib.Path, language: str) -> list[str]:
  return re.findall(rf'```{language}\n(.*?)```', path.read_text(), re.S)


def commands(path: pathlib.Path) -> list[list[str]]:
  """The `nuwave-jax ...` commands of a file's bash blocks, continuation lines joined."""
  found = []
  for block in code_blocks(path, 'bash'):
    for line in block.replace('\\\n', ' ').splitlines():
      for part in line.split('&&'):
        words = shlex.split(part.split('#')[0])
        if words[:1] == ['nuwave-jax']:
          found.append(words[1:])
  return found


def test_the_readme_fits_two_screens_with_the_first_command_early():
  lines = README.read_text().splitlines()
  assert len(lines) <= 160
  first = next(i for i, line in enumerate(lines) if line.startswith('```bash'))
  assert first < 40


@pytest.mark.parametrize('doc', ['README.md', 'docs/usage.md'])
def test_every_command_in_the_docs_parses_and_names_files_that_exist(doc):
  found = commands(conftest.REPO / doc)
  assert found
  for argv in found:
    command, rest = argv[0], argv[1:]
    assert command in cli.COMMANDS, argv
    module = __import__(cli.COMMANDS[command], fromlist=['parser'])
    if hasattr(module, 'parser'):
      args, overrides = common.parse(module.parser(), rest)
      assert all('=' in o for o in overrides), argv
      config = getattr(args, 'config', None)
      assert config is None or (conftest.REPO / config).is_file(), argv


def test_the_python_example_of_docs_usage_runs_as_written(tmp_path, monkeypatch):
  example = code_blocks(conftest.REPO / 'docs' / 'usage.md', 'python')[0]
  assert "nuwave_jax.load('runs/nuwave2_small')" in example
  from configs import nuwave2_tiny
  from nuwave_jax import checkpoints
  config = nuwave2_tiny.get_config()
  checkpoints.save_params(tmp_path / 'runs' / 'nuwave2_small', config, {'params': conftest.init_params(config)})
  speech = 0.3 * np.sin(2 * np.pi * 300 * np.arange(8000) / 16000)
  soundfile.write(tmp_path / 'speech_16k.wav', np.stack([speech, -speech], axis=1), 16000)
  monkeypatch.chdir(tmp_path)
  exec(compile(example, 'docs/usage.md', 'exec'), {})
  out, rate = soundfile.read(tmp_path / 'speech_48k.wav')
  assert rate == 48000 and out.shape == (23808, 2) and np.abs(out).max() > 0
