"""Environment captures beside a run: `pip freeze` (or `uv pip freeze`: `pip-freeze.txt`, the
successor's `packages.txt`) and `conda list --explicit` text as name → version (the whole spec,
credentials redacted, for URL, path and editable installs), and `sys-env.json` (the successor's
`env.json`) as text values, redacted. Each says whether the raw file may be published:
only when it is whole and the redaction would hide nothing in it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import NamedTuple

from sitegen.readers._tolerant import file_size, loads_json, looks_binary, read_bytes
from sitegen.readers._values import flatten
from sitegen.redact import Redactor, redact_text

MAX_CAPTURE_BYTES = 8 * 1024 * 1024
HOLDS_CREDENTIALS = "not published: it holds credentials (redacted in what is shown)"
TOO_LARGE = "not published: too large; only its beginning was read"

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_EXTRAS = r"(?:\s*\[[^\]]*\])?"
_PINNED = re.compile(rf"(?P<name>{_NAME}){_EXTRAS}\s*===?\s*(?P<version>[^\s;]+)(?:\s*;.*)?")
_DIRECT = re.compile(rf"(?P<name>{_NAME}){_EXTRAS}\s*@\s*\S.*")
_EDITABLE = re.compile(r"(?:-e|--editable)(?:\s+|=)(?P<target>\S.*)")
_EGG = re.compile(rf"[#&]egg=(?P<name>{_NAME})")
_INLINE_COMMENT = re.compile(r"\s+#.*")
# conda package files are `{name}-{version}-{build}.conda|.tar.bz2`; names may hold dashes
_CONDA_FILE = re.compile(r"(?P<name>[^/]+)-(?P<version>[^-/]+)-(?P<build>[^-/]+)\.(?:conda|tar\.bz2)")
# anaconda.org puts access tokens in the path (`/t/<token>/channel/…`), where redact_text does not look
CONDA_PATH_TOKEN = re.compile(r"/t/[^/\s]+/")


def canonical_name(name: str) -> str:
    """PEP 503 normalised name: `PyYAML`, `pyyaml` and `py.yaml` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pip_freeze(text: str) -> tuple[dict[str, str], list[str]]:
    """Packages from `pip freeze` output and the lines that are not packages nor options nor comments.

    `pkg==1.2` gives the version; `pkg @ url`, `-e git+…#egg=pkg` and `-e /path` give the whole
    line, with credentials in URLs redacted. Other pip options (`--index-url …`) are skipped.
    """
    packages: dict[str, str] = {}
    unparsed: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if editable := _EDITABLE.fullmatch(line):
            name = _editable_name(editable["target"])
            if name:
                packages[name] = redact_text(line)
            else:
                unparsed.append(redact_text(line))
            continue
        if line.startswith("-"):
            continue
        line = _INLINE_COMMENT.sub("", line)
        if pinned := _PINNED.fullmatch(line):
            packages[pinned["name"]] = pinned["version"]
        elif direct := _DIRECT.fullmatch(line):
            packages[direct["name"]] = redact_text(line)
        else:
            unparsed.append(redact_text(line))
    return packages, unparsed


def parse_conda_explicit(text: str) -> tuple[dict[str, str], list[str]]:
    """Packages from `conda list --explicit` output (one package URL or path a line) and the
    lines that are not; the version comes from the file name `{name}-{version}-{build}.conda`."""
    packages: dict[str, str] = {}
    unparsed: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or line == "@EXPLICIT":
            continue
        location = line.split("#", 1)[0].rstrip("/")  # `#<md5>` or `#sha256:…` after the URL
        match = _CONDA_FILE.fullmatch(location.rsplit("/", 1)[-1])
        if match:
            packages[match["name"]] = match["version"]
        else:
            unparsed.append(CONDA_PATH_TOKEN.sub("/t/***/", redact_text(line)))
    return packages, unparsed


