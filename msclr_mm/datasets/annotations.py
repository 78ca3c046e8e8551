"""Safe loading and validation of pyskl/mmaction2 skeleton annotation pickles.

One pickle holds one skeleton convention::

    {'split': {name: [frame_dir, ...]},
     'annotations': [{'frame_dir': str, 'label': int, 'total_frames': int,
                      'keypoint': ndarray (M, T, V, C),
                      'keypoint_score': ndarray (M, T, V),   # 2D only
                      'img_shape': (H, W)}, ...]}            # 2D only

:func:`load_annotation_file` reads it with a restricted unpickler (containers, numbers,
strings and numpy arrays only; nothing is called or imported otherwise),
:func:`validate_annotations` checks it against a :class:`~msclr_mm.skeletons.SkeletonFormat`
and :func:`check_alignment` checks that the formats of one clip agree (frames, label).
Every problem is an :class:`AnnotationError` naming the file, the sample (``frame_dir``),
the format and the field, and saying what was expected.
"""

from __future__ import annotations

import io
import numbers
import os
import os.path as osp
import pickle
from typing import Any, Dict, List, Mapping

import numpy as np

from ..skeletons import SkeletonFormat, get_format

__all__ = [
    'AnnotationError',
    'UnsafePickleError',
    'load_annotation_file',
    'validate_annotations',
    'check_alignment',
    'keypoint_channels',
    'file_fingerprint',
]


class AnnotationError(ValueError):
    """A problem in an annotation file; the message names file, sample, format and field.

    Args:
        path (str): The annotation file.
        problem (str): What is wrong and what was expected.
        frame_dir (str, optional): The sample, when the problem belongs to one.
        field (str, optional): The key of the annotation (``'keypoint'``, ``'label'``, ...).
        fmt (str, optional): The skeleton format name.

    """

    def __init__(
        self,
        path: str,
        problem: str,
        frame_dir: str | None = None,
        field: str | None = None,
        fmt: str | None = None,
    ) -> None:
        self.path = str(path)
        self.problem = problem
        self.frame_dir = frame_dir
        self.field = field
        self.fmt = fmt
        where = [self.path]
        if frame_dir is not None:
            where.append(f'sample {frame_dir!r}')
        if fmt is not None:
            where.append(f'format {fmt!r}')
        if field is not None:
            where.append(f'field {field!r}')
        super().__init__(', '.join(where) + ': ' + problem)


class UnsafePickleError(AnnotationError):
    """The pickle asks to import or call something other than containers and numpy arrays."""


