"""Skeleton conventions: one :class:`SkeletonFormat` per convention and a lookup by name."""

from . import builtin, openni  # noqa: E402,F401  (register the built-in formats)
from .format import PART_NAMES, SkeletonFormat, SkeletonFormatError
from .registry import get_format, list_formats, register_format

__all__ = [
    'PART_NAMES',
    'SkeletonFormat',
    'SkeletonFormatError',
    'get_format',
    'list_formats',
    'register_format',
]
