"""What a browser would run in a page the site wrote: the auditor of every test that feeds hostile
run data through the readers and renderers (test_untrusted_input, readers/test_fuzz).

A page is inert when its only scripts are the theme's (its assets, and JSON data blocks that hold
JSON and no `<`), no element has an event handler, and no link or source is a script URL.
"""

from __future__ import annotations

import json
import posixpath
import re
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "xlink:href", "poster", "data"})
# The one inline handler the default theme writes itself (index.html's filter form).
THEME_HANDLERS = frozenset({("form", "onsubmit", "return false")})
THEME_URLS = frozenset({("link", "href", "data:,")})  # an empty icon: no request for /favicon.ico
THEME_DATA = ("figures", "sweep-data", "runs-data")  # the ids of the JSON blocks the theme embeds
RUN_DATA_SRC = re.compile(r"runs/[a-z0-9._-]+/data\.js")  # a run's data as a script (run_data.py)
RUN_DATA_JS = re.compile(r"window\.sitegenRuns=window\.sitegenRuns\|\|\{\};"
                         r"window\.sitegenRuns\[(?P<slug>\"[^\"\\<>]*\")\]=(?P<data>.*);\n", re.S)


class PageAudit(HTMLParser):
    """What a browser would run or follow in a page, and the text it would show."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[tuple[dict[str, str | None], str]] = []  # (attributes, body)
        self.handlers: list[tuple[str, str, str | None]] = []  # (tag, on* attribute, value)
        self.urls: list[tuple[str, str, str]] = []  # (tag, attribute, URL)
        self.rows: list[tuple[str, list[str]]] = []  # (table class, cell texts)
        self.chunks: list[str] = []  # text outside scripts
        self._script: dict[str, str | None] | None = None
        self._tables: list[str] = []
        self._cells: list[str] | None = None

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append((tag, name, value))
            if name in URL_ATTRIBUTES:
                self.urls.append((tag, name, value or ""))
        if tag == "script":
            self._script = dict(attrs)
        elif tag == "table":
            self._tables.append(dict(attrs).get("class") or "")
        elif tag == "tr":
            self._cells = []
        elif tag in ("th", "td") and self._cells is not None:
            self._cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, ""))
            self._script = None
        elif tag == "table" and self._tables:
            self._tables.pop()
        elif tag == "tr" and self._cells is not None:
            self.rows.append((self._tables[-1] if self._tables else "", [c.strip() for c in self._cells]))
            self._cells = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:  # the parser hands a script's whole body over at once
            self.scripts.append((self._script, data))
            self._script = None
            return
        self.chunks.append(data)
        if self._cells:
            self._cells[-1] += data


def audit(page: str) -> PageAudit:
    parser = PageAudit()
    parser.feed(page)
    parser.close()
    return parser


def resolve_href(page: str, href: str) -> str:
    """The output-relative path a relative link leads to (query and fragment dropped, %-decoded)."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(page), unquote(urlsplit(href).path)))


def is_script_url(value: str) -> bool:
    """True for a URL a browser would run: it drops tabs and newlines and trims controls first."""
    cleaned = re.sub(r"[\t\n\r]", "", value).strip("".join(map(chr, range(0x21)))).lower()
    return cleaned.startswith(("javascript:", "vbscript:", "data:"))


def assert_no_active_content(path: str, page: str) -> None:
    """Only the theme's scripts, no event handlers, no script URLs: nothing from run data runs."""
    found = audit(page)
    for attrs, body in found.scripts:
        src = attrs.get("src")
        theme_asset = bool(src) and resolve_href(path, src or "").startswith("assets/")
        run_data = bool(src) and RUN_DATA_SRC.fullmatch(resolve_href(path, src or "")) is not None
        data = src is None and attrs.get("type") == "application/json" and attrs.get("id") in THEME_DATA
        assert theme_asset or run_data or data, f"{path}: a <script> the theme did not write: {attrs}"
        if data:  # a `<` could end the block or open a comment that swallows the page's own end tag
            assert "<" not in body, f"{path}: markup in the {attrs.get('id')} data block"
            json.loads(body)
    handlers = [h for h in found.handlers if h not in THEME_HANDLERS]
    assert handlers == [], f"{path}: event handlers from run data: {handlers}"
    script_urls = [u for u in found.urls if is_script_url(u[2]) and u not in THEME_URLS]
    assert script_urls == [], f"{path}: script URLs: {script_urls}"


def assert_inert(path: str, data: bytes) -> None:
    """Any file the site writes for a run: HTML pages audited, the run's data script holding only
    its JSON, JSON files strict JSON (browsers reject NaN and Infinity)."""
    text = data.decode("utf-8")
    if path.endswith(".html"):
        assert_no_active_content(path, text)
    elif path.endswith(".js"):
        script = RUN_DATA_JS.fullmatch(text)
        assert script is not None, f"{path}: not the run data script: {text[:200]!r}"
        assert "<" not in text and "\u2028" not in text and "\u2029" not in text, path
        json.loads(script["data"], parse_constant=_refuse)
    elif path.endswith(".json"):
        json.loads(text, parse_constant=_refuse)
    else:
        raise AssertionError(f"{path}: a file type the audit does not know")


def _refuse(constant: str) -> None:
    raise AssertionError(f"{constant} in JSON for the browser")
