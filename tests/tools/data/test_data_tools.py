"""The dataset tools in tools/data/, run in-process (main(argv)) and once each as scripts."""

import hashlib
import importlib.util
import os
import os.path as osp
import pickle
import shutil
import sys

import numpy as np
import pytest

from msclr_mm.datasets import check_alignment, load_annotation_file, validate_annotations
from msclr_mm.datasets.converters.ntu import (
    NTU60_XSUB_TRAIN,
    parse_skeleton_file,
    select_bodies,
)
from msclr_mm.skeletons import get_format

from ...conftest import REPO_ROOT, run_python
from ...datasets.converters.helpers import make_clip, tree_hashes

TOOLS = osp.join(REPO_ROOT, 'tools', 'data')
TWO = 'S001C003P008R002A058'


def tool(name):
    spec = importlib.util.spec_from_file_location(f'tool_{name}', osp.join(TOOLS, f'{name}.py'))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # so that process pools can pickle its worker functions
    spec.loader.exec_module(mod)
    return mod


def sha(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope='module')
def ntu_out(tmp_path_factory):
    """The real NTU files converted once (2 workers)."""
    src = osp.join(osp.dirname(REPO_ROOT), 'shared', 'data', 'ntu_raw')
    if not osp.isdir(src):
        pytest.skip(f'real data folder {src} is absent')
    before = tree_hashes(src)
    out = tmp_path_factory.mktemp('ntu')
    assert tool('ntu_skeleton_to_pkl').main([src, '--out-dir', str(out), '--workers', '2']) == 0
    assert tree_hashes(src) == before
    return src, out


def test_ntu_real_files(ntu_out):
    src, out = ntu_out
    d3 = load_annotation_file(str(out / 'kinect25.pkl'))
    d2 = load_annotation_file(str(out / 'kinect25_2d.pkl'))
    assert validate_annotations(d3, 'kinect25', collect=True) == []
    assert validate_annotations(d2, 'kinect25_2d', collect=True) == []
    assert check_alignment({'kinect25': d3, 'kinect25_2d': d2}, collect=True) == []
    assert len(d3['annotations']) == 11
    for a3, a2 in zip(d3['annotations'], d2['annotations']):
        with open(osp.join(src, a3['frame_dir'] + '.skeleton')) as f:
            header = int(f.readline())
        assert a3['total_frames'] == a2['total_frames'] == header == a3['keypoint'].shape[1]
        assert a3['label'] == int(a3['frame_dir'][-3:]) - 1
        assert a3['keypoint'].shape[0] == (2 if a3['frame_dir'] == TWO else 1)
    two = next(a for a in d3['annotations'] if a['frame_dir'] == TWO)
    assert (np.abs(two['keypoint']).sum((1, 2, 3)) > 0).all()
    # joint 1 of the file's first body on frame 0 as written (line 5 of the text); that body
    # is actor 2: SGN's motion (pooled variance of its joints) ranks the other one first
    with open(osp.join(src, TWO + '.skeleton')) as f:
        text = f.read().splitlines()
    first_id, line = text[2].split()[0], text[5].split()
    _, bodies = parse_skeleton_file(osp.join(src, TWO + '.skeleton'), 25)
    assert [b.body_id for b in select_bodies(bodies)][1] == first_id
    two2 = next(a for a in d2['annotations'] if a['frame_dir'] == TWO)
    np.testing.assert_allclose(two['keypoint'][1, 0, 1], [float(v) for v in line[:3]], rtol=1e-6)
    colour = [float(v) for v in line[5:7]]
    np.testing.assert_allclose(two2['keypoint'][1, 0, 1], [1920 - colour[0], colour[1]])
    assert 'ordinary camera' in d2['meta']['axes'] and d3['meta']['format'] == 'kinect25'
    # splits: subjects 1 and 8 train x-sub; camera 1 is x-view val, camera 3 train
    assert 1 in NTU60_XSUB_TRAIN and 8 in NTU60_XSUB_TRAIN
    assert sorted(d3['split']['xsub_train']) == sorted(a['frame_dir'] for a in d3['annotations'])
    assert d3['split']['xsub_val'] == [] and d3['split']['xview_train'] == [TWO]
    assert len(d3['split']['xview_val']) == 10 and d2['split'] == d3['split']


