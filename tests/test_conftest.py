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


class _Report:
    def __init__(self, nodeid, when, duration, markers=()):
        self.nodeid, self.when, self.duration = nodeid, when, duration
        self.keywords = {nodeid.split('::')[-1]: 1, **dict.fromkeys(markers, 1)}


class _Terminal:
    def __init__(self, worker=False):
        self.config = type('Config', (), {'workerinput': {}} if worker else {})()
        self.lines = []

    def section(self, title):
        self.lines.append(f'== {title}')

    def write_line(self, line):
        self.lines.append(line)


def test_unmarked_long_tests_are_named_in_the_summary(monkeypatch):
    monkeypatch.setattr(conftest, '_UNMARKED_SLOW', {})
    reports = [
        _Report('t.py::a', 'setup', 15.0),  # a module fixture's time counts for its test
        _Report('t.py::a', 'call', 6.0),
        _Report('t.py::a', 'teardown', 30.0),  # teardown does not
        _Report('t.py::b', 'call', 19.0),
        _Report('t.py::c', 'setup', 10.0, markers=['slow']),
        _Report('t.py::c', 'call', 50.0, markers=['slow']),
        _Report('t.py::d', 'call', 40.0),
    ]
    for report in reports:
        conftest.pytest_runtest_logreport(report)
    assert conftest.unmarked_slow_tests() == [('t.py::d', 40.0), ('t.py::a', 21.0)]
    terminal = _Terminal()
    conftest.pytest_terminal_summary(terminal)
    assert terminal.lines[0] == '== tests of 20 s or more without the slow marker'
    assert ['t.py::d' in terminal.lines[1], 't.py::a' in terminal.lines[2]] == [True, True]
    assert len(terminal.lines) == 4
    worker = _Terminal(worker=True)  # an xdist worker leaves the summary to the controller
    conftest.pytest_terminal_summary(worker)
    assert worker.lines == []


def test_no_summary_when_every_long_test_is_marked(monkeypatch):
    monkeypatch.setattr(conftest, '_UNMARKED_SLOW', {})
    conftest.pytest_runtest_logreport(_Report('t.py::a', 'call', 5.0))
    terminal = _Terminal()
    conftest.pytest_terminal_summary(terminal)
    assert terminal.lines == [] and conftest.unmarked_slow_tests(limit=5.0) == [('t.py::a', 5.0)]
