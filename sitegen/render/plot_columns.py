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

import numpy as np

ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
GAP = b"~"
REPEAT = b"*"
MIN_REPEAT = 3  # equal differences in a row that are written as one and a count
RELATIVE_ERROR = 1e-4  # of the column's range: far below what a plot or its hover shows
_DIGIT_BITS = 5
_MAX_EXPONENT = 22  # 10**22 is the largest power of ten a double holds exactly
_MAX_INTEGER = 2**51  # differences of two stay below 2**52: exact in a JavaScript number
_LETTERS = np.frombuffer(ALPHABET, dtype=np.uint8)


def encode_column(values: list[float | int | None], exact: bool) -> dict | list:
    """`values` in the shortest of the forms above that keeps them (see the module docstring)."""
    column = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    if not len(column):
        return []
    finite = np.isfinite(column)
    if exact and finite.all() and (regular := _regular(column)) is not None:
        return regular
    exponent = _exponent(column[finite], exact)
    if exponent is None:
        return _plain(column, finite)
    scaled = column * 10.0**exponent if exponent >= 0 else column / 10.0**-exponent
    integers = np.where(finite, np.round(scaled), 0.0)
    if np.abs(integers).max(initial=0.0) >= _MAX_INTEGER:
        return _plain(column, finite)
    return {"e": exponent, "d": _digits(integers.astype(np.int64), finite)}


def _regular(column: np.ndarray) -> dict | None:
    if len(column) < 2 or np.abs(column).max() >= _MAX_INTEGER or not (column == np.round(column)).all():
        return None
    steps = np.diff(column)
    if not (steps == steps[0]).all():
        return None
    return {"start": int(column[0]), "step": int(steps[0]), "n": len(column)}


def _exponent(finite: np.ndarray, exact: bool) -> int | None:
    """The decimal exponent p of the values' quantum 10**-p; None when no usable one exists."""
    if not len(finite):
        return 0
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
        integers = np.round(finite * power)
        if np.abs(integers).max() >= _MAX_INTEGER:
            return None
        if (integers / power == finite).all():
            return exponent
    return None


def _digits(integers: np.ndarray, finite: np.ndarray) -> str:
    """The zigzag base-32 text of the differences between successive finite integers; a run of
    `MIN_REPEAT` or more equal differences (or gaps) is written once, then `REPEAT` and how
    many more times it repeats (a step axis with a few steps missing costs a few characters)."""
    differences = np.diff(integers[finite], prepend=0)
    folded = np.zeros(len(integers), dtype=np.uint64)
    folded[finite] = ((differences << 1) ^ (differences >> 63)).astype(np.uint64)
    starts = np.ones(len(folded), dtype=bool)
    starts[1:] = (folded[1:] != folded[:-1]) | (finite[1:] != finite[:-1])
    firsts = np.flatnonzero(starts)
    lengths = np.diff(np.append(firsts, len(folded)))
    repeated = lengths >= MIN_REPEAT
    repeats = np.zeros(len(folded), dtype=np.uint64)
    repeats[firsts[repeated]] = lengths[repeated] - 1
    value_letters, value_used = _letters(folded)
    value_letters[~finite, 0] = GAP[0]
    repeat_letters, repeat_used = _letters(repeats)
    marked = (repeats > 0)[:, None]
    letters = np.hstack([value_letters, np.full_like(marked, REPEAT[0], dtype=np.uint8), repeat_letters])
    used = np.hstack([value_used, marked, repeat_used & marked])
    used &= (starts | ~repeated[np.cumsum(starts) - 1])[:, None]  # a repeated run: its first only
    return letters[used].tobytes().decode("ascii")


def _letters(numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each unsigned number's base-32 digits as letters, low digits first, in a row of a matrix,
    and which of the row's cells it uses."""
    count = np.ones(len(numbers), dtype=np.int64)  # digits per number, at least one
    rest = numbers >> np.uint64(_DIGIT_BITS)
    while rest.any():
        count += rest > 0
        rest >>= np.uint64(_DIGIT_BITS)
    place = np.arange(count.max(initial=1))
    digits = ((numbers[:, None] >> (place.astype(np.uint64) * np.uint64(_DIGIT_BITS))) & np.uint64(31))
    digits = digits.astype(np.int64) + np.where(place < count[:, None] - 1, 32, 0)  # "more follow"
    return _LETTERS[digits], place < count[:, None]


def _plain(column: np.ndarray, finite: np.ndarray) -> list[float | int | None]:
    """Each value exactly, whole ones as ints (shorter), gaps as null (JSON has no NaN)."""
    return [(int(v) if v.is_integer() and abs(v) < _MAX_INTEGER else v) if ok else None
            for v, ok in zip(column.tolist(), finite.tolist(), strict=True)]