def test_ntu_colour_chirality(ntu_out, tmp_path):
    """NTU's colour frame is a mirror image; by default it is written as a camera sees it.

    Every real clip's person faces the camera: the right shoulder is on the sensor's left
    (larger camera x) and, in an ordinary image, at the smaller u (as in KARD and video).
    """
    src, out = ntu_out
    fmt = get_format('kinect25')
    r, l = fmt.joints.index('ShoulderRight'), fmt.joints.index('ShoulderLeft')
    recorded = tmp_path / 'recorded'
    ntu = tool('ntu_skeleton_to_pkl')
    assert ntu.main([src, '--out-dir', str(recorded), '--colour-as-recorded']) == 0
    d3 = load_annotation_file(str(out / 'kinect25.pkl'))
    d2 = load_annotation_file(str(out / 'kinect25_2d.pkl'))
    raw = load_annotation_file(str(recorded / 'kinect25_2d.pkl'))
    assert 'mirror image' in raw['meta']['axes']
    for a3, a2, b2 in zip(d3['annotations'], d2['annotations'], raw['annotations']):
        present = np.abs(b2['keypoint']).sum(-1) > 0
        np.testing.assert_allclose(
            a2['keypoint'][..., 0], np.where(present, 1920 - b2['keypoint'][..., 0], 0)
        )
        np.testing.assert_array_equal(a2['keypoint'][..., 1], b2['keypoint'][..., 1])
        xyz, uv = a3['keypoint'][0], a2['keypoint'][0]
        assert (xyz[:, r, 0] > xyz[:, l, 0]).mean() > 0.9, a3['frame_dir']
        assert (uv[:, r, 0] < uv[:, l, 0]).mean() > 0.9, a3['frame_dir']
        assert (b2['keypoint'][0, :, r, 0] > b2['keypoint'][0, :, l, 0]).mean() > 0.9


def test_ntu_refusals(tmp_path, capsys):
    ntu = tool('ntu_skeleton_to_pkl')
    src = tmp_path / 'src'
    src.mkdir()
    out = tmp_path / 'out'
    assert ntu.main([str(tmp_path / 'nope'), '--out-dir', str(out)]) == 1
    assert 'does not exist' in capsys.readouterr().err
    assert ntu.main([str(src), '--out-dir', str(out)]) == 1
    assert 'holds no NTU .skeleton files' in capsys.readouterr().err
    make_clip(src / 'S001C001P001R001A001.skeleton', seed=0)
    make_clip(src / 'S001C002P002R001A002.skeleton', seed=1, two=True, noise_body=True)
    bad = src / 'S001C001P003R001A003.skeleton'
    make_clip(bad, seed=2)
    bad.write_text('\n'.join(bad.read_text().splitlines()[:50]))
    before = tree_hashes(src)
    assert ntu.main([str(src), '--out-dir', str(out)]) == 1
    err = capsys.readouterr().err
    assert '1 malformed file(s), nothing written' in err and 'S001C001P003R001A003' in err
    assert not out.exists()
    # the official missing list skips the bad file
    missing = tmp_path / 'missing.txt'
    missing.write_text('# samples with missing skeletons\nS001C001P003R001A003\n')
    assert ntu.main([str(src), '--out-dir', str(out), '--missing-list', str(missing)]) == 0
    d3 = load_annotation_file(str(out / 'kinect25.pkl'))
    assert [a['frame_dir'] for a in d3['annotations']] == [
        'S001C001P001R001A001', 'S001C002P002R001A002'
    ]  # fmt: skip
    assert d3['annotations'][1]['keypoint'].shape[0] == 2  # the wide "body" was dropped
    assert d3['split']['xsub_val'] == []  # subjects 1 and 2 both train
    # existing outputs: refused and untouched
    hashes = {p: sha(out / p) for p in ('kinect25.pkl', 'kinect25_2d.pkl')}
    assert ntu.main([str(src), '--out-dir', str(out), '--skip-bad']) == 1
    assert '--overwrite' in capsys.readouterr().err
    assert {p: sha(out / p) for p in hashes} == hashes
    assert ntu.main([str(src), '--out-dir', str(out), '--skip-bad', '--overwrite']) == 0
    assert 'skipped' in capsys.readouterr().err
    assert tree_hashes(src) == before
    assert sorted(os.listdir(out)) == ['kinect25.pkl', 'kinect25_2d.pkl']  # no temp left
    # --noisy-fraction reaches the denoising: above 1 no body is dropped for its spread, and
    # the wide "body" at x = -1 (the largest variance of its joints) becomes actor 1
    loose = tmp_path / 'loose'
    args = [str(src), '--out-dir', str(loose), '--skip-bad', '--noisy-fraction', '1.01']
    assert ntu.main(args) == 0
    kp = load_annotation_file(str(loose / 'kinect25.pkl'))['annotations'][1]['keypoint']
    assert abs(kp[0, ..., 0].mean() + 1) < 0.05
    kept = load_annotation_file(str(out / 'kinect25.pkl'))['annotations'][1]['keypoint']
    assert abs(kept[..., 0].mean(axis=(1, 2)) + 1).min() > 0.5  # the default drops it


