"""A plotted column of numbers in few bytes: what a run's data.js holds and site.js decodes
(`window.sitegenColumn`).

Three JSON forms, the first that fits:
- `{"start": a, "step": s, "n": n}`: n whole numbers a, a+s, a+2s … (a step axis);
- `{"e": p, "d": text}`: integers k of which each value is k / 10**p, written as the differences
  of successive k, zigzag-folded to unsigned, in base-32 digits low first, one character of
  `ALPHABET` each (its upper half marks "more digits follow"); `GAP` is a missing value;
  `REPEAT` and a count (unsigned, the same digits) repeat the difference (or gap) before it;
- a plain JSON list (numbers and null), when the magnitudes leave the integers above inexact.

x values (`exact=True`) are kept exactly; y values are rounded to the coarsest power of ten
that keeps every value within 1/10,000 of the column's range (a hover shows them so). NaN,
±inf and None are gaps.
"""

from __future__ import annotations

import math
import operator

import numpy as np

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
GAP = "~"
REPEAT = "*"
MIN_REPEAT = 3  # equal differences in a row that are written as one and a count
RELATIVE_ERROR = 1e-4  # of the column's range: far below what a plot or its hover shows
_BASE = 32
_MAX_EXPONENT = 22  # 10**22 is the largest power of ten a double holds exactly
_MAX_INTEGER = 2**51  # differences of two stay below 2**52: exact in a JavaScript number


def encode_column(values: list[float | int | None], exact: bool) -> dict | list:
    """`values` in the shortest of the forms above that keeps them (see the module docstring)."""
    column = np.array(values, dtype=np.float64)  # None becomes NaN
    finite = np.isfinite(column)
    whole = bool(finite.all())
    kept = column if whole else column[finite]
    if not len(kept):
        return [None] * len(column)
    exponent = _exponent(kept, exact)
    if exponent is None:
        return _plain(column, finite)
    integers = np.round(column * 10.0**exponent if exponent >= 0 else column / 10.0**-exponent)
    if not whole:
        integers[~finite] = 0.0
    if np.abs(integers).max() >= _MAX_INTEGER:
        return _plain(column, finite)
    integers = integers.astype(np.int64)
    if exact and whole and exponent == 0 and (regular := _regular(integers)) is not None:
        return regular
    return {"e": exponent, "d": _digits(integers, finite, whole)}


def _regular(integers: np.ndarray) -> dict | None:
    steps = np.diff(integers)
    if not len(steps) or (steps != steps[0]).any():
        return None
    return {"start": int(integers[0]), "step": int(steps[0]), "n": len(integers)}


def _exponent(finite: np.ndarray, exact: bool) -> int | None:
    """The decimal exponent p of the values' quantum 10**-p; None when no usable one exists."""
    spread = float(finite.max() - finite.min())
    if exact or spread == 0.0:
        return _exact_exponent(finite)
    exponent = math.ceil(-math.log10(2 * RELATIVE_ERROR * spread))
    return exponent if abs(exponent) <= _MAX_EXPONENT else None


def _exact_exponent(finite: np.ndarray) -> int | None:
    """The fewest decimals (0 to 17) that give back every value exactly, when division by a
    power of ten does (as JavaScript will decode them)."""
    for exponent in range(18):
        power = 10.0**exponent
        integers = np.round(finite * power) if exponent else np.round(finite)
        if (integers / power == finite).all():
            return exponent
        if np.abs(integers).max() >= _MAX_INTEGER:
            return None
    return None


def _digits(integers: np.ndarray, finite: np.ndarray, whole: bool) -> str:
    """The zigzag base-32 text of the differences between successive finite integers; a run of
    `MIN_REPEAT` or more equal differences (or gaps) is written once, then `REPEAT` and how
    many more times it repeats (a step axis with a few steps missing costs a few characters)."""
    differences = np.diff(integers if whole else integers[finite], prepend=0)
    folded = (differences << 1) ^ (differences >> 63)
    if not whole:
        folded = np.where(finite, 0, -1)  # -1: a gap
        folded[finite] = (differences << 1) ^ (differences >> 63)
    starts = np.ones(len(folded), dtype=bool)
    starts[1:] = folded[1:] != folded[:-1]
    firsts = np.flatnonzero(starts)
    lengths = np.diff(np.append(firsts, len(folded)))
    pieces = list(map(operator.mul, _tokens(folded[firsts]),
                      np.where(lengths >= MIN_REPEAT, 1, lengths).tolist()))
    for run in np.flatnonzero(lengths >= MIN_REPEAT).tolist():
        pieces[run] += REPEAT + _token(int(lengths[run]) - 1)
    return "".join(pieces)


def _tokens(numbers: np.ndarray) -> list[str]:
    """Each number (-1 for a gap) as its base-32 digits, low digits first."""
    big = numbers >= len(_TABLE) - 1
    tokens = list(map(_TABLE.__getitem__, np.where(big, 0, numbers).tolist()))  # at C speed
    for index in np.flatnonzero(big).tolist():
        tokens[index] = _token(int(numbers[index]))
    return tokens


def _token(number: int) -> str:
    letters = []
    while number >= _BASE:
        letters.append(ALPHABET[_BASE + number % _BASE])  # "more digits follow"
        number //= _BASE
    letters.append(ALPHABET[number])
    return "".join(letters)


_TABLE = [*map(_token, range(_BASE**3)), GAP]  # the tokens of numbers below 32,768; [-1] is a gap


def _plain(column: np.ndarray, finite: np.ndarray) -> list[float | int | None]:
    """Each value exactly, whole ones as ints (shorter), gaps as null (JSON has no NaN)."""
    return [(int(v) if v.is_integer() and abs(v) < _MAX_INTEGER else v) if ok else None
            for v, ok in zip(column.tolist(), finite.tolist(), strict=True)]
