"""The models that ship with the package: they load by name, upsample a real file, reproduce the
numbers their card states, and an unknown name is one line naming the known ones."""

import json

import jax
import numpy as np
import pytest
import soundfile

import nuwave_jax
from nuwave_jax import evaluation
from nuwave_jax import models
from nuwave_jax.cli import models as models_cli
from nuwave_jax.data import audio as audio_io
import sample

BUNDLED = ('nuwave2-small', 'nuwave2-small-2step')


def test_both_models_ship_with_their_card_and_licence():
  assert models.names() == sorted(BUNDLED)
  assert (models.HERE / 'LICENSE').is_file() and 'GPL' in (models.HERE / 'LICENSE').read_text()
  for name in BUNDLED:
    card = models.card(name)
    up = nuwave_jax.load(name)
    assert up.sampler.steps == card['steps'] == (2 if name.endswith('2step') else 8)
    assert sum(x.size for x in jax.tree.leaves(up.params)) == card['parameters']
    assert 'GPL-2+' in card['licence'] and (models.folder(name) / 'params.npz').stat().st_size < 2_000_000


def test_the_command_lists_them(capsys):
  assert models_cli.main([]) == 0
  out = capsys.readouterr().out
  assert all(name in out for name in BUNDLED) and '(the default of `upsample`)' in out


def test_an_unknown_name_is_one_line_naming_the_known_ones(tmp_path, capsys):
  with pytest.raises(FileNotFoundError, match='nuwave2-small, nuwave2-small-2step'):
    nuwave_jax.load('nuwave2-smol')
  soundfile.write(tmp_path / 'a.wav', np.zeros(1600, np.float32), 16000)
  assert sample.main([str(tmp_path / 'a.wav'), '--checkpoint', 'nuwave2-smol', '--output', str(tmp_path / 'o')]) == 2
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and 'nuwave2-small, nuwave2-small-2step' in err


def test_the_default_model_upsamples_a_real_file_and_says_which_it_is(real_speech, tmp_path, capsys):
  clip = sorted((real_speech / 'eval').glob('*.ogg'))[0]
  soundfile.write(tmp_path / 'phone.wav', audio_io.read_audio(clip, 8000), 8000)
  assert sample.main([str(tmp_path / 'phone.wav'), '--output', str(tmp_path / 'out')]) == 0
  out = capsys.readouterr().out
  assert out.startswith('upsampling with the bundled nuwave2-small-2step') and 'maum-ai/nuwave2' in out
  audio, rate = soundfile.read(tmp_path / 'out' / 'phone.wav')
  assert rate == 48000 and np.abs(audio).max() > 0.05


@pytest.mark.parametrize('name', BUNDLED)
def test_a_bundled_model_reproduces_its_cards_check(name, real_speech):
  """The card's `check`: evaluate's numbers on the first clips of the eval split, to rounding across
  CPUs (XLA's kernels round differently with other vector widths)."""
  check = models.card(name)['check']
  up = nuwave_jax.load(name)
  utterances, _ = evaluation.scorable(audio_io.read_utterances(real_speech / 'eval', up.config.data.trim_top_db,
                                                               check['limit']), up.trim_multiple)
  for rate, expected in check['per_rate'].items():
    report = evaluation.evaluate(up, utterances, 1, check['seed'], input_rate_hz=int(rate)).report
    for metric, value in expected.items():
      np.testing.assert_allclose(report['model'][metric]['mean'], value, atol=2e-3, err_msg=f'{rate} {metric}')


def test_the_cards_are_valid_json_with_what_the_listing_prints():
  for name in BUNDLED:
    card = json.loads((models.folder(name) / 'card.json').read_text())
    assert {'summary', 'parameters', 'steps', 'data', 'licence', 'measured', 'check'} <= set(card)