def test_video_from_reference_landmarks(tmp_path, capsys, shared_data):
    video = tool('video_to_pkl')
    src = tmp_path / 'lm'
    src.mkdir()
    shutil.copy(
        osp.join(shared_data, 'video', 'kinetics_armwrestling.mediapipe.npz'),
        src / 'kinetics_armwrestling_c007.npz',
    )
    labels = tmp_path / 'labels.csv'
    labels.write_text('filename,label\nother.mp4,1\n')
    out = tmp_path / 'out'
    before = tree_hashes(src)
    args = [str(src), '--from-landmarks', '--out-dir', str(out)]
    assert video.main(args + ['--labels', str(labels)]) == 1
    assert "no row for ['kinetics_armwrestling_c007']" in capsys.readouterr().err
    assert video.main(args + ['--label-pattern', r'_x(\d+)']) == 1
    assert 'does not match' in capsys.readouterr().err
    assert video.main(args + ['--label-pattern', r'_c(?P<label>\d+)', '--label-offset', '-1']) == 0
    data = {f: load_annotation_file(str(out / f'{f}.pkl')) for f in video.FORMATS}
    for f, d in data.items():
        assert validate_annotations(d, f, collect=True) == []
        assert d['annotations'][0]['label'] == 6 and d['split'] == {
            'all': ['kinetics_armwrestling_c007']
        }
    assert check_alignment(data, collect=True) == []
    ref = np.load(src / 'kinetics_armwrestling_c007.npz')
    np.testing.assert_array_equal(
        data['coco17']['annotations'][0]['keypoint'][0], ref['coco17_2d'][..., :2]
    )
    hashes = {f: sha(out / f'{f}.pkl') for f in video.FORMATS}
    assert video.main(args + ['--label-pattern', r'_c(\d+)']) == 1
    assert {f: sha(out / f'{f}.pkl') for f in video.FORMATS} == hashes
    assert tree_hashes(src) == before


def test_video_without_mediapipe_fails_clearly(tmp_path, capsys):
    video = tool('video_to_pkl')
    if video.mediapipe_available():
        pytest.skip('mediapipe is installed')
    src = tmp_path / 'v'
    src.mkdir()
    (src / 'a.mp4').write_bytes(b'')
    assert video.main([str(src), '--out-dir', str(tmp_path / 'o'), '--label-pattern', 'a']) == 1
    assert 'mediapipe==0.10.21' in capsys.readouterr().err


def test_video_never_replaces_saved_landmarks_or_merges_two_videos(tmp_path, capsys, monkeypatch):
    """--save-landmarks refuses existing files without --overwrite; a.mp4 + a.avi refused."""
    video = tool('video_to_pkl')
    T = 6
    rng = np.random.default_rng(0)

    def fake_extract(path, model_complexity=1):
        return dict(
            blaze33_2d=rng.uniform(10, 100, size=(T, 33, 3)).astype(np.float32),
            blaze33_world=rng.normal(size=(T, 33, 3)).astype(np.float32),
            found=np.ones(T, bool),
            img_shape=np.array([240.0, 320.0]),
        )

    monkeypatch.setattr(video, 'mediapipe_available', lambda: True)
    monkeypatch.setattr(video, 'extract_video', fake_extract)
    src, lm = tmp_path / 'v', tmp_path / 'lm'
    src.mkdir()
    lm.mkdir()
    (src / 'a_c001.mp4').write_bytes(b'')
    (lm / 'a_c001.npz').write_bytes(b'user data')
    args = [str(src), '--out-dir', str(tmp_path / 'o'), '--label-pattern', r'_c(\d+)']
    assert video.main(args + ['--save-landmarks', str(lm)]) == 1
    err = capsys.readouterr().err
    assert 'a_c001.npz' in err and '--overwrite' in err
    assert (lm / 'a_c001.npz').read_bytes() == b'user data'
    assert not (tmp_path / 'o').exists()
    assert video.main(args + ['--save-landmarks', str(lm), '--overwrite']) == 0
    assert set(np.load(lm / 'a_c001.npz').files) == {
        'blaze33_2d',
        'blaze33_world',
        'found',
        'img_shape',
    }
    (src / 'a_c001.avi').write_bytes(b'')
    assert video.main(args + ['--overwrite']) == 1
    assert "clips ['a_c001'] exist under several extensions" in capsys.readouterr().err


