"""Every mark the theme and the renderers print has a glyph in a font of this machine: a status
glyph no installed font has is drawn as an empty box (the stalled mark was, with Debian's fonts).
Checked with fontconfig, which Chromium on Linux asks for fallback fonts."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = [
    *(REPO / "themes").rglob("*.html"), *(REPO / "themes").rglob("*.js"), *(REPO / "themes").rglob("*.css"),
    *(REPO / "sitegen" / "render").rglob("*.py"), *(REPO / "sitegen" / "analysis").rglob("*.py"),
]
FIRST_SYMBOL = 0x2000  # below: letters, accents and punctuation every text font has


def _printed_symbols() -> set[str]:
    return {ch for path in SOURCES for ch in path.read_text(encoding="utf-8") if ord(ch) >= FIRST_SYMBOL}


def _has_font(ch: str) -> bool:
    found = subprocess.run(["fc-list", f":charset={ord(ch):x}", "family"], capture_output=True, text=True,
                           check=True, timeout=30)
    return bool(found.stdout.strip())


def test_every_symbol_printed_has_a_font():
    if shutil.which("fc-list") is None:
        pytest.skip("fontconfig's fc-list is not installed (it comes with chromium)")
    symbols = _printed_symbols()
    assert {"✔", "✖", "◐"} <= symbols  # the status marks are among those checked
    missing = [ch for ch in sorted(symbols) if not _has_font(ch)]
    assert [f"U+{ord(ch):04X} {ch} {unicodedata.name(ch, '')}" for ch in missing] == []