# (module, name) pairs the restricted unpickler resolves; everything else is refused.
_SAFE_BUILTINS = {
    'dict', 'list', 'tuple', 'set', 'frozenset', 'int', 'float', 'complex', 'str', 'bytes',
    'bytearray', 'bool', 'slice', 'range',
}  # fmt: skip
_SAFE_GLOBALS = {
    ('collections', 'OrderedDict'),
    ('collections', 'defaultdict'),
    ('_codecs', 'encode'),  # protocol-2 pickles of bytes
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
}
for _mod in ('numpy.core', 'numpy._core'):
    _SAFE_GLOBALS |= {
        (f'{_mod}.multiarray', '_reconstruct'),
        (f'{_mod}.multiarray', 'scalar'),
        (f'{_mod}.numeric', '_frombuffer'),
    }


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only resolves the containers, numbers and numpy pieces listed above."""

    def __init__(self, file: io.BufferedIOBase, path: str) -> None:
        super().__init__(file)
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        if module == 'builtins' and name in _SAFE_BUILTINS:
            return super().find_class(module, name)
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        if module == 'numpy' and isinstance(getattr(np, name, None), type):
            cls = getattr(np, name)
            if issubclass(cls, np.generic):  # scalar types such as numpy.float32
                return cls
        if module == 'numpy.dtypes' and name.endswith('DType'):
            return super().find_class(module, name)
        raise UnsafePickleError(
            self._path,
            f'refusing to load {module}.{name}: an annotation pickle may only hold dicts, '
            'lists, tuples, numbers, strings and numpy arrays; a pickle that imports or calls '
            'anything else could run code. Convert the file with plain containers.',
        )


def load_annotation_file(path: str) -> Dict[str, Any]:
    """Load an annotation pickle safely (restricted unpickler).

    Args:
        path (str): A ``.pkl`` file in the pyskl/mmaction2 annotation format.

    Returns:
        dict: The unpickled object, checked to be a dict with ``'split'`` (a dict of lists)
        and ``'annotations'`` (a list of dicts).

    Raises:
        AnnotationError: The file is missing, truncated, not a pickle, or lacks the keys.
        UnsafePickleError: The pickle refers to anything outside the allowed types.

    """
    path = str(path)
    if not osp.isfile(path):
        raise AnnotationError(path, 'file not found; expected an annotation pickle (.pkl)')
    with open(path, 'rb') as f:
        try:
            data = _RestrictedUnpickler(f, path).load()
        except UnsafePickleError:
            raise
        except EOFError as exc:
            raise AnnotationError(
                path, f'the file ends early (truncated pickle?): {exc or "EOF"}'
            ) from exc
        except (pickle.UnpicklingError, ValueError, TypeError, AttributeError,
                IndexError, KeyError, MemoryError, UnicodeDecodeError) as exc:  # fmt: skip
            raise AnnotationError(
                path,
                f'not a readable pickle ({type(exc).__name__}: {exc}); expected a '
                "pickled dict with 'split' and 'annotations'",
            ) from exc
    if not isinstance(data, dict):
        raise AnnotationError(
            path,
            f"top level is a {type(data).__name__}; expected a dict with 'split' and 'annotations'",
        )
    for key, kind in (('split', dict), ('annotations', list)):
        if key not in data:
            raise AnnotationError(
                path,
                f'missing top-level key {key!r}; expected keys '
                "'split' (dict of name -> [frame_dir, ...]) and 'annotations' (list of dicts)",
                field=key,
            )
        if not isinstance(data[key], kind):
            raise AnnotationError(
                path, f'is a {type(data[key]).__name__}; expected a {kind.__name__}', field=key
            )
    return data


def keypoint_channels(ann: Mapping[str, Any], fmt: SkeletonFormat) -> int:
    """Coordinate channels stored in ``ann['keypoint']`` that the format expects.

    Args:
        ann (Mapping): One annotation.
        fmt (SkeletonFormat): Its format.

    Returns:
        int: ``fmt.dim`` (3 for 3D; 2 for 2D with a separate ``keypoint_score``), or 3 for a
        2D annotation without ``keypoint_score`` whose keypoints already carry the score as
        the third channel.

    """
    if fmt.is_2d and 'keypoint_score' not in ann:
        return 3
    return fmt.dim


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_one(ann: Any, k: int, fmt: SkeletonFormat, path: str) -> None:
    """Raise the first problem of annotation number ``k``."""
    name = fmt.name
    if not isinstance(ann, dict):
        raise AnnotationError(
            path, f'annotations[{k}] is a {type(ann).__name__}; expected a dict', fmt=name
        )
    fd = ann.get('frame_dir')
    if not isinstance(fd, str) or not fd:
        raise AnnotationError(
            path,
            f'annotations[{k}] has frame_dir={fd!r}; expected a non-empty string',
            field='frame_dir',
            fmt=name,
        )

    def err(field: str, problem: str) -> AnnotationError:
        return AnnotationError(path, problem, frame_dir=fd, field=field, fmt=name)

    for key in ('label', 'total_frames', 'keypoint'):
        if key not in ann:
            raise err(key, 'missing; every annotation needs frame_dir, label, total_frames, '
                      'keypoint')  # fmt: skip
    label = ann['label']
    if not _is_int(label) or label < 0:
        raise err('label', f'is {label!r}; expected an integer >= 0')
    total = ann['total_frames']
    if not _is_int(total):
        raise err('total_frames', f'is {total!r}; expected an integer')
    if total <= 0:
        raise err('total_frames', f'is {total}: empty sequence; expected at least 1 frame')
    kp = ann['keypoint']
    if not isinstance(kp, np.ndarray) or kp.dtype.kind not in 'fiu':
        what = type(kp).__name__ if not isinstance(kp, np.ndarray) else f'array of {kp.dtype}'
        raise err('keypoint', f'is a {what}; expected a numeric numpy array (M, T, V, C)')
    C = keypoint_channels(ann, fmt)
    V = fmt.num_joints
    if kp.ndim != 4:
        raise err('keypoint', f'has shape {kp.shape} (rank {kp.ndim}); expected rank 4 '
                  f'(M, T, V={V}, C={C})')  # fmt: skip
    M, T, Vk, Ck = kp.shape
    if M == 0 or T == 0:
        raise err('keypoint', f'has shape {kp.shape}: empty sequence; expected M >= 1 persons '
                  'and T >= 1 frames')  # fmt: skip
    if Vk != V:
        raise err('keypoint', f'has {Vk} joints (shape {kp.shape}); format {name!r} has V={V}')
    if Ck != C:
        kind = '2D' if fmt.is_2d else '3D'
        hint = ' (x, y with keypoint_score, or x, y, score)' if fmt.is_2d else ' (x, y, z)'
        raise err('keypoint', f'has {Ck} channels (shape {kp.shape}); a {kind} format expects '
                  f'C={C}{hint}')  # fmt: skip
    if T != total:
        raise err('keypoint', f'has T={T} frames but total_frames={total}; expected equal')
    if not np.isfinite(kp).all():
        bad = int((~np.isfinite(kp)).sum())
        raise err('keypoint', f'holds {bad} NaN/inf values; expected finite numbers '
                  '(mark a missing joint with zeros)')  # fmt: skip
    if fmt.is_2d:
        if 'keypoint_score' in ann:
            sc = ann['keypoint_score']
            if not isinstance(sc, np.ndarray) or sc.shape != kp.shape[:3]:
                shape = getattr(sc, 'shape', type(sc).__name__)
                raise err('keypoint_score', f'has shape {shape}; expected {kp.shape[:3]} '
                          '(M, T, V) like keypoint')  # fmt: skip
            if sc.dtype.kind not in 'fiu' or not np.isfinite(sc).all():
                raise err('keypoint_score', 'holds NaN/inf or non-numeric values; expected '
                          'finite scores')  # fmt: skip
        if fmt.image_size is None:
            shape = ann.get('img_shape')
            ok = (
                isinstance(shape, (tuple, list))
                and len(shape) == 2
                and all(_is_int(s) and s > 0 for s in shape)
            )
            if not ok:
                raise err('img_shape', f'is {shape!r}; a 2D format without image_size needs '
                          'img_shape = (height, width) in pixels')  # fmt: skip


def validate_annotations(
    data: Mapping[str, Any],
    fmt: Any,
    path: str = '<memory>',
    collect: bool = False,
) -> List[AnnotationError]:
    """Check an unpickled annotation dict against a skeleton format.

    Checks: top-level keys, per annotation ``frame_dir``, ``label`` (int >= 0),
    ``total_frames`` (> 0, equal to the keypoint ``T``), ``keypoint`` rank 4 ``(M, T, V, C)``
    with the format's ``V`` and channels (3D: 3; 2D: 2 with ``keypoint_score (M, T, V)`` or 3
    with the score merged), finite values, ``img_shape`` for 2D formats without
    ``image_size``; duplicate ``frame_dir``; split entries naming unknown samples.

    Args:
        data (Mapping): As returned by :func:`load_annotation_file`.
        fmt (str | dict | SkeletonFormat): The format the file claims to hold.
        path (str): The file, for messages. Defaults to ``'<memory>'``.
        collect (bool): Return every problem instead of raising the first. Defaults to
            False.

    Returns:
        list[AnnotationError]: The problems (empty when valid); only with ``collect=True``,
        otherwise ``[]`` or the first problem is raised.

    Raises:
        AnnotationError: The first problem, when ``collect`` is False.

    """
    fmt = get_format(fmt)
    path = str(path)
    problems: List[AnnotationError] = []

    def report(exc: AnnotationError) -> None:
        if not collect:
            raise exc
        problems.append(exc)

    for key, kind in (('split', dict), ('annotations', list)):
        if not isinstance(data, Mapping) or key not in data:
            report(AnnotationError(path, f'missing top-level key {key!r}', field=key))
            return problems
        if not isinstance(data[key], kind):
            report(
                AnnotationError(
                    path,
                    f'is a {type(data[key]).__name__}; expected a {kind.__name__}',
                    field=key,
                )
            )
            return problems
    seen: Dict[str, int] = {}
    for k, ann in enumerate(data['annotations']):
        try:
            _check_one(ann, k, fmt, path)
        except AnnotationError as exc:
            report(exc)
        fd = ann.get('frame_dir') if isinstance(ann, dict) else None
        if isinstance(fd, str):
            if fd in seen:
                report(
                    AnnotationError(
                        path,
                        f'duplicate frame_dir: annotations[{k}] and annotations'
                        f'[{seen[fd]}] have the same one; expected unique samples',
                        frame_dir=fd,
                        field='frame_dir',
                        fmt=fmt.name,
                    )
                )
            else:
                seen[fd] = k
    for split_name, ids in data['split'].items():
        if not isinstance(ids, (list, tuple)):
            report(
                AnnotationError(
                    path,
                    f'split {split_name!r} is a {type(ids).__name__}; expected a list of frame_dir',
                    field='split',
                    fmt=fmt.name,
                )
            )
            continue
        missing = [i for i in ids if i not in seen]
        if missing:
            report(
                AnnotationError(
                    path,
                    f'split {split_name!r} names {len(missing)} sample(s) that are not '
                    f'in annotations, e.g. {missing[:3]}; expected frame_dir values of '
                    'annotations',
                    frame_dir=str(missing[0]),
                    field='split',
                    fmt=fmt.name,
                )
            )
    return problems


def check_alignment(
    per_format_data: Mapping[str, Mapping[str, Any]],
    path_by_format: Mapping[str, str] | None = None,
    collect: bool = False,
) -> List[AnnotationError]:
    """Check that the formats of each clip cover the same frames and share the label.

    Args:
        per_format_data (Mapping[str, Mapping]): Format name -> unpickled annotation dict.
        path_by_format (Mapping[str, str], optional): Format name -> file, for messages.
        collect (bool): Return every problem instead of raising the first. Defaults to
            False.

    Returns:
        list[AnnotationError]: The problems (only with ``collect=True``).

    Raises:
        AnnotationError: The first clip whose ``total_frames`` or ``label`` differ between
            formats, when ``collect`` is False.

    """
    paths = dict(path_by_format or {})
    problems: List[AnnotationError] = []
    first: Dict[str, tuple] = {}
    for name, data in per_format_data.items():
        for ann in data['annotations']:
            fd = ann['frame_dir']
            here = (name, int(ann['total_frames']), int(ann['label']))
            if fd not in first:
                first[fd] = here
                continue
            other, total, label = first[fd]
            for field, a, b in (('total_frames', here[1], total), ('label', here[2], label)):
                if a != b:
                    exc = AnnotationError(
                        paths.get(name, name),
                        f'{field}={a} in format {name!r} but {field}={b} in format {other!r} '
                        f'({paths.get(other, other)}); the views of one clip must agree '
                        '(same frames, same label)',
                        frame_dir=fd, field=field, fmt=name,
                    )  # fmt: skip
                    if not collect:
                        raise exc
                    problems.append(exc)
    return problems


def file_fingerprint(path: str) -> str:
    """A cheap identity of a file's content: size, mtime and its first and last MiB.

    Args:
        path (str): The file.

    Returns:
        str: A hex digest that changes when the file is rewritten.

    """
    import hashlib

    st = os.stat(path)
    h = hashlib.sha1(f'{st.st_size}:{st.st_mtime_ns}'.encode())
    with open(path, 'rb') as f:
        h.update(f.read(1 << 20))
        if st.st_size > 2 << 20:
            f.seek(-(1 << 20), os.SEEK_END)
            h.update(f.read())
    return h.hexdigest()
