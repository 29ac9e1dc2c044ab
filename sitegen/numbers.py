"""Finite floats out of untrusted values: JSON and YAML numbers, and numbers written as text."""

from __future__ import annotations

import math


def finite_number(value: object) -> float | None:
    """A finite float from an int or float; None for anything else (bools, strings, NaN, ±inf)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return number if math.isfinite(number) else None


def finite(value: object) -> float | None:
    """`finite_number`, also from a numeric string ("3.5", "inf" gives None)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    return finite_number(value)
