"""SkeletonDataPreprocessor: contract, seeding, per-format groups, eval mode, derived views."""

import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.model import BaseDataPreprocessor

import msclr_mm  # noqa: F401
from msclr_mm.models.data_preprocessors import (
    SkeletonDataPreprocessor,
    aimclr_extreme_augmentation,
    bone_stream,
    normal_augmentation,
)
from msclr_mm.models.data_preprocessors import skeleton_data_preprocessor as sdp_module
from msclr_mm.skeletons import get_format

KINECT, COCO = get_format('kinect25'), get_format('coco17')


def samples(n):
    out = []
    for i in range(n):
        s = ActionDataSample().set_gt_label(i % 3)
        s.set_metainfo(dict(frame_dir=f'clip{i:03d}', formats=['kinect25', 'coco17']))
        out.append(s)
    return out


def batch(views=('query', 'key'), T=12, seed=0, multi_clip=0):
    """Six clips: 0, 2, 4 in kinect25, 1, 3, 5 in coco17 (the contract's structure)."""
    g = torch.Generator().manual_seed(seed)
    lead = (3, multi_clip) if multi_clip else (3,)
    inputs = {}
    for view in views:
        inputs[view] = {
            'kinect25': dict(
                keypoint=torch.randn(*lead, 2, T, 25, 3, generator=g, dtype=torch.float64),
                index=torch.tensor([0, 2, 4]),
            ),
            'coco17': dict(
                keypoint=torch.rand(*lead, 2, T, 17, 3, generator=g), index=torch.tensor([1, 3, 5])
            ),
        }
    return dict(inputs=inputs, data_samples=samples(6))


def aimclr(seed=0, stream='joint', **kw):
    return SkeletonDataPreprocessor(
        views=dict(query=dict(ops=normal_augmentation()), key=dict(ops=normal_augmentation())),
        derived_views=dict(
            query_extreme=dict(source='query', ops=aimclr_extreme_augmentation(), **kw)
        ),
        stream=stream,
        seed=seed,
    )


def keypoints(out):
    return {(v, f): g['keypoint'] for v, groups in out['inputs'].items() for f, g in groups.items()}


def test_built_from_config_and_is_an_mmengine_preprocessor():
    pre = MODELS.build(dict(type='SkeletonDataPreprocessor', seed=0))
    assert isinstance(pre, SkeletonDataPreprocessor) and isinstance(pre, BaseDataPreprocessor)


def test_output_follows_the_contract():
    data = batch()
    out = aimclr()(data, training=True)
    assert set(out['inputs']) == {'query', 'key', 'query_extreme'}
    assert out['data_samples'] is not None and len(out['data_samples']) == 6
    assert [s.metainfo['frame_dir'] for s in out['data_samples']] == [
        f'clip{i:03d}' for i in range(6)
    ]
    for view, groups in out['inputs'].items():
        assert set(groups) == {'kinect25', 'coco17'}
        for fmt_name, group in groups.items():
            source = 'query' if view == 'query_extreme' else view
            src = data['inputs'][source][fmt_name]
            assert group['keypoint'].dtype == torch.float32
            assert group['keypoint'].shape == src['keypoint'].shape
            assert torch.equal(group['index'], src['index'])
            assert not torch.allclose(group['keypoint'], src['keypoint'].float())


def test_half_precision_batches_give_the_same_views_as_float32():
    """GatherSkeletonViews(dtype='float16') batches: same values, so the same augmented views."""
    half = batch()
    for groups in half['inputs'].values():
        for group in groups.values():
            group['keypoint'] = group['keypoint'].half()
    full = batch()
    for view, groups in full['inputs'].items():
        for fmt, group in groups.items():
            group['keypoint'] = half['inputs'][view][fmt]['keypoint'].float()
    out_half, out_full = (
        keypoints(aimclr(seed=3)(half, True)),
        keypoints(aimclr(seed=3)(full, True)),
    )
    assert set(out_half) == set(out_full)
    for key in out_full:
        assert out_half[key].dtype == torch.float32
        assert torch.equal(out_half[key], out_full[key]), key


def test_same_seed_same_augmentation_and_the_generator_advances():
    a, b = aimclr(seed=7), aimclr(seed=7)
    first_a, first_b = keypoints(a(batch(), True)), keypoints(b(batch(), True))
    for key in first_a:
        assert torch.equal(first_a[key], first_b[key]), key
    second_a = keypoints(a(batch(), True))
    assert all(not torch.equal(first_a[k], second_a[k]) for k in first_a)


def test_different_or_no_seed_gives_different_augmentation():
    ref = keypoints(aimclr(seed=7)(batch(), True))
    other = keypoints(aimclr(seed=8)(batch(), True))
    unseeded = [keypoints(aimclr(seed=None)(batch(), True)) for _ in range(2)]
    for key in ref:
        assert not torch.equal(ref[key], other[key])
        assert not torch.equal(unseeded[0][key], unseeded[1][key])


