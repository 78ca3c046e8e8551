"""Skeleton conventions: one :class:`SkeletonFormat` per convention and a lookup by name."""

from . import builtin  # noqa: E402,F401  (registers the built-in formats)
from . import openni  # noqa: E402,F401  (OpenNI-15: openni15, openni15_2d)
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
