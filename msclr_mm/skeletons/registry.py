"""Lookup of skeleton formats by name, with inline declarations from configs."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Union

from .format import SkeletonFormat

_FORMATS: Dict[str, SkeletonFormat] = {}

FormatSpec = Union[str, Mapping[str, Any], SkeletonFormat]


def register_format(
    fmt: Union[SkeletonFormat, Mapping[str, Any]], force: bool = False
) -> SkeletonFormat:
    """Add a format to the registry.

    Args:
        fmt (SkeletonFormat | dict): The format, or its dict declaration.
        force (bool): Replace a different format already registered under the same name.
            Defaults to False (re-registering an identical format is always allowed).

    Returns:
        SkeletonFormat: The registered format.

    """
    if not isinstance(fmt, SkeletonFormat):
        fmt = SkeletonFormat.from_dict(fmt)
    old = _FORMATS.get(fmt.name)
    if old is not None and old != fmt and not force:
        raise KeyError(
            f"a different skeleton format named '{fmt.name}' is already registered; "
            'pass force=True to replace it'
        )
    _FORMATS[fmt.name] = fmt
    return fmt


def get_format(spec: FormatSpec) -> SkeletonFormat:
    """Resolve a format from a name, an inline dict or a format.

    An inline dict is validated but not registered.

    Args:
        spec (str | dict | SkeletonFormat): Registry name (e.g. ``'kinect25'``), a dict as
            accepted by :meth:`SkeletonFormat.from_dict`, or a format.

    Returns:
        SkeletonFormat: The format.

    """
    if isinstance(spec, SkeletonFormat):
        return spec
    if isinstance(spec, Mapping):
        return SkeletonFormat.from_dict(spec)
    if isinstance(spec, str):
        try:
            return _FORMATS[spec]
        except KeyError:
            raise KeyError(
                f"unknown skeleton format '{spec}'; known formats: {list_formats()}"
            ) from None
    raise TypeError(f'a skeleton format is a name, a dict or a SkeletonFormat, got {type(spec)}')


def list_formats() -> List[str]:
    """Names of the registered formats.

    Returns:
        list[str]: Sorted names.

    """
    return sorted(_FORMATS)