def test_ranks_draw_different_streams(monkeypatch):
    rank0 = keypoints(aimclr(seed=7)(batch(), True))
    monkeypatch.setattr(sdp_module, 'get_rank', lambda: 1)
    rank1 = keypoints(aimclr(seed=7)(batch(), True))
    assert all(not torch.equal(rank0[k], rank1[k]) for k in rank0)


def test_format_groups_never_mix():
    # flip with p=1: each group must be permuted with its own format's table
    pre = SkeletonDataPreprocessor(views=dict(query=[dict(type='flip', p=1.0)]), seed=0)
    data = batch(views=('query',))
    out = pre(data, training=True)['inputs']['query']
    for fmt in (KINECT, COCO):
        x = data['inputs']['query'][fmt.name]['keypoint'].float()
        expected = x[..., list(fmt.flip), :].clone()
        expected[..., 0] *= -1
        assert torch.equal(out[fmt.name]['keypoint'], expected)
    # random ops: a group's output does not depend on the other group's values
    full = aimclr(seed=3)(batch(seed=0), True)
    changed = batch(seed=0)
    for view in changed['inputs']:
        changed['inputs'][view]['coco17']['keypoint'] = torch.rand(3, 2, 12, 17, 3)
    partial = aimclr(seed=3)(changed, True)
    for view in full['inputs']:
        k_full = full['inputs'][view]['kinect25']['keypoint']
        assert torch.equal(k_full, partial['inputs'][view]['kinect25']['keypoint'])
        assert not torch.equal(
            full['inputs'][view]['coco17']['keypoint'],
            partial['inputs'][view]['coco17']['keypoint'],
        )


def test_2d_score_channel_survives_the_spatial_ops():
    ops = [dict(type=t) for t in ('shear', 'rotate', 'gaussian_noise', 'axis_mask')]
    ops += [dict(type='gaussian_noise', p=1.0), dict(type='axis_mask', p=1.0)]
    pre = SkeletonDataPreprocessor(views=dict(query=ops), seed=0)
    data = batch(views=('query',))
    out = pre(data, training=True)['inputs']['query']['coco17']['keypoint']
    x = data['inputs']['query']['coco17']['keypoint']
    assert torch.equal(out[..., 2], x[..., 2])
    assert not torch.allclose(out[..., :2], x[..., :2])


@pytest.mark.parametrize('stream', ['joint', 'bone', 'motion'])
def test_eval_mode_only_converts_the_stream(stream):
    pre = aimclr(stream=stream)
    data = batch(views=('kinect25',))  # evaluation: views named by format
    out = pre(data, training=False)
    assert set(out['inputs']) == {'kinect25'}  # no derived view in evaluation
    for fmt in (KINECT, COCO):
        x = data['inputs']['kinect25'][fmt.name]['keypoint'].float()
        got = out['inputs']['kinect25'][fmt.name]['keypoint']
        if stream == 'joint':
            assert torch.equal(got, x)
        elif stream == 'bone':
            assert torch.equal(got, bone_stream(x, fmt))
        else:
            assert torch.equal(
                got[..., :-1, :, : fmt.dim], x[..., 1:, :, : fmt.dim] - x[..., :-1, :, : fmt.dim]
            )


def test_training_applies_the_stream_after_augmentation():
    joint = aimclr(seed=5, stream='joint')(batch(), True)
    bone = aimclr(seed=5, stream='bone')(batch(), True)
    for view in joint['inputs']:
        for fmt in (KINECT, COCO):
            j = joint['inputs'][view][fmt.name]['keypoint']
            assert torch.allclose(bone['inputs'][view][fmt.name]['keypoint'], bone_stream(j, fmt))


def test_derived_view_chains_on_the_augmented_source_and_shares_index():
    views = dict(query=[dict(type='flip', p=1.0)])
    derived = dict(query_extreme=dict(source='query', ops=[dict(type='time_flip', p=1.0)]))
    data = batch(views=('query',))
    chained = SkeletonDataPreprocessor(views=views, derived_views=derived, seed=0)(data, True)
    derived['query_extreme']['start'] = 'input'
    fresh = SkeletonDataPreprocessor(views=views, derived_views=derived, seed=0)(data, True)
    for fmt_name in ('kinect25', 'coco17'):
        q = chained['inputs']['query'][fmt_name]
        e = chained['inputs']['query_extreme'][fmt_name]
        assert torch.equal(e['index'], q['index'])
        assert torch.equal(e['keypoint'], q['keypoint'].flip(-3))
        x = data['inputs']['query'][fmt_name]['keypoint'].float()
        assert torch.equal(fresh['inputs']['query_extreme'][fmt_name]['keypoint'], x.flip(-3))