def merge_packages(pip: dict[str, str], conda: dict[str, str]) -> dict[str, str]:
    """pip's list, plus conda's packages that pip does not name (python, CUDA libraries …), sorted."""
    merged = dict(pip)
    known = {canonical_name(name) for name in pip}
    for name, version in conda.items():
        if canonical_name(name) not in known:
            merged[name] = version
    return dict(sorted(merged.items(), key=lambda item: item[0].lower()))


def _editable_name(target: str) -> str | None:
    """`#egg=name` when given, else the last part of the path or repository URL."""
    egg = _EGG.search(target)
    if egg:
        return egg["name"]
    location = target.split("#", 1)[0].rstrip("/")
    last = location.rsplit("/", 1)[-1].split("@", 1)[0].removesuffix(".git")
    return last if re.fullmatch(_NAME, last) else None


class Capture(NamedTuple):
    values: dict[str, str]  # packages (name → version or spec) or the environment
    size: int | None  # None when the file could not be read at all
    why_not: str | None  # why the raw file is not published beside the page
    problems: list[str]


def read_capture(path: str, redactor: Redactor) -> Capture:
    """One capture, parsed as its file name says (CAPTURES, SESSION_CAPTURES); never raises."""
    name = os.path.basename(path)
    data, problem = read_bytes(path, MAX_CAPTURE_BYTES)
    problems = [problem] if problem else []
    if data is None:
        return Capture({}, None, None, problems)
    size = file_size(path) or len(data)
    if looks_binary(data):
        return Capture({}, size, "not read: looks binary", [*problems, f"{name}: looks binary; not read"])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"{name}: not valid UTF-8; bad bytes shown as \ufffd")
        text = data.decode("utf-8", errors="replace")
    if problem:  # cut at the cap: a half line would read as a wrong version
        text = text[:text.rfind("\n") + 1]
    values, hidden = _PARSERS[name](name, text, redactor, problems)
    if problem:
        return Capture(values, size, TOO_LARGE, problems)
    return Capture(values, size, HOLDS_CREDENTIALS if hidden else None, problems)


def _pip(name: str, text: str, _redactor: Redactor, problems: list[str]) -> tuple[dict[str, str], bool]:
    packages, unparsed = parse_pip_freeze(text)
    _report_unparsed(name, unparsed, problems)
    return packages, redact_text(text) != text


def _conda(name: str, text: str, _redactor: Redactor, problems: list[str]) -> tuple[dict[str, str], bool]:
    packages, unparsed = parse_conda_explicit(text)
    _report_unparsed(name, unparsed, problems)
    return packages, redact_text(text) != text or CONDA_PATH_TOKEN.search(text) is not None


def _sys_env(name: str, text: str, redactor: Redactor, problems: list[str]) -> tuple[dict[str, str], bool]:
    hidden = redact_text(text) != text
    try:
        value = loads_json(text.encode())
    except (ValueError, RecursionError) as exc:
        problems.append(f"{name}: invalid JSON ({str(exc)[:80]})")
        return {}, hidden
    if not isinstance(value, dict):
        problems.append(f"{name}: expected a JSON object, found {type(value).__name__}; ignored")
        return {}, hidden
    plain = {key: item if isinstance(item, str) else json.dumps(item) for key, item in flatten(value).items()}
    redacted = {key: str(item) for key, item in redactor.mapping(plain).items()}
    return dict(sorted(redacted.items())), hidden or redacted != plain


def _report_unparsed(name: str, unparsed: list[str], problems: list[str]) -> None:
    if unparsed:
        first = unparsed[0][:80]
        problems.append(f"{name}: {len(unparsed)} lines are not packages, skipped (first: {first!r})")


_Parser = Callable[[str, str, Redactor, list[str]], tuple[dict[str, str], bool]]
_PARSERS: dict[str, _Parser] = {
    "pip-freeze.txt": _pip, "conda-explicit.txt": _conda, "sys-env.json": _sys_env,
    "packages.txt": _pip, "env.json": _sys_env,
}
CAPTURES = ("pip-freeze.txt", "conda-explicit.txt", "sys-env.json")  # an entry's own, in artifacts/
SESSION_CAPTURES = {"packages.txt": "pip-freeze.txt", "env.json": "sys-env.json"}  # successor: per session
