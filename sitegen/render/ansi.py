"""Log text with ANSI escape codes to escaped HTML lines, styled by CSS classes only.

Colours become `ansi-*` classes (see `ANSI_CLASSES`); every other escape sequence is dropped.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import escape

_COLOURS = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
_PALETTE = _COLOURS + tuple(f"bright-{name}" for name in _COLOURS)
_FLAGS = ("bold", "dim", "italic", "underline")

ANSI_CLASSES: tuple[str, ...] = (
    *(f"ansi-fg-{name}" for name in _PALETTE),
    *(f"ansi-bg-{name}" for name in _PALETTE),
    *(f"ansi-{flag}" for flag in _FLAGS),
)

# A style is (fg, bg, bold, dim, italic, underline); fg/bg index _PALETTE or are None.
# Lines carry a style as its class string (hashing a str is cached, a tuple's is not).
_Style = tuple[int | None, int | None, bool, bool, bool, bool]
_PLAIN: _Style = (None, None, False, False, False, False)
_STYLE_OF: dict[str, _Style] = {"": _PLAIN}
_FG, _BG, _BOLD, _DIM, _ITALIC, _UNDERLINE = range(6)

_SGR_CODES: dict[int, tuple[tuple[int, object], ...]] = {
    1: ((_BOLD, True),), 2: ((_DIM, True),), 3: ((_ITALIC, True),), 4: ((_UNDERLINE, True),),
    22: ((_BOLD, False), (_DIM, False)), 23: ((_ITALIC, False),), 24: ((_UNDERLINE, False),),
    39: ((_FG, None),), 49: ((_BG, None),),
    **{30 + n: ((_FG, n),) for n in range(8)}, **{90 + n: ((_FG, 8 + n),) for n in range(8)},
    **{40 + n: ((_BG, n),) for n in range(8)}, **{100 + n: ((_BG, 8 + n),) for n in range(8)},
}

# xterm's default RGB values for the 16 basic colours, to map 256-colour and RGB codes onto.
_PALETTE_RGB = (
    (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0),
    (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
    (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0),
    (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
)
_CUBE_LEVELS = (0, 95, 135, 175, 215, 255)

# Every escape sequence except SGR; none reaches past a line end, so a cut-off one eats one line.
_NOT_SGR = re.compile(
    r"\x1b(?!\[[0-9;]*m)(?:"
    r"\[[0-?]*[ -/]*[@-~]"  # CSI: cursor moves, erase line, modes
    r"|\][^\x07\x1b\n]*(?:\x07|\x1b\\)?"  # OSC (window title, hyperlink) up to BEL or ST
    r"|[PX^_][^\x1b\n]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings up to ST
    r"|[ -/]*[0-~]"  # two-character escapes: charset, keypad mode, save cursor
    r")?"
)
# C0/C1 controls except tab, newline, CR and ESC, which carry meaning here.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f-\x9f]")
_SGR = re.compile(r"\x1b\[([0-9;]*)m")


def ansi_to_html(text: str) -> list[str]:
    """One escaped HTML string per line, each well-formed alone: styled spans close at line end.

    A line keeps only what follows its last carriage return, as a terminal shows a redrawn
    progress bar; the style set by what was overwritten still carries on.
    """
    # Escaping the whole text at once is the fast path; it is safe because SGR codes hold
    # no character that escaping changes, and every other sequence is gone by then.
    clean = escape(_CONTROL.sub("", _NOT_SGR.sub("", text)))
    lines = clean.split("\n")
    if lines[-1] == "":
        lines.pop()
    classes = ""
    html = []
    for line in lines:
        line = line.rstrip("\r")
        if "\x1b" in line:
            rendered, classes = _render_line(line, classes)
        else:
            rendered = _wrap(line[line.rfind("\r") + 1:], classes)
        html.append(rendered)
    return html


def _render_line(line: str, classes: str) -> tuple[str, str]:
    frame_start = line.rfind("\r") + 1
    for params in _SGR.findall(line, 0, frame_start):
        classes = _apply_sgr(classes, params)
    # split() alternates text and SGR parameters: text, params, text, ..., text
    pieces = _SGR.split(line[frame_start:])
    parts: list[str] = []
    open_classes = _emit(parts, pieces[0], classes, "")
    for params, text in zip(pieces[1::2], pieces[2::2], strict=True):
        classes = _apply_sgr(classes, params)
        open_classes = _emit(parts, text, classes, open_classes)
    if open_classes:
        parts.append("</span>")
    return "".join(parts), classes


def _emit(parts: list[str], text: str, classes: str, open_classes: str) -> str:
    """Append text, switching spans only when the style changed; return the open span's classes."""
    if not text:
        return open_classes
    if classes != open_classes:
        if open_classes:
            parts.append("</span>")
        if classes:
            parts.append(f'<span class="{classes}">')
    parts.append(text)
    return classes