def test_multi_clip_input_gets_per_clip_parameters():
    pre = SkeletonDataPreprocessor(views={'*': [dict(type='shear')]}, stream='bone', seed=0)
    data = batch(views=('kinect25',), multi_clip=4)
    out = pre(data, training=True)['inputs']['kinect25']['kinect25']['keypoint']
    assert out.shape == (3, 4, 2, 12, 25, 3)
    x = data['inputs']['kinect25']['kinect25']['keypoint'].float()
    bones = bone_stream(x, KINECT)
    # a shear is linear: each clip's bones are sheared by its own matrix
    A = torch.linalg.lstsq(bones[0, 0].reshape(-1, 3), out[0, 0].reshape(-1, 3)).solution
    B = torch.linalg.lstsq(bones[0, 1].reshape(-1, 3), out[0, 1].reshape(-1, 3)).solution
    assert torch.allclose(bones[0, 0].reshape(-1, 3) @ A, out[0, 0].reshape(-1, 3), atol=1e-4)
    assert not torch.allclose(A, B, atol=1e-3)
    assert torch.allclose(torch.diagonal(A), torch.ones(3), atol=1e-4)
    evaluated = pre(data, training=False)['inputs']['kinect25']['kinect25']['keypoint']
    assert torch.equal(evaluated, bones)


def test_errors_name_the_view_format_and_samples():
    pre = SkeletonDataPreprocessor(seed=0)
    data = batch(views=('query',))
    data['inputs']['query']['coco17']['keypoint'] = torch.zeros(3, 2, 12, 25, 3)
    with pytest.raises(ValueError, match=r"view 'query', format 'coco17'.*clip001.*V = 17"):
        pre(data, training=False)
    data = batch(views=('query',))
    group = data['inputs']['query']['coco17']
    group['keypoint'] = group['keypoint'][:1]
    with pytest.raises(ValueError, match=r"format 'coco17', samples \['clip001'.*holds 1 clips"):
        pre(data, training=False)
    del group['index']
    with pytest.raises(KeyError, match=r"view 'query', format 'coco17'.*'index' is missing"):
        pre(data, training=False)
    group['index'] = torch.arange(1)
    group['keypoint'] = torch.zeros(1, 12, 17, 3)
    with pytest.raises(ValueError, match=r"coco17', samples \['clip000'\]: keypoint has shape"):
        pre(data, training=False)
    limited = SkeletonDataPreprocessor(formats=['kinect25'], seed=0)
    with pytest.raises(KeyError, match=r"format 'coco17'.*configured formats \['kinect25'\]"):
        limited(batch(views=('query',)), training=False)
    missing = aimclr()
    with pytest.raises(KeyError, match=r"source view 'query' is not in the batch.*\['key'\]"):
        missing(batch(views=('key',)), training=True)
    with pytest.raises(KeyError, match="unknown skeleton augmentation 'sheer'"):
        SkeletonDataPreprocessor(views=dict(query=[dict(type='sheer')]))
    with pytest.raises(TypeError, match="augmentation 'shear'.*amplitud"):
        SkeletonDataPreprocessor(views=dict(query=[dict(type='shear', amplitud=0.5)]))
    with pytest.raises(ValueError, match="stream = 'velocity'"):
        SkeletonDataPreprocessor(stream='velocity')
    with pytest.raises(ValueError, match="start = 'raw'"):
        aimclr(start='raw')


def test_inline_format_from_config():
    fmt = dict(
        name='chain3_inline',
        joints=['root', 'mid', 'tip'],
        edges=[[0, 1], [1, 2]],
        center=0,
        flip=[0, 1, 2],
        parts=dict(trunk=[0, 1, 2], left_arm=[], right_arm=[], left_leg=[], right_leg=[]),
    )
    pre = SkeletonDataPreprocessor(formats=[fmt], stream='bone', seed=0)
    x = torch.tensor([[[1.0, 2, 3], [4, 6, 8], [5, 5, 5]]])[None, None]
    data = dict(inputs=dict(q=dict(chain3_inline=dict(keypoint=x, index=torch.tensor([0])))))
    out = pre(data, training=False)['inputs']['q']['chain3_inline']['keypoint']
    assert torch.equal(out[0, 0, 0], torch.tensor([[0.0, 0, 0], [3, 4, 5], [1, -1, -3]]))


def test_runs_in_float32_outside_autocast():
    plain = keypoints(aimclr(seed=3)(batch(), training=True))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        cast = keypoints(aimclr(seed=3)(batch(), training=True))
    for key, x in plain.items():
        assert cast[key].dtype == torch.float32
        torch.testing.assert_close(cast[key], x)


def test_data_samples_stay_on_the_host_when_asked():
    pre = SkeletonDataPreprocessor(stream='joint', move_data_samples=False, non_blocking=True)
    data = batch()
    out = pre(data, training=False)
    assert out['data_samples'] is data['data_samples']
    assert out['inputs']['query']['kinect25']['keypoint'].dtype == torch.float32
    moved = SkeletonDataPreprocessor(stream='joint')(batch(), training=False)
    assert len(moved['data_samples']) == 6