def test_video_with_mediapipe_matches_reference(tmp_path, shared_data):
    video = tool('video_to_pkl')
    if not video.mediapipe_available():
        pytest.skip('mediapipe is not installed (pip install -e ".[video]")')
    got = video.extract_video(osp.join(shared_data, 'video', 'kinetics_armwrestling.mp4'))
    ref = np.load(osp.join(shared_data, 'video', 'kinetics_armwrestling.mediapipe.npz'))
    assert len(got['found']) == len(ref['found'])
    assert abs(int(got['found'].sum()) - int(ref['found'].sum())) <= 10
    both = got['found'] & ref['found']
    err = np.linalg.norm(got['blaze33_2d'][both, :, :2] - ref['blaze33_2d'][both, :, :2], axis=-1)
    assert err.mean() < 3.0


def test_arrays_to_pkl(tmp_path, capsys):
    arrays = tool('arrays_to_pkl')
    src = tmp_path / 'arr'
    src.mkdir()
    rng = np.random.default_rng(0)
    a = (rng.normal(size=(12, 42, 3)) * 1000).astype(np.float32)
    b = (rng.normal(size=(2, 9, 42, 3)) * 1000).astype(np.float32)
    np.save(src / 'clip_a.npy', a)
    np.savez(src / 'clip_b.npz', poses=b)
    labels = tmp_path / 'labels.csv'
    labels.write_text('filename,label,split\nclip_a.npy,4,train\nclip_b.npz,1,val\n')
    out = tmp_path / 'smplx42.pkl'
    base = [str(src), '--format', 'smplx42', '--labels', str(labels), '--out', str(out)]
    before = tree_hashes(src)
    assert arrays.main(base + ['--unit', 'mm']) == 0
    data = load_annotation_file(str(out))
    assert validate_annotations(data, 'smplx42', collect=True) == []
    assert data['meta'] == {'format': 'smplx42', 'unit': 'mm'}
    assert data['split'] == {'train': ['clip_a'], 'val': ['clip_b']}
    np.testing.assert_array_equal(data['annotations'][0]['keypoint'][0], a)
    np.testing.assert_array_equal(data['annotations'][1]['keypoint'], b)
    assert [x['label'] for x in data['annotations']] == [4, 1]
    # refusals: existing output (untouched), wrong joints, bad CSV, empty / missing folder
    h = sha(out)
    assert arrays.main(base) == 1 and '--overwrite' in capsys.readouterr().err
    assert sha(out) == h
    np.save(src / 'clip_c.npy', np.zeros((5, 25, 3), np.float32))
    with open(labels, 'a') as f:
        f.write('clip_c.npy,0,train\n')
    assert arrays.main(base + ['--overwrite']) == 1
    err = capsys.readouterr().err
    assert "clip_c.npy (clip clip_c, format 'smplx42'): keypoint array has 25 joints" in err
    assert sha(out) == h
    os.unlink(src / 'clip_c.npy')
    labels.write_text('filename;label\nclip_a.npy;4\n')
    assert arrays.main(base + ['--overwrite']) == 1
    assert 'lacks column' in capsys.readouterr().err
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert arrays.main([str(empty)] + base[1:] + ['--overwrite']) == 1
    assert 'holds no per-clip' in capsys.readouterr().err
    assert arrays.main([str(tmp_path / 'nope')] + base[1:] + ['--overwrite']) == 1
    assert 'does not exist' in capsys.readouterr().err
    assert arrays.main(base[:1] + ['--format', 'nope'] + base[3:] + ['--overwrite']) == 1
    assert 'unknown skeleton format' in capsys.readouterr().err
    assert tree_hashes(src) == {k: v for k, v in before.items()}
    assert sha(out) == h


