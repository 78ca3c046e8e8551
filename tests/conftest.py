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
