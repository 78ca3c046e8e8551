"""Helpers shared by the dataset tools in ``tools/data/``: safe outputs, inputs, labels.

Every tool refuses to overwrite an existing output unless asked, writes atomically (a
temporary file in the output folder, then :func:`os.replace`), never opens an input for
writing, and reports bad input with a :class:`ConversionError` that names the file, the
sample and the field.
"""

from __future__ import annotations

import csv
import os
import os.path as osp
import pickle
import sys
import tempfile
from typing import Any, Callable, Dict, Iterable, List, Sequence, Tuple


class ConversionError(ValueError):
    """Bad input for a dataset tool; the message names the file, sample and field."""


def check_outputs(paths: Sequence[str], overwrite: bool = False) -> None:
    """Refuse to go on when an output exists and ``overwrite`` is not set.

    Args:
        paths (Sequence[str]): Output files the tool is about to write.
        overwrite (bool): Allow replacing existing files. Defaults to False.

    Raises:
        ConversionError: Listing every existing output.

    """
    existing = [p for p in paths if osp.exists(p)]
    if existing and not overwrite:
        raise ConversionError(
            f'output file(s) already exist: {existing}; pass --overwrite to replace them '
            '(nothing was written)'
        )


def atomic_pickle(obj: Any, path: str) -> None:
    """Pickle ``obj`` to ``path`` atomically (temporary file in the same folder + replace).

    Args:
        obj (Any): The object to write.
        path (str): Destination; its folder is created when missing.

    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + osp.basename(path) + '.', suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise


def list_inputs(src: str, suffixes: Tuple[str, ...], what: str) -> List[str]:
    """Sorted files with one of ``suffixes`` directly inside folder ``src``.

    Args:
        src (str): Input folder.
        suffixes (tuple[str, ...]): Accepted endings, e.g. ``('.skeleton',)``.
        what (str): What the files are, for messages (e.g. ``'NTU .skeleton files'``).

    Returns:
        list[str]: Full paths, sorted by name.

    Raises:
        ConversionError: When ``src`` is not a folder or holds no such file.

    """
    if not osp.isdir(src):
        raise ConversionError(f'input folder {src} does not exist (expected {what})')
    files = sorted(
        osp.join(src, n)
        for n in os.listdir(src)
        if n.endswith(suffixes) and osp.isfile(osp.join(src, n))
    )
    if not files:
        raise ConversionError(f'input folder {src} holds no {what} (files ending in {suffixes})')
    return files


def read_labels_csv(path: str, extra_columns: bool = True) -> Dict[str, Dict[str, str]]:
    """Read a labels CSV with a header row holding at least ``filename`` and ``label``.

    ``filename`` may be given with or without its extension; rows are keyed by the name
    without extension. Further columns (e.g. ``split``) are kept as strings.

    Args:
        path (str): The CSV file.
        extra_columns (bool): Keep columns other than ``filename``/``label``. Defaults to
            True.

    Returns:
        dict[str, dict[str, str]]: ``{stem: {'label': '3', ...}}``.

    Raises:
        ConversionError: Missing file or columns, an empty file, a non-integer or negative
            label, or a file listed twice (the message names the CSV line).

    """
    if not osp.isfile(path):
        raise ConversionError(f'labels file {path} does not exist')
    rows: Dict[str, Dict[str, str]] = {}
    with open(path, newline='') as f:
        reader = csv.DictReader(f)
        fields = [c.strip() for c in (reader.fieldnames or [])]
        missing = [c for c in ('filename', 'label') if c not in fields]
        if missing:
            raise ConversionError(
                f'labels file {path}: header {fields} lacks column(s) {missing}; expected '
                "a first row like 'filename,label[,split]'"
            )
        for line_no, raw in enumerate(reader, start=2):
            row = {(k or '').strip(): (v or '').strip() for k, v in raw.items()}
            name = osp.splitext(osp.basename(row['filename']))[0]
            if not name:
                raise ConversionError(f'labels file {path} line {line_no}: empty filename')
            label = row['label']
            try:
                value = int(label)
            except ValueError:
                value = -1
            if value < 0 or str(value) != label.lstrip('+'):
                raise ConversionError(
                    f'labels file {path} line {line_no} ({name}): label {label!r} is not a '
                    'non-negative integer'
                )
            if name in rows:
                raise ConversionError(f'labels file {path} line {line_no}: {name} listed twice')
            keep = {'label': label}
            if extra_columns:
                keep.update({k: v for k, v in row.items() if k not in ('filename', 'label')})
            rows[name] = keep
    if not rows:
        raise ConversionError(f'labels file {path} has a header but no rows')
    return rows


def splits_from_labels(rows: Dict[str, Dict[str, str]], names: Iterable[str]) -> Dict[str, list]:
    """Build ``{split_name: [frame_dir, ...]}`` from the ``split...`` columns of a labels CSV.

    A column named ``split`` gives each clip's split name (e.g. ``train``/``val``); any
    other column whose name starts with ``split`` (e.g. ``split_xsub``) gives one split
    name per clip as well. Empty cells leave the clip out of that split.

    Args:
        rows (dict): As returned by :func:`read_labels_csv`.
        names (Iterable[str]): The clips actually written, in output order.

    Returns:
        dict[str, list[str]]: Split name to clip names, in output order.

    """
    splits: Dict[str, list] = {}
    for name in names:
        for key, value in rows[name].items():
            if key.startswith('split') and value:
                splits.setdefault(value, []).append(name)
    return splits


def run_per_file(
    func: Callable[[Any], Any], items: Sequence[Any], workers: int, desc: str
) -> List[Any]:
    """Map ``func`` over ``items`` with a progress bar, in a process pool when ``workers > 1``.

    Args:
        func (Callable): A picklable top-level function of one item.
        items (Sequence): Work items (e.g. file paths).
        workers (int): Processes; 1 runs in this process.
        desc (str): Progress bar label.

    Returns:
        list: ``func(item)`` for each item, in input order.

    """
    from tqdm import tqdm

    bar = dict(total=len(items), desc=desc, file=sys.stderr, unit='file', dynamic_ncols=True)
    if workers <= 1 or len(items) <= 1:
        return [func(it) for it in tqdm(items, **bar)]
    import multiprocessing as mp

    with mp.get_context('fork').Pool(min(workers, len(items))) as pool:
        return list(tqdm(pool.imap(func, items, chunksize=1), **bar))


def fail(message: str, code: int = 1) -> int:
    """Print ``error: message`` to stderr and return ``code`` (for ``sys.exit(main())``).

    Args:
        message (str): What went wrong.
        code (int): Exit status. Defaults to 1.

    Returns:
        int: ``code``.

    """
    print(f'error: {message}', file=sys.stderr)
    return code