def _wrap(text: str, classes: str) -> str:
    return f'<span class="{classes}">{text}</span>' if classes and text else text


@lru_cache(maxsize=4096)
def _apply_sgr(classes: str, params: str) -> str:
    """The classes of the style `classes` after the SGR sequence `ESC[{params}m`."""
    state = list(_STYLE_OF[classes])
    codes = params.split(";")
    i = 0
    while i < len(codes):
        code = _code(codes[i])
        i += 1
        if code == 0:
            state = list(_PLAIN)
        elif code in (38, 48):
            colour, i = _extended_colour(codes, i)
            if colour is not None:
                state[_FG if code == 38 else _BG] = colour
        else:
            for field, value in _SGR_CODES.get(code, ()):
                state[field] = value
    style: _Style = tuple(state)  # type: ignore[assignment]
    new_classes = _classes(style)
    _STYLE_OF[new_classes] = style
    return new_classes


def _extended_colour(codes: list[str], i: int) -> tuple[int | None, int]:
    """The basic colour nearest to a `5;N` or `2;R;G;B` argument at `codes[i]`, and what follows."""
    args = [_code(code) for code in codes[i:i + 4]]
    if args[:1] == [5] and len(args) >= 2 and 0 <= args[1] < 256:
        return _XTERM_256[args[1]], i + 2
    if args[:1] == [2] and len(args) == 4:
        r, g, b = args[1:]
        return _nearest(r, g, b), i + 4
    return None, len(codes)  # malformed: the rest of the sequence cannot be trusted


def _code(text: str) -> int:
    """One SGR parameter: empty means 0; an absurdly long one is unknown (int() would refuse it)."""
    return int(text or 0) if len(text) < 10 else -1


def _nearest(r: int, g: int, b: int) -> int:
    def distance(k: int) -> int:
        kr, kg, kb = _PALETTE_RGB[k]
        return (kr - r) ** 2 + (kg - g) ** 2 + (kb - b) ** 2

    return min(range(16), key=distance)


def _rgb_256(n: int) -> tuple[int, int, int]:
    if n < 16:
        return _PALETTE_RGB[n]
    if n >= 232:
        level = 8 + 10 * (n - 232)
        return level, level, level
    n -= 16
    return _CUBE_LEVELS[n // 36], _CUBE_LEVELS[n // 6 % 6], _CUBE_LEVELS[n % 6]


_XTERM_256 = tuple(n if n < 16 else _nearest(*_rgb_256(n)) for n in range(256))


def _classes(style: _Style) -> str:
    fg, bg, *flags = style
    names = [] if fg is None else [f"ansi-fg-{_PALETTE[fg]}"]
    if bg is not None:
        names.append(f"ansi-bg-{_PALETTE[bg]}")
    names += [f"ansi-{flag}" for flag, on in zip(_FLAGS, flags, strict=True) if on]
    return " ".join(names)
