from html.parser import HTMLParser

import pytest

from sitegen.render.ansi import ANSI_CLASSES, ansi_to_html

ESC = "\x1b"


class _SpanChecker(HTMLParser):
    """Records every span's classes and fails on a tag other than span or an unbalanced one."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.classes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag == "span"
        assert [name for name, _ in attrs] == ["class"]
        self.classes += (attrs[0][1] or "").split()
        self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        assert tag == "span"
        self.depth -= 1
        assert self.depth >= 0


def _check_line(line: str) -> list[str]:
    checker = _SpanChecker()
    checker.feed(line)
    checker.close()
    assert checker.depth == 0, line
    return checker.classes


def test_plain_text_is_escaped():
    assert ansi_to_html("<script>alert('x') & \"y\"</script>\n") == [
        "&lt;script&gt;alert(&#x27;x&#x27;) &amp; &quot;y&quot;&lt;/script&gt;"
    ]


def test_coloured_text_is_escaped():
    assert ansi_to_html(f"{ESC}[31m<script>{ESC}[0m") == [
        '<span class="ansi-fg-red">&lt;script&gt;</span>'
    ]


def test_one_string_per_line():
    assert ansi_to_html("") == []
    assert ansi_to_html("a") == ["a"]
    assert ansi_to_html("a\n\nb\n") == ["a", "", "b"]
    assert ansi_to_html("a\r\nb\r\n") == ["a", "b"]


@pytest.mark.parametrize(("codes", "classes"), [
    ("31", "ansi-fg-red"),
    ("92", "ansi-fg-bright-green"),
    ("44", "ansi-bg-blue"),
    ("107", "ansi-bg-bright-white"),
    ("1", "ansi-bold"),
    ("2", "ansi-dim"),
    ("3", "ansi-italic"),
    ("4", "ansi-underline"),
    ("1;4;33;41", "ansi-fg-yellow ansi-bg-red ansi-bold ansi-underline"),
    ("38;5;196", "ansi-fg-bright-red"),
    ("38;5;4", "ansi-fg-blue"),
    ("48;2;0;0;240", "ansi-bg-blue"),
    ("38;2;250;250;250", "ansi-fg-bright-white"),
])
def test_colour_codes_become_classes(codes, classes):
    assert ansi_to_html(f"{ESC}[{codes}mx") == [f'<span class="{classes}">x</span>']


def test_resets():
    line = f"{ESC}[1;31ma{ESC}[39mb{ESC}[22mc{ESC}[4;42md{ESC}[49;24me{ESC}[1mf{ESC}[mg{ESC}[31mh{ESC}[0mi"
    assert ansi_to_html(line) == [
        '<span class="ansi-fg-red ansi-bold">a</span><span class="ansi-bold">b</span>c'
        '<span class="ansi-bg-green ansi-underline">d</span>e<span class="ansi-bold">f</span>g'
        '<span class="ansi-fg-red">h</span>i'
    ]


def test_unknown_and_malformed_codes_change_nothing():
    assert ansi_to_html(f"{ESC}[5;7;38;5m{ESC}[{'9' * 5000}mx{ESC}[38;5;999my") == ["xy"]


def test_style_carries_across_lines_and_every_line_is_closed():
    lines = ansi_to_html(f"{ESC}[32mok <1>\nstill green\n\n{ESC}[1mbold too{ESC}[0m\nplain\n")
    assert lines == [
        '<span class="ansi-fg-green">ok &lt;1&gt;</span>',
        '<span class="ansi-fg-green">still green</span>',
        "",
        '<span class="ansi-fg-green ansi-bold">bold too</span>',
        "plain",
    ]
    for line in lines:
        _check_line(line)


def test_carriage_return_keeps_what_a_terminal_shows():
    progress = "".join(f"\r{p:3d}%|{'#' * (p // 10):<10}|" for p in range(0, 101, 10))
    assert ansi_to_html(f"start\n{progress}\ndone\n") == ["start", "100%|##########|", "done"]
    assert ansi_to_html("tail\r\r\n") == ["tail"]


def test_style_set_in_overwritten_frame_carries_on():
    assert ansi_to_html(f"{ESC}[33m 50%\r100%\nnext") == [
        '<span class="ansi-fg-yellow">100%</span>',
        '<span class="ansi-fg-yellow">next</span>',
    ]


@pytest.mark.parametrize("sequence", [
    f"{ESC}[2K", f"{ESC}[1A", f"{ESC}[10;20H", f"{ESC}[?25l", f"{ESC}[>4;2m",
    f"{ESC}]0;window title\x07", f"{ESC}]0;title{ESC}\\", f"{ESC}(B", f"{ESC}=", f"{ESC}>",
    f"{ESC}P1$r{ESC}\\", f"{ESC}c", "\x00", "\x07", "\x08", "\x9b",
])
def test_other_escapes_and_controls_are_stripped(sequence):
    assert ansi_to_html(f"a{sequence}b\tc") == ["ab\tc"]


def test_cut_off_escapes_are_stripped():
    assert ansi_to_html(f"a{ESC}\nb{ESC}]0;no end\nc") == ["a", "b", "c"]


def test_hyperlink_keeps_its_text_only():
    link = f"{ESC}]8;;https://example.com/?a=1&b=<2>{ESC}\\docs{ESC}]8;;{ESC}\\"
    assert ansi_to_html(f"see {link}!") == ["see docs!"]


def test_classes_only_and_all_listed():
    codes = [*range(0, 10), *range(30, 50), *range(90, 98), *range(100, 108)]
    text = "\n".join(f"{ESC}[{code}m{code}" for code in codes)
    text += "".join(f"\n{ESC}[38;5;{n};48;5;{255 - n}m{n}" for n in range(256))
    text += f"\n{ESC}[38;2;255;128;0m{ESC}[48;2;1;2;3mrgb"
    seen = set()
    for line in ansi_to_html(text):
        assert "style" not in line
        seen.update(_check_line(line))
    assert seen <= set(ANSI_CLASSES)
    assert len(ANSI_CLASSES) == len(set(ANSI_CLASSES)) == 36
