"""Checkpoints written by earlier versions load and sample as they did then.

tests/fixtures/saved_before_family_packages/ holds checkpoint directories of both families (and old
configs that lack later fields) with what the code of that date sampled from them, scored and trained
(its README says how). On a CPU with the vector ISA that made them the outputs must be equal bit for
bit; on another one (XLA's CPU code rounds differently with other vector widths), equal to 1e-5 of
full scale.
"""

import json
import pathlib

import jax
import numpy as np
import pytest

import nuwave_jax
from nuwave_jax import configuration
from nuwave_jax import evaluation
from nuwave_jax import families
from nuwave_jax import training

FIXTURES = pathlib.Path(__file__).parent / 'fixtures' / 'saved_before_family_packages'
META = json.loads((FIXTURES / 'outputs.json').read_text())
VARIANTS = sorted(META['variants'])
CHECKPOINTS = sorted(p.name for p in FIXTURES.iterdir() if (p / 'config.json').is_file())
# They were sampled on one device (batches of sample.batch_size chunks), as these samplers then ran.
ONE_DEVICE = jax.devices()[:1]


def cpu_isa() -> str:
  flags = next((line for line in pathlib.Path('/proc/cpuinfo').read_text().splitlines()
                if line.startswith('flags')), '') if pathlib.Path('/proc/cpuinfo').exists() else ''
  return next((isa for isa in ('avx512f', 'avx2', 'avx') if f' {isa}' in flags), '')


SAME_MACHINE = cpu_isa() == META['made_on']['cpu_isa']


@pytest.fixture(scope='module')
def saved():
  return dict(np.load(FIXTURES / 'outputs.npz'))


def assert_as_saved(value, expected):
  value = np.asarray(value)
  assert value.shape == expected.shape
  if SAME_MACHINE:
    np.testing.assert_array_equal(value, expected)
  else:
    np.testing.assert_allclose(value, expected, rtol=0, atol=1e-5)


def test_the_fixtures_cover_both_families_and_old_configs():
  names = {configuration.load_saved_config(FIXTURES / c).model.name for c in CHECKPOINTS}
  assert names == set(families.PACKAGES)
  assert {'nuwave_tiny_old_config', 'nuwave2_tiny_old_config'} <= set(CHECKPOINTS)
  old = json.loads((FIXTURES / 'nuwave2_tiny_old_config' / 'config.json').read_text())
  assert 'prediction' not in old['model'] and 'keep_band' not in old['sample']


@pytest.mark.parametrize('checkpoint', CHECKPOINTS)
def test_a_saved_checkpoint_upsamples_files_as_it_did(checkpoint, saved):
  name = checkpoint.removesuffix('_old_config')
  meta = META['variants'][name]
  up = nuwave_jax.load(FIXTURES / checkpoint, devices=ONE_DEVICE)
  audio, rate, seed = saved[f'{name}/input'].T, meta['rate'], meta['seed']  # [T, C], as the API takes it
  assert_as_saved(up.upsample(audio, rate, seed=seed).T, saved[f'{name}/output'])
  assert_as_saved(up.upsample(audio, rate, seed=seed, keep_input_band=True).T, saved[f'{name}/output_keep_input_band'])
  if up.input_rate_hz is None:
    assert_as_saved(up.upsample(audio, rate, seed=seed, bandwidth=5000.0).T, saved[f'{name}/output_bandwidth_5000'])
    assert_as_saved(up.upsample(saved[f'{name}/input_8000'][0], 8000, seed=7)[None], saved[f'{name}/output_8000'])


@pytest.mark.parametrize('checkpoint', CHECKPOINTS)
def test_a_saved_checkpoint_scores_as_it_did(checkpoint, saved):
  name = checkpoint.removesuffix('_old_config')
  up = nuwave_jax.load(FIXTURES / checkpoint, devices=ONE_DEVICE)
  reference = saved[f'{name}/evaluate_reference']
  rates = (8000, 24000) if up.input_rate_hz is None else (up.input_rate_hz,)
  for rate in rates:
    result = evaluation.evaluate(up, [('ref.wav', reference)], 2, 0, input_rate_hz=rate, keep_input_band=True)
    assert_as_saved(result.outputs[0], saved[f'{name}/evaluate_{rate}_output'])
    assert_as_saved(result.outputs_keep_input_band[0], saved[f'{name}/evaluate_{rate}_output_keep_input_band'])
    then = META['variants'][name][f'evaluate_{rate}_report']
    for key in ('model', 'model_keep_input_band'):
      for metric, value in result.report[key].items():
        np.testing.assert_allclose(value['mean'], then[key][metric]['mean'], rtol=1e-6, atol=1e-6)
    baseline = then['input' if 'input' in then else 'linear']  # NU-Wave's reports named it 'linear' then
    for metric, value in result.report['input'].items():
      np.testing.assert_allclose(value, baseline[metric], rtol=1e-9)


def tones_with_noise(n: int, rate: int, channels: int, rng) -> np.ndarray:
  t = np.arange(n) / rate
  return np.stack([0.4 * np.sin(2 * np.pi * (300 + 200 * c) * t) * (1 + np.sin(2 * np.pi * 3 * t))
                   + 0.05 * rng.normal(size=n) for c in range(channels)]).astype(np.float32)


@pytest.mark.parametrize('name', VARIANTS)
def test_a_saved_config_trains_as_it_did(name, saved):
  config = configuration.load_saved_config(FIXTURES / name)
  config.train.batch_size = 2
  family = families.of(config)
  mesh = training.make_mesh(jax.devices()[:1])
  state = training.init_state(config, mesh)
  train_step = training.make_train_step(config, mesh)
  metrics = []
  for step in range(2):
    audio = tones_with_noise(config.data.segment_samples, 48000, 2, np.random.default_rng(100 + step))
    condition = family.simulate(config, audio, 12000 if family.input_rate_hz(config) is None
                                else family.input_rate_hz(config))
    batch = {'audio': audio, 'condition': condition.signal, **condition.extras}
    state, step_metrics = train_step(state, training.global_batch(batch, mesh))
    metrics.append({k: float(v) for k, v in step_metrics.items()})
  then = META['variants'][name]['train_metrics']
  for now, before in zip(metrics, then):
    for key in ('loss', 'grad_norm'):
      if SAME_MACHINE:
        assert now[key] == before[key], (key, now, before)
      else:
        np.testing.assert_allclose(now[key], before[key], rtol=1e-4)
  assert_as_saved(jax.tree.leaves(state.params)[0], saved[f'{name}/train_params_leaf'])
