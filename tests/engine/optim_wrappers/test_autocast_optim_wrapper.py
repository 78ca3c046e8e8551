"""AutocastOptimWrapper: bf16 autocast where asked, a plain OptimWrapper elsewhere."""

import pytest
import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import init_default_scope

import msclr_mm  # noqa: F401
from msclr_mm.engine import AutocastOptimWrapper


def build(**kw):
    init_default_scope('mmaction')
    model = nn.Linear(4, 2)
    cfg = dict(type='AutocastOptimWrapper', optimizer=dict(type='SGD', lr=0.1), **kw)
    return model, build_optim_wrapper(model, cfg)


def autocast_state(model, wrapper):
    with wrapper.optim_context(model):
        return torch.is_autocast_enabled('cpu'), torch.get_autocast_dtype('cpu')


def test_built_from_config_and_plain_on_a_cpu_by_default():
    model, wrapper = build()
    assert isinstance(wrapper, AutocastOptimWrapper) and isinstance(wrapper, OptimWrapper)
    assert wrapper.device_types == ('cuda',) and wrapper.autocast_device(model) is None
    assert autocast_state(model, wrapper)[0] is False


def test_autocasts_on_listed_device_types():
    model, wrapper = build(device_types=('cpu',))
    assert autocast_state(model, wrapper) == (True, torch.bfloat16)
    with wrapper.optim_context(model):
        assert model(torch.randn(3, 4)).dtype == torch.bfloat16


def test_enabled_false_is_the_fp32_baseline():
    model, wrapper = build(device_types=('cpu',), enabled=False)
    assert autocast_state(model, wrapper)[0] is False


def test_update_params_steps_without_a_grad_scaler():
    model, wrapper = build(device_types=('cpu',))
    before = model.weight.detach().clone()
    with wrapper.optim_context(model):
        loss = model(torch.randn(3, 4)).float().square().mean()
    wrapper.update_params(loss)
    assert not torch.equal(before, model.weight) and not hasattr(wrapper, 'loss_scaler')


def test_unknown_dtype_is_refused():
    with pytest.raises(ValueError, match='dtype'):
        build(dtype='int8')
