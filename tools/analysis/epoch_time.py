r"""Training speed of a ``tools/train.py`` run, from what it logged: the epoch time.

Reads the newest run under a work directory (``WORK_DIR/<timestamp>/vis_data/scalars.json``,
the ``<timestamp>.log`` beside it and the config mmengine dumped into ``WORK_DIR``) and
reports, as JSON (the last output line), the mean iteration time after the first logged
rows (the compilation and CUDA-graph captures of the first steps), the sequences per second
it means (batch size / mean iteration time) and the epoch time it gives (iterations per
epoch x mean iteration time), next to how far the run got. It works on a run stopped by a
time limit: whatever was logged counts.

mmengine logs ``time`` (and ``data_time``) as a mean over the last
``log_processor.window_size`` iterations at every ``default_hooks.logger.interval``-th
iteration; with the two equal (``gpu_suite.sh``'s epoch stage sets both), the logged rows
average every iteration exactly once (``window_matches_interval``); with a smaller window
they are a sample, with a larger one they overlap, and the first rows used may then still
hold the first, slow iterations.

Example:
    python tools/train.py CONFIG --work-dir work_dirs/epoch --cfg-options \
        train_cfg.max_epochs=1 default_hooks.logger.interval=50 log_processor.window_size=50
    python tools/analysis/epoch_time.py work_dirs/epoch --json-out epoch.json
"""

import argparse
import glob
import json
import os
import os.path as osp
import re

# "Epoch(train)  [1][ 50/625]" in mmengine's training log lines
_TRAIN_LINE = re.compile(r'Epoch\(train\)\s*\[(\d+)\]\[\s*(\d+)/(\d+)\]')


def newest_run(work_dir):
    """The newest ``<timestamp>`` directory of ``work_dir`` that has a training log.

    Raises:
        FileNotFoundError: ``work_dir`` holds no ``<timestamp>/<timestamp>.log``.
    """
    runs = sorted(
        d
        for d in glob.glob(osp.join(work_dir, '*'))
        if osp.isfile(osp.join(d, f'{osp.basename(d)}.log'))
    )
    if not runs:
        raise FileNotFoundError(f'{work_dir}: no run (<timestamp>/<timestamp>.log) found')
    return runs[-1]


def read_scalars(path):
    """The training rows of an mmengine ``scalars.json`` (one JSON object per line).

    Rows of validation or test (no ``time`` or no ``iter`` key) are left out; a last line
    cut off by a killed process is ignored.
    """
    rows = []
    with open(path) as f:
        for line in f:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line the killed run did not finish writing
            if 'time' in row and 'iter' in row and 'epoch' in row:
                rows.append(row)
    return rows


def iters_per_epoch(log_path):
    """Iterations per epoch, from the ``[epoch][i/N]`` of the training log lines (or None)."""
    with open(log_path, errors='replace') as f:
        for line in f:
            m = _TRAIN_LINE.search(line)
            if m:
                return int(m.group(3))
    return None


def dumped_config(work_dir):
    """The config mmengine dumped into ``work_dir`` (``WORK_DIR/<name>.py``), or None.

    None when ``work_dir`` holds no ``.py`` file or several (which one ran is then unknown).
    """
    from mmengine.config import Config

    configs = glob.glob(osp.join(work_dir, '*.py'))
    return Config.fromfile(configs[0]) if len(configs) == 1 else None


def epoch_time(work_dir, skip_rows=1, batch_size=None):
    """Summarise the newest run of ``work_dir`` (see the module doc).

    Args:
        work_dir (str): the ``--work-dir`` of ``tools/train.py``.
        skip_rows (int): logged rows left out of the mean, from the start. Defaults to 1
            (the first interval, which holds the compilation and graph captures).
        batch_size (int, optional): sequences per iteration. Defaults to None: the dumped
            config's ``train_dataloader.batch_size``.

    Returns:
        dict: ``run`` (the run's directory), ``iters_logged`` (the last logged
        iteration), ``iters_per_epoch``, ``epochs_logged`` (complete epochs, fractional),
        ``rows`` / ``rows_used`` (logged rows / rows in the mean), ``first_rows_time_s``
        (``time`` of the skipped rows), ``mean_iter_s`` and ``mean_data_time_s`` (mean of
        the used rows' ``time`` / ``data_time``), ``window_matches_interval`` (whether each
        row averages exactly the iterations of its interval), and, when the batch size is known,
        ``batch_size`` and ``seq_per_s``; with ``iters_per_epoch`` known,
        ``epoch_s_from_mean`` (``iters_per_epoch * mean_iter_s``: the epoch time without
        the first interval's one-time costs).

    Raises:
        FileNotFoundError: no run, or the run has no ``vis_data/scalars.json``.
        ValueError: fewer than ``skip_rows + 1`` training rows were logged.
    """
    run = newest_run(work_dir)
    scalars = osp.join(run, 'vis_data', 'scalars.json')
    if not osp.isfile(scalars):
        raise FileNotFoundError(f'{scalars}: missing (did the run log any training iteration?)')
    rows = read_scalars(scalars)
    if len(rows) <= skip_rows:
        raise ValueError(
            f'{scalars}: {len(rows)} training row(s) logged; need more than skip_rows={skip_rows}'
        )
    used = rows[skip_rows:]
    n_iter = iters_per_epoch(osp.join(run, f'{osp.basename(run)}.log'))
    gaps = {b['iter'] - a['iter'] for a, b in zip(rows, rows[1:]) if b['epoch'] == a['epoch']}
    cfg = dumped_config(work_dir)
    # mmengine's LogProcessor default window is 10
    window = cfg.get('log_processor', {}).get('window_size', 10) if cfg else None
    mean_iter = sum(r['time'] for r in used) / len(used)
    report = dict(
        run=run,
        iters_logged=rows[-1]['iter'],
        iters_per_epoch=n_iter,
        epochs_logged=rows[-1]['iter'] / n_iter if n_iter else None,
        rows=len(rows),
        rows_used=len(used),
        first_rows_time_s=[r['time'] for r in rows[:skip_rows]],
        mean_iter_s=mean_iter,
        mean_data_time_s=sum(r.get('data_time', 0.0) for r in used) / len(used),
        window_matches_interval=bool(gaps) and window == max(gaps),
    )
    batch_size = batch_size or (cfg.train_dataloader.batch_size if cfg else None)
    if batch_size:
        report.update(batch_size=batch_size, seq_per_s=batch_size / mean_iter)
    if n_iter:
        report['epoch_s_from_mean'] = n_iter * mean_iter
    return report


def main(argv=None):
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dir', help="tools/train.py's --work-dir")
    parser.add_argument('--skip-rows', type=int, default=1, help='first logged rows left out')
    parser.add_argument('--batch-size', type=int, default=None, help="default: the config's")
    parser.add_argument('--json-out', default=None, help='also write the report to this file')
    args = parser.parse_args(argv)
    report = epoch_time(args.work_dir, args.skip_rows, args.batch_size)
    if args.json_out:
        tmp = f'{args.json_out}.tmp'
        with open(tmp, 'w') as f:
            json.dump(report, f, indent=1)
        os.replace(tmp, args.json_out)
    print(json.dumps(report))


if __name__ == '__main__':
    main()
