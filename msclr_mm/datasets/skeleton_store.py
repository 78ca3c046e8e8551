"""`SkeletonStore`: one format's normalised keypoints, float16, memory-mapped from a cache.

The cache of one annotation file in one format is a folder
``{cache_dir}/{format}-{key}/`` with

* ``keypoint.npy``: float16 ``(sum_T, num_person, V, 3)``, every clip's frames one after
  the other (already normalised, see :mod:`msclr_mm.datasets.normalize`);
* ``nonempty.npy``: bool ``(sum_T,)``, whether the frame holds a present joint of any
  person (frames without a detection or a body are stored as zeros);
* ``meta.npz``: ``frame_dir`` (str), ``label``, ``total_frames``, ``valid_frames`` (frames
  up to the last non-empty one) and ``offsets`` (``n + 1``; clip ``i`` is rows
  ``offsets[i]:offsets[i + 1]``) as int64, and ``split`` (JSON text).

``key`` hashes the file's fingerprint (size, mtime, first and last MiB), the format's
declaration and the normalisation settings, so a changed file, format or setting builds a
new cache. The cache is written atomically (a temporary folder renamed into place), so
concurrent builders (distributed ranks) never read a half-written one.

The keypoints are opened with ``np.load(mmap_mode='r')``: DataLoader workers share the
page cache instead of copying the array, and the store pickles as its path (spawned
workers re-open the map) and deep-copies as itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Any, Dict

import numpy as np

from ..skeletons import SkeletonFormat
from .annotations import (
    AnnotationError,
    file_fingerprint,
    load_annotation_file,
    validate_annotations,
)
from .normalize import NORMALIZATION_VERSION, normalize_clip

#: Layout of a cache folder (2: with ``nonempty.npy``); part of the cache key.
STORE_VERSION = 2


def default_cache_dir() -> str:
    """``$MSCLR_MM_CACHE_DIR`` or ``{tempdir}/msclr_mm_cache``.

    Returns:
        str: The folder.

    """
    return os.environ.get('MSCLR_MM_CACHE_DIR') or osp.join(tempfile.gettempdir(), 'msclr_mm_cache')


def cache_key(path: str, fmt: SkeletonFormat, settings: Dict[str, Any]) -> str:
    """Hash of the file's fingerprint, the format declaration and the settings.

    Args:
        path (str): The annotation file.
        fmt (SkeletonFormat): Its format.
        settings (dict): Normalisation settings (JSON-serialisable).

    Returns:
        str: 20 hex characters.

    """
    blob = json.dumps(
        dict(
            file=file_fingerprint(path),
            fmt=fmt.to_dict(),
            settings=settings,
            version=NORMALIZATION_VERSION,
            layout=STORE_VERSION,
        ),
        sort_keys=True,
    )
    return hashlib.sha1(blob.encode()).hexdigest()[:20]


class SkeletonStore:
    """Read-only, memory-mapped normalised keypoints of one annotation file in one format.

    Args:
        folder (str): A cache folder written by :func:`build_store`.
        fmt (SkeletonFormat): The format.

    Attributes:
        keypoint (np.memmap): float16 ``(sum_T, M, V, 3)``.
        offsets (np.ndarray): int64 ``(n + 1,)``.
        frame_dir (np.ndarray): str ``(n,)``.
        label, total_frames, valid_frames (np.ndarray): int64 ``(n,)``.
        nonempty (np.memmap): bool ``(sum_T,)``: the frame holds a present joint.
        split (dict[str, list[str]]): The file's splits.

    """

    def __init__(self, folder: str, fmt: SkeletonFormat) -> None:
        self.folder = folder
        self.fmt = fmt
        self._open()

    def _open(self) -> None:
        self.keypoint = np.load(osp.join(self.folder, 'keypoint.npy'), mmap_mode='r')
        self.nonempty = np.load(osp.join(self.folder, 'nonempty.npy'), mmap_mode='r')
        with np.load(osp.join(self.folder, 'meta.npz'), allow_pickle=False) as meta:
            self.offsets = meta['offsets']
            self.frame_dir = meta['frame_dir']
            self.label = meta['label']
            self.total_frames = meta['total_frames']
            self.valid_frames = meta['valid_frames']
            self.split = json.loads(str(meta['split']))
        self.row_of = {str(fd): i for i, fd in enumerate(self.frame_dir)}

    def __len__(self) -> int:
        return len(self.frame_dir)

    def clip(self, row: int) -> np.ndarray:
        """Frames of clip ``row``: a float16 view ``(T, M, V, 3)`` (no copy).

        Args:
            row (int): The clip's row in this store.

        Returns:
            np.ndarray: The view.

        """
        return self.keypoint[self.offsets[row] : self.offsets[row + 1]]

    def frames_present(self, row: int) -> np.ndarray:
        """Which frames of clip ``row`` hold a present joint: a bool view ``(T,)``.

        Args:
            row (int): The clip's row in this store.

        Returns:
            np.ndarray: The view (no copy).

        """
        return self.nonempty[self.offsets[row] : self.offsets[row + 1]]

    def __getstate__(self) -> Dict[str, Any]:
        return dict(folder=self.folder, fmt=self.fmt)

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.folder, self.fmt = state['folder'], state['fmt']
        self._open()

    def __deepcopy__(self, memo: Dict[int, Any]) -> SkeletonStore:
        return self  # read-only: subsets share it


def build_store(
    path: str,
    fmt: SkeletonFormat,
    cache_dir: str | None = None,
    num_person: int = 2,
    normalize: bool = True,
    align: bool | str = True,
    center: str = 'clip',
) -> SkeletonStore:
    """Open the cache of ``path`` in ``fmt``, building it first when absent.

    Building loads the pickle safely, validates it (raising the first
    :class:`~msclr_mm.datasets.AnnotationError`), normalises every clip and writes the
    cache atomically.

    Args:
        path (str): The annotation pickle.
        fmt (SkeletonFormat): Its format.
        cache_dir (str, optional): Where caches live. Defaults to :func:`default_cache_dir`.
        num_person (int): Persons kept/padded to. Defaults to 2.
        normalize (bool): Apply the canonical normalisation (else only 2D channel packing
            and person padding). Defaults to True.
        align (bool | str): The 3D facing rotation: True / ``'clip'``, ``'frame'`` (plus a
            per-frame turn about the vertical) or False. Defaults to True.
        center (str): ``'clip'`` or ``'frame'`` (see :func:`normalize_clip`). Defaults to
            ``'clip'``.

    Returns:
        SkeletonStore: The opened store.

    """
    cache_dir = cache_dir or default_cache_dir()
    settings = dict(num_person=num_person, normalize=normalize, align=align)
    if center != 'clip':  # (absent for the default: the existing caches keep their key)
        settings['center'] = center
    if not osp.isfile(path):
        raise AnnotationError(
            path, 'file not found; expected an annotation pickle (.pkl)', fmt=fmt.name
        )
    folder = osp.join(cache_dir, f'{fmt.name}-{cache_key(path, fmt, settings)}')
    if osp.isfile(osp.join(folder, 'meta.npz')):
        return SkeletonStore(folder, fmt)

    data = load_annotation_file(path)
    validate_annotations(data, fmt, path)
    anns = data['annotations']
    n = len(anns)
    lengths = np.array([a['total_frames'] for a in anns], np.int64)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    os.makedirs(cache_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'.{fmt.name}-', dir=cache_dir)
    try:
        kp = np.lib.format.open_memmap(
            osp.join(tmp, 'keypoint.npy'),
            mode='w+',
            dtype=np.float16,
            shape=(int(offsets[-1]), num_person, fmt.num_joints, 3),
        )
        present = np.lib.format.open_memmap(
            osp.join(tmp, 'nonempty.npy'), mode='w+', dtype=np.bool_, shape=(int(offsets[-1]),)
        )
        valid = np.zeros(n, np.int64)
        for i, a in enumerate(anns):
            clip = normalize_clip(
                a['keypoint'],
                fmt,
                keypoint_score=a.get('keypoint_score'),
                img_shape=a.get('img_shape'),
                num_person=num_person,
                align=align,
                raw=not normalize,
                center=center,
            )
            clip = clip.transpose(1, 0, 2, 3)  # (T, M, V, 3)
            frames = np.any(clip != 0, axis=(1, 2, 3))
            nonempty = np.flatnonzero(frames)
            valid[i] = nonempty[-1] + 1 if len(nonempty) else len(clip)
            kp[offsets[i] : offsets[i + 1]] = clip
            present[offsets[i] : offsets[i + 1]] = frames
        kp.flush()
        present.flush()
        del kp, present
        np.savez(
            osp.join(tmp, 'meta.npz'),
            offsets=offsets,
            frame_dir=np.array([a['frame_dir'] for a in anns], dtype=str),
            label=np.array([a['label'] for a in anns], np.int64),
            total_frames=lengths,
            valid_frames=valid,
            split=np.array(json.dumps({k: list(v) for k, v in data['split'].items()})),
        )
        try:
            os.rename(tmp, folder)
        except OSError:  # another process finished first
            if not osp.isfile(osp.join(folder, 'meta.npz')):
                raise
    finally:
        if osp.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return SkeletonStore(folder, fmt)
