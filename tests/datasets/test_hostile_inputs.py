"""Broken inputs, through the entry points a user hits, each get one clear error and no output.

One table: each row makes a broken input in a fresh folder, runs it through
``MultiSkeletonDataset(...)``, ``tools/train.py CONFIG``, ``tools/test.py CONFIG CKPT`` or
``tools/data/check_pkl.py`` (in-process: same code as the command line, no interpreter
start-up), and checks that the message names what is wrong (file, sample, format, field,
expectation) and that nothing was written: no cache file, no work-dir checkpoint, the input
files unchanged. Unit-level variants of these checks live in ``test_annotations.py`` and
``test_multi_skeleton_dataset.py``.
"""

import copy
import hashlib
import importlib.util
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch

from msclr_mm import compat
from msclr_mm.datasets import AnnotationError, MultiSkeletonDataset
from msclr_mm.datasets.demo_body import make_demo_annotations

from ..conftest import REPO_ROOT
from ..test_compat import _hostile_checkpoint

_DEMO = make_demo_annotations(num_subjects=2, num_reps=1, num_train_subjects=1, seed=5)
FD = _DEMO['kinect25']['annotations'][0]['frame_dir']


def load_tool(*parts):
    """Import a script of ``tools/`` as a module (its ``main(argv)`` is the command line)."""
    path = osp.join(REPO_ROOT, 'tools', *parts)
    spec = importlib.util.spec_from_file_location('tool_' + parts[-1][:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def demo(fmt='kinect25'):
    return copy.deepcopy(_DEMO[fmt])


def write_pkl(path, data):
    with open(path, 'wb') as f:
        pickle.dump(data, f)
    return str(path)


def tree_digest(root):
    """Path -> sha256 of every file under ``root``."""
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            p = osp.join(folder, name)
            with open(p, 'rb') as f:
                out[osp.relpath(p, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def mutate(fn, fmt='kinect25'):
    """Demo annotations of ``fmt`` with ``fn(data)`` applied."""
    data = demo(fmt)
    fn(data)
    return data


def set_kp(index, value):
    def fn(data):
        data['annotations'][0]['keypoint'][index] = value

    return fn


def set_field(field, value):
    def fn(data):
        data['annotations'][0][field] = value

    return fn


def build_dataset(tmp_path, files, split='xsub_train', formats=None):
    """The dataset entry point; ``files``: {format key: data dict | bytes}."""
    ann_files = {}
    for key, content in files.items():
        path = tmp_path / 'in' / f'{key if isinstance(key, str) else "custom"}.pkl'
        path.parent.mkdir(exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            write_pkl(path, content)
        ann_files[key] = str(path)
    return MultiSkeletonDataset(
        ann_files=ann_files, split=split, formats=formats, cache_dir=str(tmp_path / 'cache')
    )


def _truncated():
    return pickle.dumps(demo())[:1000]


def _frames_differ():
    smpl = demo('smpl24')
    ann = smpl['annotations'][0]
    ann['keypoint'] = ann['keypoint'][:, :-3]
    ann['total_frames'] -= 3
    return {'kinect25': demo(), 'smpl24': smpl}


def _duplicate(data):
    data['annotations'].append(copy.deepcopy(data['annotations'][0]))


TINY_FMT = dict(
    name='tri3',
    joints=['a', 'b', 'c'],
    edges=[(0, 1), (1, 2)],
    center=1,
    flip=[2, 1, 0],
    parts=dict(trunk=[1], left_arm=[0], right_arm=[2], left_leg=[0], right_leg=[2]),
    dim=3,
    unit='m',
)


def _tri3_data():
    data = demo()
    for ann in data['annotations']:
        ann['keypoint'] = ann['keypoint'][:, :, :3]
    return data


# (id, callable(tmp_path) that must raise, exception type, fragments the message must hold)
DATASET_CASES = [
    ('truncated_pickle', lambda t: build_dataset(t, {'kinect25': _truncated()}),
     AnnotationError, ['kinect25.pkl', 'not a readable pickle', 'truncated']),
    ('not_a_pickle', lambda t: build_dataset(t, {'kinect25': b'frame_dir,label\nS001,3\n'}),
     AnnotationError, ['kinect25.pkl', 'not a readable pickle', "'split' and 'annotations'"]),
    ('missing_annotations', lambda t: build_dataset(t, {'kinect25': {'split': {}}}),
     AnnotationError, ['kinect25.pkl', "field 'annotations'", "missing top-level key"]),
    ('missing_split',
     lambda t: build_dataset(t, {'kinect25': {'annotations': demo()['annotations']}}),
     AnnotationError, ['kinect25.pkl', "field 'split'", 'missing top-level key']),
    ('keypoint_rank_3',
     lambda t: build_dataset(t, {'kinect25': mutate(lambda d: d['annotations'][0].update(
         keypoint=d['annotations'][0]['keypoint'][0]))}),
     AnnotationError, [FD, "format 'kinect25'", "field 'keypoint'", 'expected rank 4']),
    ('nan', lambda t: build_dataset(t, {'kinect25': mutate(set_kp((0, 2, 3, 1), np.nan))}),
     AnnotationError, [FD, "field 'keypoint'", '1 NaN/inf', 'expected finite']),
    ('inf', lambda t: build_dataset(t, {'kinect25': mutate(set_kp((0, 0, 0, 0), np.inf))}),
     AnnotationError, [FD, "field 'keypoint'", 'NaN/inf']),
    ('zero_frames',
     lambda t: build_dataset(t, {'kinect25': mutate(lambda d: d['annotations'][0].update(
         keypoint=d['annotations'][0]['keypoint'][:, :0], total_frames=0))}),
     AnnotationError, [FD, "field 'total_frames'", 'empty sequence', 'at least 1 frame']),
    ('joint_count',
     lambda t: build_dataset(t, {'kinect25': mutate(lambda d: d['annotations'][0].update(
         keypoint=d['annotations'][0]['keypoint'][:, :, :17]))}),
     AnnotationError, [FD, "field 'keypoint'", 'has 17 joints', 'V=25']),
    ('unknown_format', lambda t: build_dataset(t, {'kinect99': demo()}),
     KeyError, ['kinect99', 'kinect25']),
    ('inline_format_flip_not_involution',
     lambda t: build_dataset(t, {'tri3': _tri3_data()},
                             formats=[dict(TINY_FMT, flip=[1, 2, 0])]),
     ValueError, ['tri3', 'flip']),
    ('inline_format_edge_out_of_range',
     lambda t: build_dataset(t, {'tri3': _tri3_data()},
                             formats=[dict(TINY_FMT, edges=[(0, 1), (1, 7)])]),
     ValueError, ['tri3', 'edge', '7']),
    ('frames_differ_across_formats', lambda t: build_dataset(t, _frames_differ()),
     AnnotationError, [FD, 'smpl24', 'frames']),
    ('negative_label', lambda t: build_dataset(t, {'kinect25': mutate(set_field('label', -1))}),
     AnnotationError, [FD, "field 'label'", 'is -1', 'integer >= 0']),
    ('float_label', lambda t: build_dataset(t, {'kinect25': mutate(set_field('label', 2.5))}),
     AnnotationError, [FD, "field 'label'", 'integer >= 0']),
    ('duplicate_frame_dir', lambda t: build_dataset(t, {'kinect25': mutate(_duplicate)}),
     AnnotationError, ['kinect25.pkl', FD, 'duplicate']),
    ('empty_split',
     lambda t: build_dataset(t, {'kinect25': mutate(lambda d: d['split'].update(xsub_train=[]))}),
     AnnotationError, ['kinect25.pkl', "field 'split'", "'xsub_train'", 'lists no clips']),
    ('unknown_split', lambda t: build_dataset(t, {'kinect25': demo()}, split='xset_train'),
     Exception, ['xset_train', 'xsub_train']),
    ('split_names_unknown_clip',
     lambda t: build_dataset(t, {'kinect25': mutate(lambda d: d['split']['xsub_train'].append(
         'S999'))}),
     AnnotationError, ['kinect25.pkl', 'S999']),
]  # fmt: skip


@pytest.mark.parametrize(
    'make, exc, fragments',
    [case[1:] for case in DATASET_CASES],
    ids=[case[0] for case in DATASET_CASES],
)
def test_dataset_entry_point(tmp_path, make, exc, fragments):
    with pytest.raises(exc) as info:
        make(tmp_path)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f'{fragment!r} not in: {message}'
    # the cache of a valid input file may stay (complete, keyed by content); nothing half-made
    cache = tmp_path / 'cache'
    entries = sorted(os.listdir(cache)) if cache.exists() else []
    assert not [e for e in entries if e.startswith('.')], f'temporary cache left: {entries}'
    assert all((cache / e / 'meta.npz').is_file() for e in entries), entries
    if getattr(info.value, 'frame_dir', None) and len(list((tmp_path / 'in').iterdir())) == 1:
        assert entries == [], 'a cache was written for an invalid file'
    print(f'{type(info.value).__name__}: {message}')


# ----------------------------------------------------------------------------- tools
TINY_AIMCLR = """
_base_ = [{base!r}]
model = dict(
    backbone=dict(channels=[8, 16], strides=[1, 2], tcn_kernel=3),
    neck=dict(in_channels=16, hid_channels=16, out_channels=8), feat_dim=8, queue_len=16)
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                        dataset=dict(ann_files=dict(kinect25={ann!r})))
val_dataloader = None
val_cfg = None
val_evaluator = None
train_cfg = dict(max_epochs=1)
"""


def tiny_config(tmp_path, ann):
    config = tmp_path / 'tiny.py'
    base = osp.join(REPO_ROOT, 'configs', 'demo', 'aimclr_demo.py')
    config.write_text(TINY_AIMCLR.format(base=base, ann=str(ann)))
    return str(config)


def test_train_with_a_config_naming_a_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv('MSCLR_MM_CACHE_DIR', str(tmp_path / 'cache'))
    missing = tmp_path / 'data' / 'kinect25.pkl'
    config = tiny_config(tmp_path, missing)
    work = tmp_path / 'work'
    with pytest.raises(AnnotationError) as info:
        load_tool('train.py').main([config, '--work-dir', str(work)])
    assert str(missing) in str(info.value) and 'file not found' in str(info.value)
    assert not list(work.rglob('*.pth')) and not (tmp_path / 'cache').exists()
    print(f'AnnotationError: {info.value}')


def test_train_with_a_missing_config(tmp_path):
    with pytest.raises(SystemExit) as info:
        load_tool('train.py').main([str(tmp_path / 'nope.py'), '--work-dir', str(tmp_path / 'w')])
    assert str(info.value) == f'config file {str(tmp_path / "nope.py")!r} does not exist'
    assert not (tmp_path / 'w').exists()
    print(f'SystemExit: {info.value}')


def test_test_refuses_a_checkpoint_with_a_pickled_payload(tmp_path, monkeypatch):
    monkeypatch.delenv(compat.TRUST_ENV, raising=False)
    ckpt, marker = _hostile_checkpoint(tmp_path)
    config = tiny_config(tmp_path, tmp_path / 'absent.pkl')
    with pytest.raises(compat.UnsafeCheckpointError) as info:
        load_tool('test.py').main([config, str(ckpt), '--work-dir', str(tmp_path / 'w')])
    message = str(info.value)
    assert str(ckpt) in message and '--trust-checkpoint' in message
    assert not marker.exists(), 'the payload ran'
    print(f'UnsafeCheckpointError: {message}')


def test_test_refuses_a_checkpoint_of_another_backbone(tmp_path):
    from mmaction.models import STGCN

    other = {
        f'backbone.{k}': v for k, v in STGCN(graph_cfg=dict(layout='coco')).state_dict().items()
    }
    ckpt = tmp_path / 'stgcn.pth'
    torch.save({'state_dict': other, 'meta': {}}, ckpt)
    before = tree_digest(tmp_path)
    config = tiny_config(tmp_path, tmp_path / 'absent.pkl')
    dump = tmp_path / 'preds.pkl'
    with pytest.raises(SystemExit) as info:
        load_tool('test.py').main([config, str(ckpt), '--work-dir', str(tmp_path / 'w'),
                                   '--dump', str(dump)])  # fmt: skip
    message = str(info.value)
    assert str(ckpt) in message and 'does not match the model of the config' in message
    assert 'model keys missing: backbone.blocks.0.' in message
    assert 'the checkpoint has' in message and 'keys the model lacks: backbone.data_bn' in message
    assert 'another shape' in message or 'keys the model lacks' in message
    assert not dump.exists()
    assert tree_digest(tmp_path)['stgcn.pth'] == before['stgcn.pth']
    assert not list((tmp_path / 'w').rglob('*.pkl'))
    print(f'SystemExit: {message}')


def test_check_pkl_lists_the_problem_and_leaves_the_file(tmp_path, capsys):
    path = write_pkl(tmp_path / 'kinect25.pkl', mutate(set_kp((0, 1, 2, 0), np.nan)))
    before = tree_digest(tmp_path)
    code = load_tool('data', 'check_pkl.py').main([path])
    out = capsys.readouterr()
    text = out.out + out.err
    assert code == 1
    assert path in text and FD in text and "field 'keypoint'" in text and 'NaN/inf' in text
    assert tree_digest(tmp_path) == before
