"""tools/analysis/epoch_time.py: the epoch time from a tools/train.py run's logs."""

import json
import os.path as osp
import sys

import pytest

from ...conftest import REPO_ROOT

sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'analysis'))
import epoch_time  # noqa: E402


def fake_run(
    work_dir,
    times,
    interval=5,
    iters_per_epoch=20,
    window=5,
    stamp='20261201_000000',
    batch_size=8,
    cut_last_line=False,
):
    """A work directory as tools/train.py leaves it: dumped config, log, scalars.json."""
    run = work_dir / stamp
    (run / 'vis_data').mkdir(parents=True)
    (work_dir / 'cfg.py').write_text(
        f'train_dataloader = dict(batch_size={batch_size})\n'
        f"log_processor = dict(type='LogProcessor', window_size={window}, by_epoch=True)\n"
    )
    lines, log = [], []
    for n, t in enumerate(times, 1):
        it = n * interval
        epoch = (it - 1) // iters_per_epoch + 1
        lines.append(
            json.dumps(
                dict(lr=0.1, data_time=0.01, time=t, loss=1.0, epoch=epoch, iter=it, step=it)
            )
        )
        log.append(
            f'2026/12/01 00:00:{n:02d} - mmengine - INFO - Epoch(train)  '
            f'[{epoch}][{(it - 1) % iters_per_epoch + 1:3d}/{iters_per_epoch}]  time: {t}'
        )
    lines.append(json.dumps(dict(knn_top1=50.0, step=1)))  # a validation row
    text = '\n'.join(lines) + '\n'
    if cut_last_line:
        text += '{"lr": 0.1, "data_ti'
    (run / 'vis_data' / 'scalars.json').write_text(text)
    (run / f'{stamp}.log').write_text('\n'.join(log) + '\n')
    return run


def test_mean_after_the_first_row_and_the_epoch_it_gives(tmp_path):
    run = fake_run(tmp_path, [3.0, 0.1, 0.2, 0.3], cut_last_line=True)
    report = epoch_time.epoch_time(str(tmp_path))
    assert report['run'] == str(run)
    assert report['iters_logged'] == 20 and report['iters_per_epoch'] == 20
    assert report['epochs_logged'] == 1.0 and report['rows'] == 4 and report['rows_used'] == 3
    assert report['first_rows_time_s'] == [3.0]
    assert report['mean_iter_s'] == pytest.approx(0.2)
    assert report['batch_size'] == 8 and report['seq_per_s'] == pytest.approx(40.0)
    assert report['epoch_s_from_mean'] == pytest.approx(4.0)
    assert report['window_matches_interval'] is True
    assert report['mean_data_time_s'] == pytest.approx(0.01)


def test_a_run_stopped_early_the_newest_run_and_the_options(tmp_path):
    fake_run(tmp_path, [9.0, 9.0], stamp='20261130_000000')
    fake_run(
        tmp_path,
        [3.0, 0.5, 0.5],
        interval=10,
        iters_per_epoch=100,
        window=20,
        stamp='20261201_000000',
    )
    report = epoch_time.epoch_time(str(tmp_path), skip_rows=0, batch_size=16)
    assert report['iters_logged'] == 30 and report['epochs_logged'] == pytest.approx(0.3)
    assert report['mean_iter_s'] == pytest.approx(4.0 / 3)
    assert report['seq_per_s'] == pytest.approx(12.0) and report[
        'epoch_s_from_mean'
    ] == pytest.approx(400 / 3)
    assert report['window_matches_interval'] is False  # rows overlap: the first may hold step 1


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='no run'):
        epoch_time.epoch_time(str(tmp_path))
    fake_run(tmp_path, [1.0])
    with pytest.raises(ValueError, match=r'1 training row\(s\) logged; need more than skip_rows=1'):
        epoch_time.epoch_time(str(tmp_path))


def test_cli_writes_json(tmp_path):
    fake_run(tmp_path / 'w', [1.0, 0.25])
    epoch_time.main([str(tmp_path / 'w'), '--json-out', str(tmp_path / 'e.json')])
    assert json.loads((tmp_path / 'e.json').read_text())['mean_iter_s'] == 0.25
