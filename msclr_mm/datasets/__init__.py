"""Multi-skeleton dataset, annotation loading/validation and per-sample CPU transforms."""

from .annotations import (
    AnnotationError,
    UnsafePickleError,
    check_alignment,
    load_annotation_file,
    validate_annotations,
)

__all__ = [
    'AnnotationError',
    'UnsafePickleError',
    'check_alignment',
    'load_annotation_file',
    'validate_annotations',
]