def test_check_pkl(ntu_out, tmp_path, capsys):
    check = tool('check_pkl')
    _, out = ntu_out
    files = [str(out / 'kinect25.pkl'), str(out / 'kinect25_2d.pkl')]
    assert check.main(files) == 0
    table = capsys.readouterr().out
    assert 'kinect25_2d' in table and '54/75/158' in table and '1:10 2:1' in table
    assert 'frame alignment' in table
    # a broken copy: NaN, empty clip, unknown split id, misaligned frames, train/val overlap
    with open(files[1], 'rb') as f:
        data = pickle.load(f)
    anns = data['annotations']
    anns[0]['keypoint'][0, 0, 0, 0] = np.nan
    anns[1]['keypoint'][:] = 0
    anns[2]['keypoint'] = anns[2]['keypoint'][:, :-1]
    anns[2]['keypoint_score'] = anns[2]['keypoint_score'][:, :-1]
    anns[2]['total_frames'] -= 1
    data['split']['xview_val'].append('S999C001P001R001A001')
    data['split']['xview_train'].append(anns[3]['frame_dir'])
    assert data.pop('meta')['format'] == 'kinect25_2d'  # without it, nothing names the format
    bad = tmp_path / 'broken.pkl'
    with open(bad, 'wb') as f:
        pickle.dump(data, f)
    assert check.main([files[0], str(bad)]) == 1
    assert 'cannot infer the skeleton format' in capsys.readouterr().err
    assert check.main([files[0], str(bad), '--format', 'kinect25', 'kinect25_2d']) == 1
    err = capsys.readouterr().err
    assert '5 problem(s)' in err
    for frame_dir, what in [
        (anns[0]['frame_dir'], 'NaN'),
        (anns[1]['frame_dir'], 'every joint is zero'),
        (anns[2]['frame_dir'], f"total_frames={anns[2]['total_frames']} in format 'kinect25_2d'"),
        ('S999C001P001R001A001', 'not in annotations'),
        (anns[3]['frame_dir'], "both 'xview_train' and 'xview_val'"),
    ]:
        assert any(frame_dir in line and what in line for line in err.splitlines()), what
    (tmp_path / 'trunc.pkl').write_bytes(open(files[0], 'rb').read()[:100])
    assert check.main([str(tmp_path / 'trunc.pkl'), '--format', 'kinect25']) == 1
    assert 'truncated' in capsys.readouterr().err


def test_visualize(ntu_out, tmp_path, capsys):
    vis = tool('visualize')
    _, out = ntu_out
    files = [str(out / 'kinect25.pkl'), str(out / 'kinect25_2d.pkl')]
    png = tmp_path / 'two.png'
    assert vis.main(files + ['--frame-dir', TWO, '--frame', '30', '--out', str(png)]) == 0
    import matplotlib.image as mpimg

    img = mpimg.imread(str(png))
    assert img.shape[1] > img.shape[0] > 200  # two panels side by side
    # two persons in two colours: blue-ish and red-ish pixels both present
    rgb = img[..., :3]
    red = (rgb[..., 0] > 0.7) & (rgb[..., 1] < 0.3) & (rgb[..., 2] < 0.3)
    blue = (rgb[..., 2] > 0.6) & (rgb[..., 0] < 0.3)
    assert red.sum() > 200 and blue.sum() > 200
    h = sha(png)
    assert vis.main(files + ['--frame-dir', TWO, '--out', str(png)]) == 1
    assert sha(png) == h and '--overwrite' in capsys.readouterr().err
    assert vis.main(files + ['--frame-dir', 'nope', '--out', str(tmp_path / 'x.png')]) == 1
    assert "no clip 'nope'" in capsys.readouterr().err
    gif = tmp_path / 'two.gif'
    assert (
        vis.main(files[:1] + ['--frame-dir', 'S001C001P001R001A005', '--gif', '--out', str(gif)])
        == 0
    )
    from PIL import Image

    with Image.open(gif) as im:
        assert im.n_frames == 54


@pytest.mark.parametrize(
    'name', ['ntu_skeleton_to_pkl', 'video_to_pkl', 'arrays_to_pkl', 'check_pkl', 'visualize']
)
def test_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        tool(name).main(['--help'])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith('usage:') and 'Example' in out
    if name != 'check_pkl':  # the only tool that writes nothing
        assert '--overwrite' in out


def test_runs_as_script(tmp_path):
    proc = run_python(
        [osp.join(TOOLS, 'ntu_skeleton_to_pkl.py'), str(tmp_path / 'nope'), '--out-dir', 'x'],
        env={'PYTHONPATH': REPO_ROOT},
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith('error: input folder')
