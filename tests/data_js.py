"""A run's data.js as the browser sees it: its payload, and its columns decoded as site.js's
`sitegenColumn` decodes them (the browser tests check the JavaScript itself)."""

from __future__ import annotations

import json
import re

from sitegen.render.plot_columns import ALPHABET, GAP, REPEAT

_SCRIPT = re.compile(rb'window\.sitegenRuns=window\.sitegenRuns\|\|\{\};'
                     rb'window\.sitegenRuns\["([a-z0-9._-]+)"\]=(.*);\n', re.S)


def data_js_payload(script: bytes) -> dict:
    found = _SCRIPT.fullmatch(script)
    assert found, script[:200]
    return json.loads(found[2])


def decode_column(column: dict | list) -> list[float | None]:
    if isinstance(column, list):
        return column
    if "start" in column:
        return [column["start"] + i * column["step"] for i in range(column["n"])]
    text, exponent = column["d"], column["e"]
    values: list[float | None] = []
    integer, last, i = 0, None, 0

    def number() -> int:
        nonlocal i
        value, place, digit = 0, 1, 32
        while digit >= 32:
            digit = ALPHABET.index(text[i])
            i += 1
            value += (digit % 32) * place
            place *= 32
        return value

    def emit(delta: int | None) -> None:
        nonlocal integer
        if delta is None:
            values.append(None)
            return
        integer += delta
        values.append(integer / 10.0**exponent if exponent >= 0 else integer * 10.0**-exponent)

    while i < len(text):
        if text[i] == GAP:
            i += 1
            last = None
            emit(last)
        elif text[i] == REPEAT:
            i += 1
            for _ in range(number()):
                emit(last)
        else:
            folded = number()
            last = folded // 2 if folded % 2 == 0 else -(folded + 1) // 2
            emit(last)
    return values
