"""The read-only data tools (check_pkl, visualize) never modify their inputs; make_smoke_data
refuses to clobber. The converters' own input/output hashes are in ``test_data_tools.py``
(ntu, video, arrays, visualize's output), ``test_make_demo_data.py`` (make_demo_data).
"""

import os.path as osp
import pickle

from msclr_mm.datasets.demo_body import make_demo_annotations

from ...conftest import REPO_ROOT, run_python
from ...datasets.converters.helpers import tree_hashes
from .test_data_tools import tool


def demo_files(folder):
    folder.mkdir()
    data = make_demo_annotations(num_subjects=2, num_reps=1, num_train_subjects=1, seed=1)
    paths = []
    for name in ('kinect25', 'coco17'):
        path = folder / f'{name}.pkl'
        path.write_bytes(pickle.dumps(data[name]))
        paths.append(str(path))
    return paths, data['kinect25']['annotations'][0]['frame_dir']


def test_check_pkl_and_visualize_leave_inputs_unchanged(tmp_path, capsys):
    paths, fd = demo_files(tmp_path / 'in')
    before = tree_hashes(str(tmp_path / 'in'))
    assert tool('check_pkl').main(paths) == 0
    png = tmp_path / 'out' / 'clip.png'
    png.parent.mkdir()
    assert tool('visualize').main(paths + ['--frame-dir', fd, '--out', str(png)]) == 0
    assert png.stat().st_size > 1000
    assert tree_hashes(str(tmp_path / 'in')) == before
    assert sorted(p.name for p in (tmp_path / 'in').iterdir()) == ['coco17.pkl', 'kinect25.pkl']


def test_make_smoke_data_refuses_to_clobber(tmp_path):
    out = tmp_path / 'mine.pkl'
    out.write_bytes(b'my own file')
    script = osp.join(REPO_ROOT, 'tools', 'data', 'make_smoke_data.py')
    proc = run_python([script, '--out', str(out)], cwd=tmp_path)
    assert out.read_bytes() == b'my own file' and '--overwrite' in proc.stdout
    run_python([script, '--out', str(out), '--overwrite'], cwd=tmp_path)
    assert pickle.loads(out.read_bytes())['annotations']
