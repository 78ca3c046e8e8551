"""Utilities: device copies and runner helpers."""

from . import runner
from .device import copy_to_device

__all__ = ['copy_to_device', 'runner']
