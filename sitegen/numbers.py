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


LATEST_PLAUSIBLE_EPOCH = 1e11  # beyond the year 5000: milliseconds or garbage, not seconds


def epoch_seconds(value: object) -> float | None:
    """A time in epoch seconds that dates and pages can show; None for anything else (a number
    before 1970 or after the year 5000 is garbage or milliseconds, and no calendar takes it)."""
    number = finite_number(value)
    return number if number is not None and 0 <= number < LATEST_PLAUSIBLE_EPOCH else None
