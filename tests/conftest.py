"""Shared test helpers: the repository root, the shared real data, running tools."""

import json
import os
import os.path as osp
import socket
import subprocess
import sys
import time

import pytest
import torch
import torch.multiprocessing as mp

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHARED_DATA = osp.join(osp.dirname(REPO_ROOT), 'shared', 'data')
MAX_WORKERS = 4  # each pytest-xdist worker holds torch and mmaction (about 2 GB)
SLOW_SECONDS = 20.0  # a test this long (set-up and call) should carry the ``slow`` marker


def usable_cores():
    """Cores this process may run on (``os.cpu_count()`` where affinity is unknown: macOS)."""
    if hasattr(os, 'sched_getaffinity'):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def pytest_xdist_auto_num_workers(config):
    """``pytest -n auto`` (pyproject's default): one worker per usable core, at most 4."""
    return max(1, min(MAX_WORKERS, usable_cores()))


def _share_cores_between_workers():
    """Under pytest-xdist, give each worker its share of the cores, not all of them.

    Most tests run a tool in a one-thread subprocess, so workers, one per core, halve the
    wall time on 2 cores; a worker's own torch ops and the subprocesses it starts (which
    inherit ``OMP_NUM_THREADS``) then use ``cores // workers`` threads instead of competing
    for every core. A test that sets ``OMP_NUM_THREADS`` for its subprocess keeps its value.
    """
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '0'))
    if workers > 1:
        threads = max(1, usable_cores() // workers)
        os.environ.setdefault('OMP_NUM_THREADS', str(threads))
        torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))


_share_cores_between_workers()


def pytest_collection_modifyitems(session, config, items):
    """Long files first: files with a ``slow`` test, then ``tests/tools/``, then the rest.

    pytest-xdist hands each worker the next file as it finishes one; a five-minute file
    handed out last would leave the other cores idle for its length. The order within each
    group (and of the tests within a file) is unchanged.
    """
    tools = osp.join(REPO_ROOT, 'tests', 'tools') + os.sep
    slow_files = {item.path for item in items if item.get_closest_marker('slow')}

    def rank(item):
        if item.path in slow_files:
            return 0
        return 1 if str(item.path).startswith(tools) else 2

    items.sort(key=rank)  # stable


_UNMARKED_SLOW = {}  # node id -> seconds (set-up and call) of unmarked tests


def pytest_runtest_logreport(report):
    """Add up each test's set-up and call time, for tests without the ``slow`` marker.

    Under pytest-xdist the controller receives every worker's reports (their ``keywords``
    included), so the summary below covers the whole run.
    """
    if report.when in ('setup', 'call') and 'slow' not in report.keywords:
        _UNMARKED_SLOW[report.nodeid] = _UNMARKED_SLOW.get(report.nodeid, 0.0) + report.duration


def unmarked_slow_tests(durations=None, limit=SLOW_SECONDS):
    """``[(node id, seconds), ...]``, longest first: unmarked tests of ``limit`` s or more.

    ``durations`` defaults to what this run recorded (node id -> set-up + call seconds).
    """
    durations = _UNMARKED_SLOW if durations is None else durations
    return sorted(((n, s) for n, s in durations.items() if s >= limit), key=lambda t: -t[1])


def pytest_terminal_summary(terminalreporter):
    """Name the tests that took ``SLOW_SECONDS`` or more without the ``slow`` marker.

    A reminder, not a failure (this machine's speed varies twofold between days): a long
    test without the marker is kept by ``pytest -m "not slow"`` and, under xdist, its file
    is not handed out first, so it may finish last while the other workers sit idle.
    """
    if hasattr(terminalreporter.config, 'workerinput'):
        return  # a pytest-xdist worker: the controller prints the run's summary
    slow = unmarked_slow_tests()
    if not slow:
        return
    terminalreporter.section(f'tests of {SLOW_SECONDS:.0f} s or more without the slow marker')
    for nodeid, seconds in slow:
        terminalreporter.write_line(f'{seconds:6.1f} s  {nodeid}')
    terminalreporter.write_line('mark each with @pytest.mark.slow (README, Tests)')


def run_python(args, cwd=REPO_ROOT, env=None, timeout=600, check=True):
    """Run ``python ARGS`` in a fresh interpreter and return the CompletedProcess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault('PYTHONUNBUFFERED', '1')
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f'python {" ".join(args)} exited {proc.returncode}\n'
            f'--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}'
        )
    return proc


def run_tool_json(args, tmp_path, name='report.json'):
    """Run a tools/analysis script with ``--json-out`` in ``tmp_path`` (one thread).

    Returns its report, after checking that the last line it printed is the same JSON.
    """
    out = tmp_path / name
    proc = run_python([*args, '--json-out', str(out)], cwd=tmp_path, env={'OMP_NUM_THREADS': '1'})
    report = json.loads(out.read_text())
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == report
    return report


@pytest.fixture
def shared_data():
    """Path of ../shared/data; skips the test when the folder is absent."""
    if not osp.isdir(SHARED_DATA):
        pytest.skip(f'real data folder {SHARED_DATA} is absent')
    return SHARED_DATA


def free_port():
    """A free TCP port on localhost (for a gloo process group's rendezvous)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def spawn_and_wait(worker, out_dir, world=2, limit_s=300):
    """Run ``worker(rank, world, port, out_dir)`` in ``world`` processes; load their results.

    Each worker saves its record to ``out_dir/rank{rank}.pt``. Fails (instead of hanging)
    if the workers do not finish in ``limit_s`` seconds.
    """
    ctx = mp.start_processes(worker, args=(world, free_port(), out_dir), nprocs=world, join=False)
    deadline = time.monotonic() + limit_s
    while not ctx.join(timeout=5):
        if time.monotonic() > deadline:
            for p in ctx.processes:
                if p.is_alive():
                    p.terminate()
            raise AssertionError(f'the {world} gloo workers did not finish in {limit_s} s')
    return [torch.load(osp.join(out_dir, f'rank{r}.pt')) for r in range(world)]
