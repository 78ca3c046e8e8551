"""The test suite's own set-up (tests/conftest.py): parallel workers, threads, file order."""

import os

import pytest
import torch

from . import conftest


def test_auto_workers_one_per_core_at_most_four(monkeypatch):
    for cores, want in ((1, 1), (2, 2), (4, 4), (64, conftest.MAX_WORKERS)):
        monkeypatch.setattr(os, 'sched_getaffinity', lambda pid, n=cores: set(range(n)))
        assert conftest.pytest_xdist_auto_num_workers(None) == want
    assert conftest.MAX_WORKERS == 4


def test_cores_without_affinity_come_from_cpu_count(monkeypatch):
    monkeypatch.delattr(os, 'sched_getaffinity', raising=False)  # macOS has none
    monkeypatch.setattr(os, 'cpu_count', lambda: 3)
    assert conftest.usable_cores() == 3 and conftest.pytest_xdist_auto_num_workers(None) == 3


def test_workers_split_the_cores_between_them(monkeypatch):
    threads = torch.get_num_threads()
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: set(range(8)))
    monkeypatch.setenv('PYTEST_XDIST_WORKER_COUNT', '4')
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    try:
        conftest._share_cores_between_workers()
        assert os.environ['OMP_NUM_THREADS'] == '2' and torch.get_num_threads() == 2
        monkeypatch.setenv('OMP_NUM_THREADS', '3')  # a user's setting is kept
        conftest._share_cores_between_workers()
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(threads)


def test_running_workers_use_their_share(request):
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '0'))
    if workers < 2:
        pytest.skip('not run by two or more pytest-xdist workers')
    assert torch.get_num_threads() == int(os.environ['OMP_NUM_THREADS'])


def test_long_files_are_collected_first(request):
    items = request.session.items
    files = list(dict.fromkeys(item.path for item in items))
    if len(files) < 3 or request.config.getoption('markexpr'):
        pytest.skip('only part of the suite was collected (or -m deselected the slow tests)')
    slow = {item.path for item in items if item.get_closest_marker('slow')}
    tools = os.path.join(conftest.REPO_ROOT, 'tests', 'tools') + os.sep
    ranks = [0 if f in slow else 1 if str(f).startswith(tools) else 2 for f in files]
    assert ranks == sorted(ranks) and ranks[-1] == 2
    # each file's tests stay together (one xdist worker runs a file, --dist loadfile)
    assert len(files) == len(
        [i for n, i in enumerate(items) if n == 0 or i.path != items[n - 1].path]
    )
