"""Plain values out of untrusted JSON and YAML: flattened params."""

from __future__ import annotations

from sitegen.model import Scalar

_MAX_NESTING = 32


def flatten(value: dict) -> dict[str, Scalar]:
    """Nested dicts and lists as dotted keys ("optim.lr", "layers.0"); dotted keys stay as they are."""
    flat: dict[str, Scalar] = {}
    for name, item in value.items():
        _flatten_into(flat, str(name), item, 1)
    return flat


def _flatten_into(flat: dict[str, Scalar], key: str, value: object, depth: int) -> None:
    if isinstance(value, (dict, list)) and value and depth >= _MAX_NESTING:
        flat[key] = "… (nested too deeply)"
        return
    if isinstance(value, dict) and value:
        for name, item in value.items():
            _flatten_into(flat, f"{key}.{name}", item, depth + 1)
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            _flatten_into(flat, f"{key}.{index}", item, depth + 1)
    elif value is None or isinstance(value, (str, int, float, bool)):
        flat[key] = value
    else:
        flat[key] = str(value)  # empty containers, dates from YAML
