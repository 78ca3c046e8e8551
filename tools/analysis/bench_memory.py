"""RAM of ``MultiSkeletonDataset`` across DataLoader workers, against its array bytes (issue 8).

Writes synthetic annotation pickles (:mod:`synthetic_skeletons`, once; skipped when
present), builds the normalised float16 caches, then iterates a ``torch`` DataLoader
(``shuffle=True``, ``persistent_workers=True``, :func:`multi_skeleton_collate`) over the
pretraining pipeline (``SampleFormatViews(rule='balanced')`` -> ``SampleSkeletonFrames`` ->
``GatherSkeletonViews`` -> ``PackMultiSkeletonInputs``). Every ~2 s and at the end it reads
``/proc/<pid>/smaps_rollup`` (and ``smaps``, to split PSS by mapping) of the main process
and of each of its descendants (the workers) and keeps the sample with the largest total
PSS.

Why PSS: a page of the page cache that ``k`` processes map (the memory-mapped
``keypoint.npy`` every worker reads, the libraries, the parent's heap shared
copy-on-write after ``fork``) is in the RSS of each of them, so summing RSS over the
workers counts it ``k`` times and grows with the number of workers even when nothing is
copied. PSS (proportional set size) charges each process ``1/k`` of such a page, so the
sum of PSS over the processes is the RAM they really hold together, each page once.
Private (``Private_Clean + Private_Dirty``) is what only one process maps (a copy made by
a worker, e.g. copy-on-write of the parent's Python objects, shows up there).

"Array bytes" is the sum of the sizes of the stores' ``keypoint.npy`` files (the float16
arrays, ``(sum_T, M, V, 3)`` per format); the ratio reported is
``peak_total_pss_bytes / array_bytes``. It includes the fixed cost of the interpreters
(Python, torch, mmengine, mmaction: some hundred MB in all), so it is a stricter test the
smaller the arrays are.

The pickles are generated one format per child process (the same seed gives every format
the same clips), and the caches are built in another child process (``--build-in-process``
builds them in this one instead, as the first training run on new data would), so the
measured processes do not carry the generator's or the cache builder's garbage.

Example:
    python tools/analysis/bench_memory.py --clips 114000 --frames 30 60 --workers 8 \
        --data-dir /tmp/synthetic_memory [--batches 600]

The last line of the output is one JSON object with ``array_bytes``,
``peak_total_pss_bytes``, ``peak_total_private_bytes``, ``ratio_pss_to_array`` and the
per-process breakdown at the peak (``processes``).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Dict, List, Sequence, Tuple

TOOLS_DIR = osp.dirname(osp.abspath(__file__))
REPO_ROOT = osp.dirname(osp.dirname(TOOLS_DIR))
sys.path.insert(0, REPO_ROOT)

ROLLUP_FIELDS = (
    'Rss',
    'Pss',
    'Pss_Anon',
    'Pss_File',
    'Pss_Shmem',
    'Shared_Clean',
    'Shared_Dirty',
    'Private_Clean',
    'Private_Dirty',
)
MAP_KINDS = ('keypoint', 'anon', 'shm', 'file')
_MAP_HEADER = re.compile(r'^[0-9a-f]+-[0-9a-f]+\s')


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; defaults to ``sys.argv[1:]``.

    Returns:
        argparse.Namespace: The options.

    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--clips', type=int, default=114000, help='clips per format')
    parser.add_argument('--frames', type=int, nargs=2, default=(30, 60), metavar=('LO', 'HI'))
    parser.add_argument('--formats', nargs='+', default=['kinect25', 'smplx42'])
    parser.add_argument('--workers', type=int, default=8)
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--batches', type=int, help='batches to iterate (default: one epoch)')
    parser.add_argument('--data-dir', default='data/synthetic_memory')
    parser.add_argument('--clip-len', type=int, default=50)
    parser.add_argument('--interval', type=float, default=2.0, help='seconds between samples')
    parser.add_argument(
        '--build-in-process',
        action='store_true',
        help='build missing caches in this process (default: in a child process)',
    )
    parser.add_argument(
        '--gc-freeze',
        action='store_true',
        help='gc.freeze() before the workers fork (diagnostic: the cyclic GC of a worker then '
        'never writes to, and so never copies, the objects inherited from this process)',
    )
    parser.add_argument('--prepare-only', action='store_true', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# ---------------------------------------------------------------------- data
def ensure_pickles(
    data_dir: str, formats: Sequence[str], clips: int, frames: Tuple[int, int]
) -> Dict[str, str]:
    """Write ``{data_dir}/{format}.pkl`` for every missing format, one child process each.

    Each child runs ``synthetic_skeletons.py`` for one format with the default seed: the
    clips (names, labels, lengths, persons) are drawn before any coordinates, so every
    format gets the same clips, and the generator's peak memory (a few copies of one
    format's frames) is never that of all formats at once.

    Args:
        data_dir (str): Folder of the pickles.
        formats (Sequence[str]): Format names.
        clips (int): Clips per format.
        frames (tuple[int, int]): Inclusive range of frames per clip.

    Returns:
        dict[str, str]: Format -> pickle path.

    """
    paths = {name: osp.join(data_dir, f'{name}.pkl') for name in formats}
    for name, path in paths.items():
        if osp.isfile(path):
            print(f'{path} exists: not regenerated', flush=True)
            continue
        t0 = time.perf_counter()
        cmd = [
            sys.executable,
            osp.join(TOOLS_DIR, 'synthetic_skeletons.py'),
            '--out-dir',
            data_dir,
            '--formats',
            name,
            '--clips',
            str(clips),
            '--frames',
            str(frames[0]),
            str(frames[1]),
            '--split',
            'xsub_train',
        ]
        subprocess.run(cmd, check=True)
        print(f'generated {path} in {time.perf_counter() - t0:.0f} s', flush=True)
    return paths


def build_dataset(paths: Dict[str, str], data_dir: str, clip_len: int):
    """``MultiSkeletonDataset`` with the pretraining pipeline, built with mmaction's registry.

    Args:
        paths (dict[str, str]): Format -> annotation pickle.
        data_dir (str): The caches go to ``{data_dir}/cache``.
        clip_len (int): Frames per view.

    Returns:
        MultiSkeletonDataset: The dataset (its caches built or opened).

    """
    import msclr_mm  # noqa: F401, I001  (first: registers the dataset, transforms)
    from mmaction.registry import DATASETS
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')
    return DATASETS.build(
        dict(
            type='MultiSkeletonDataset',
            ann_files=paths,
            split='xsub_train',
            cache_dir=osp.join(data_dir, 'cache'),
            pipeline=[
                dict(type='SampleFormatViews', rule='balanced'),
                dict(type='SampleSkeletonFrames', clip_len=clip_len),
                dict(type='GatherSkeletonViews'),
                dict(type='PackMultiSkeletonInputs'),
            ],
        )
    )


def prepare_in_child(args: argparse.Namespace) -> None:
    """Build (or open) the caches in a child process running this tool with ``--prepare-only``.

    Args:
        args (argparse.Namespace): The options (data dir, formats, sizes, clip length).

    """
    cmd = [
        sys.executable,
        osp.abspath(__file__),
        '--prepare-only',
        '--clips',
        str(args.clips),
        '--frames',
        str(args.frames[0]),
        str(args.frames[1]),
        '--data-dir',
        args.data_dir,
        '--clip-len',
        str(args.clip_len),
        '--formats',
        *args.formats,
    ]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    print(f'caches ready in {time.perf_counter() - t0:.0f} s (child process)', flush=True)


def array_bytes_of(dataset) -> Dict[str, int]:
    """Size of each store's ``keypoint.npy`` (the float16 array and its 128-byte header).

    Args:
        dataset (MultiSkeletonDataset): The dataset.

    Returns:
        dict[str, int]: Format -> bytes.

    """
    return {
        name: osp.getsize(osp.join(store.folder, 'keypoint.npy'))
        for name, store in dataset.stores.items()
    }


# ---------------------------------------------------------------------- /proc
def read_rollup(pid: int) -> Dict[str, int]:
    """The fields of ``/proc/<pid>/smaps_rollup`` in :data:`ROLLUP_FIELDS`, in bytes.

    Args:
        pid (int): Process id.

    Returns:
        dict[str, int]: Field -> bytes (fields the kernel does not report are absent).

    """
    out = {}
    with open(f'/proc/{pid}/smaps_rollup') as f:
        for line in f:
            key, _, rest = line.partition(':')
            if key in ROLLUP_FIELDS:
                out[key] = int(rest.split()[0]) * 1024
    return out


def map_kind(path: str, keypoint_files: Sequence[str]) -> str:
    """Kind of a mapping by its path: one of :data:`MAP_KINDS`.

    Args:
        path (str): The pathname column of ``/proc/<pid>/smaps`` (may be empty).
        keypoint_files (Sequence[str]): Real paths of the stores' ``keypoint.npy``.

    Returns:
        str: ``'keypoint'`` (a store's array), ``'anon'`` (heap, stacks, anonymous),
        ``'shm'`` (``/dev/shm``, memfd: tensors passed between processes) or ``'file'``
        (libraries and any other file).

    """
    if not path or path.startswith('['):
        return 'anon'
    clean = path[: -len(' (deleted)')] if path.endswith(' (deleted)') else path
    if clean in keypoint_files:
        return 'keypoint'
    if clean.startswith('/dev/shm') or clean.startswith('/memfd:'):
        return 'shm'
    return 'file'


def read_pss_by_kind(pid: int, keypoint_files: Sequence[str]) -> Dict[str, int]:
    """PSS of a process split by mapping kind (``/proc/<pid>/smaps``), in bytes.

    Args:
        pid (int): Process id.
        keypoint_files (Sequence[str]): Real paths of the stores' ``keypoint.npy``.

    Returns:
        dict[str, int]: Kind (see :func:`map_kind`) -> bytes.

    """
    out = dict.fromkeys(MAP_KINDS, 0)
    kind = 'anon'
    with open(f'/proc/{pid}/smaps') as f:
        for line in f:
            if _MAP_HEADER.match(line):
                parts = line.split(None, 5)
                kind = map_kind(parts[5].strip() if len(parts) > 5 else '', keypoint_files)
            elif line.startswith('Pss:'):
                out[kind] += int(line.split()[1]) * 1024
    return out


def descendants(pid: int) -> List[int]:
    """Every live descendant of ``pid`` (from the parent ids in ``/proc/*/stat``).

    Args:
        pid (int): The ancestor.

    Returns:
        list[int]: Descendant pids, sorted.

    """
    parent = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                stat = f.read()
        except OSError:
            continue
        parent[int(entry)] = int(stat.rsplit(')', 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        found.extend(kids)
        frontier.extend(kids)
    return sorted(found)


def sample_memory(
    main_pid: int, worker_pids: Sequence[int], keypoint_files: Sequence[str]
) -> Dict[str, object]:
    """One measurement of the main process and its descendants.

    Args:
        main_pid (int): The main process.
        worker_pids (Sequence[int]): The DataLoader workers' pids (to label the roles).
        keypoint_files (Sequence[str]): Real paths of the stores' ``keypoint.npy``.

    Returns:
        dict: ``processes`` (one dict per process: ``pid``, ``role``, the rollup fields in
        bytes, ``private``, and ``pss_<kind>`` per mapping kind) and the totals
        ``total_pss``, ``total_private``, ``total_rss``, ``max_rss``, ``total_pss_<kind>``.

    """
    procs = []
    for pid in [main_pid, *descendants(main_pid)]:
        try:
            row = dict(pid=pid, role='main' if pid == main_pid else 'child')
            if pid in worker_pids:
                row['role'] = 'worker'
            row.update(read_rollup(pid))
            row.update({f'pss_{k}': v for k, v in read_pss_by_kind(pid, keypoint_files).items()})
        except (OSError, ValueError):  # the process ended between the listing and the read
            continue
        row['private'] = row.get('Private_Clean', 0) + row.get('Private_Dirty', 0)
        procs.append(row)
    totals = dict(
        total_pss=sum(p.get('Pss', 0) for p in procs),
        total_private=sum(p['private'] for p in procs),
        total_rss=sum(p.get('Rss', 0) for p in procs),
        max_rss=max((p.get('Rss', 0) for p in procs), default=0),
    )
    for kind in MAP_KINDS:
        totals[f'total_pss_{kind}'] = sum(p[f'pss_{kind}'] for p in procs)
    return dict(processes=procs, **totals)


# ---------------------------------------------------------------------- run
def gib(n: float) -> str:
    """Format a byte count as GiB.

    Args:
        n (float): Bytes.

    Returns:
        str: e.g. ``'3.21 GiB'``.

    """
    return f'{n / 2**30:.2f} GiB'


def measure(args: argparse.Namespace, dataset) -> Dict[str, object]:
    """Iterate the DataLoader and sample the memory of every process.

    Args:
        args (argparse.Namespace): The options.
        dataset (MultiSkeletonDataset): The dataset.

    Returns:
        dict: The report (see the module docstring).

    """
    from torch.utils.data import DataLoader

    from msclr_mm.datasets.transforms.formatting import multi_skeleton_collate

    per_format = array_bytes_of(dataset)
    array_bytes = sum(per_format.values())
    keypoint_files = [
        osp.realpath(osp.join(s.folder, 'keypoint.npy')) for s in dataset.stores.values()
    ]
    loader = DataLoader(
        dataset,
        batch_size=args.batch_size,
        shuffle=True,
        num_workers=args.workers,
        persistent_workers=args.workers > 0,
        collate_fn=multi_skeleton_collate,
    )
    target = max(1, args.batches if args.batches is not None else len(loader))
    main_pid = os.getpid()
    timeline, peak, peak_private, max_rss = [], None, 0, 0

    def record(batches: int, t: float, worker_pids: Sequence[int]) -> None:
        nonlocal peak, peak_private, max_rss
        s = sample_memory(main_pid, worker_pids, keypoint_files)
        timeline.append(
            dict(
                t=round(t, 1),
                batches=batches,
                total_pss=s['total_pss'],
                total_private=s['total_private'],
                total_pss_keypoint=s['total_pss_keypoint'],
            )
        )
        if peak is None or s['total_pss'] > peak['total_pss']:
            peak = dict(s, t=round(t, 1), batches=batches)
        peak_private = max(peak_private, s['total_private'])
        max_rss = max(max_rss, s['max_rss'])

    if args.gc_freeze:
        gc.collect()
        gc.freeze()
    start = time.perf_counter()
    done, last, worker_pids = 0, -math.inf, []
    rows = 0
    while done < target:
        it = iter(loader)  # persistent workers: the same processes every epoch
        worker_pids = [w.pid for w in getattr(it, '_workers', [])]
        if not timeline:
            record(0, time.perf_counter() - start, worker_pids)
            start_sample = dict(timeline[0])
            last = time.perf_counter()
        for batch in it:
            done += 1
            rows += len(batch['data_samples'])
            del batch
            now = time.perf_counter()
            if now - last >= args.interval:
                record(done, now - start, worker_pids)
                last = now
                print(
                    f'[{now - start:6.0f} s] batch {done}/{target}: total PSS '
                    f'{gib(timeline[-1]["total_pss"])} '
                    f'({timeline[-1]["total_pss"] / array_bytes:.3f} x arrays)',
                    flush=True,
                )
            if done >= target:
                break
    seconds = time.perf_counter() - start
    record(done, seconds, worker_pids)  # the end, workers still alive (persistent)
    del it, loader
    return dict(
        clips=args.clips,
        dataset_clips=dataset.num_clips,
        dataset_len=len(dataset),
        formats=list(args.formats),
        frames=list(args.frames),
        frames_total={n: int(s.keypoint.shape[0]) for n, s in dataset.stores.items()},
        array_bytes=array_bytes,
        array_bytes_per_format=per_format,
        peak_total_pss_bytes=peak['total_pss'],
        peak_total_private_bytes=peak_private,
        max_rss_bytes=max_rss,
        ratio_pss_to_array=peak['total_pss'] / array_bytes,
        peak_at=dict(t=peak['t'], batches=peak['batches']),
        peak_total_rss_bytes=peak['total_rss'],
        peak_total_pss_by_kind={k: peak[f'total_pss_{k}'] for k in MAP_KINDS},
        start_total_pss_bytes=start_sample['total_pss'],
        processes=peak['processes'],
        workers=args.workers,
        gc_freeze=args.gc_freeze,
        batch_size=args.batch_size,
        batches=done,
        samples=rows,
        epoch_batches=math.ceil(len(dataset) / args.batch_size),
        memory_samples=len(timeline),
        seconds=round(seconds, 1),
        timeline=timeline,
    )


def summary(report: Dict[str, object]) -> str:
    """Readable lines of the report.

    Args:
        report (dict): What :func:`measure` returns.

    Returns:
        str: The summary.

    """
    a = report['array_bytes']
    lines = [
        f'{report["clips"]} clips x {len(report["formats"])} formats {report["formats"]}, '
        f'{report["frames"][0]}-{report["frames"][1]} frames; {report["workers"]} workers, '
        f'{report["batches"]} batches of {report["batch_size"]} in {report["seconds"]:.0f} s',
        f'array bytes (keypoint.npy): {gib(a)}',
        f'peak total PSS: {gib(report["peak_total_pss_bytes"])} = '
        f'{report["ratio_pss_to_array"]:.3f} x arrays (at batch {report["peak_at"]["batches"]})',
        '  by mapping: '
        + ', '.join(f'{k} {gib(v)}' for k, v in report['peak_total_pss_by_kind'].items()),
        f'before the first batch: total PSS {gib(report["start_total_pss_bytes"])}',
        f'peak total private: {gib(report["peak_total_private_bytes"])}; '
        f'max RSS of one process: {gib(report["max_rss_bytes"])}; '
        f'sum of RSS at the peak: {gib(report["peak_total_rss_bytes"])} (double counts)',
        f'{"pid":>8} {"role":>6} {"RSS":>10} {"PSS":>10} {"private":>10} '
        f'{"PSS keypoint":>13} {"PSS anon":>10} {"PSS file":>10} {"PSS shm":>10}',
    ]
    for p in report['processes']:
        lines.append(
            f'{p["pid"]:>8} {p["role"]:>6} {gib(p.get("Rss", 0)):>10} {gib(p.get("Pss", 0)):>10} '
            f'{gib(p["private"]):>10} {gib(p["pss_keypoint"]):>13} {gib(p["pss_anon"]):>10} '
            f'{gib(p["pss_file"]):>10} {gib(p["pss_shm"]):>10}'
        )
    return '\n'.join(lines)


def main(argv=None) -> Dict[str, object]:
    """Command-line entry point: prepare the data, measure, print the summary and JSON.

    Args:
        argv (list[str], optional): Arguments; defaults to ``sys.argv[1:]``.

    Returns:
        dict: The report (``None`` with ``--prepare-only``).

    """
    args = parse_args(argv)
    if not osp.exists('/proc/self/smaps_rollup'):
        sys.exit('bench_memory.py needs Linux /proc/<pid>/smaps_rollup (kernel >= 4.14)')
    paths = ensure_pickles(args.data_dir, args.formats, args.clips, tuple(args.frames))
    if args.prepare_only:
        build_dataset(paths, args.data_dir, args.clip_len)
        return None
    if not args.build_in_process:
        prepare_in_child(args)
    t0 = time.perf_counter()
    dataset = build_dataset(paths, args.data_dir, args.clip_len)
    print(f'dataset: {len(dataset)} samples, opened in {time.perf_counter() - t0:.1f} s')
    report = measure(args, dataset)
    print(summary(report))
    print(json.dumps(report))
    return report


if __name__ == '__main__':
    main()
