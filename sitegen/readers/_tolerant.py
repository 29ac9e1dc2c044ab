"""Read untrusted run files without raising: each helper returns what it could read and a problem.

Problems are short strings that start with the file name (`metrics.csv: …`), ready for `Run.warnings`.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import stat
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

import msgspec
import yaml

MAX_JSON_BYTES = 64 * 1024 * 1024
MAX_YAML_BYTES = 1024 * 1024
_BINARY_SAMPLE = 8192
# What a decoded value can hold that neither the cache (msgpack) nor a page can encode, and where
# it comes from: a lone surrogate (a `\ud800` escape, or its UTF-8 form, which Python's json
# decodes from bytes), an integer beyond 64 bits (19 digits or more)
_UNSTORABLE_SOURCE = re.compile(rb"\\[uU]0{0,4}[dD][89a-fA-F]|\xed[\xa0-\xbf]|[0-9]{19}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_INT_RANGE = range(-(2**63), 2**64)


class Tail(NamedTuple):
    """The newest part of a text file, decoded; `truncated` when older bytes were left out."""

    text: str
    size: int
    truncated: bool
    binary: bool
    undecodable: bool = False  # not valid UTF-8: bad bytes were replaced by U+FFFD


def stat_or_none(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def mtime_or_none(path: str) -> float | None:
    st = stat_or_none(path)
    return st.st_mtime if st is not None else None


def file_size(path: str) -> int | None:
    """Size of a regular file (links followed), or None for anything else or nothing."""
    st = stat_or_none(path)
    return st.st_size if st is not None and stat.S_ISREG(st.st_mode) else None


def list_dir(path: str) -> list[str] | None:
    """Sorted entry names, or None when the directory is missing or unreadable. A name that is not
    UTF-8 is left out: neither the cache nor a page can hold it."""
    try:
        names = os.listdir(path)
    except (OSError, ValueError):
        return None
    return sorted(name for name in names if not _SURROGATE.search(name))


def is_storable_name(name: str) -> bool:
    """False for a file name whose bytes are not UTF-8 (Python holds them as lone surrogates)."""
    return _SURROGATE.search(name) is None


def looks_binary(data: bytes) -> bool:
    """Text files hold no NUL bytes; a few stray ones are tolerated, many mean binary."""
    sample = data[:_BINARY_SAMPLE]
    return sample.count(0) > max(2, len(sample) // 100)


def read_bytes(path: str, max_bytes: int) -> tuple[bytes | None, str | None]:
    """The file's first `max_bytes` bytes; a problem when unreadable or cut at the cap."""
    name = os.path.basename(path)
    try:
        with _open_regular(path) as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        return None, f"{name}: {_os_reason(exc)}"
    if len(data) > max_bytes:
        cap = _size(max_bytes)
        return data[:max_bytes], f"{name}: larger than {cap}; only the first {cap} read"
    return data, None


def read_json(path: str, max_bytes: int = MAX_JSON_BYTES) -> tuple[object, str | None]:
    """The decoded JSON value, or None and why not (unreadable, too large, invalid, too deep)."""
    name = os.path.basename(path)
    data, problem = _read_whole(path, max_bytes)
    if data is None:
        return None, problem
    try:
        return loads_json(data), None
    except UnicodeDecodeError:
        return None, f"{name}: not valid UTF-8"
    except json.JSONDecodeError as exc:
        return None, f"{name}: invalid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
    except ValueError as exc:
        return None, f"{name}: invalid JSON ({exc})"
    except RecursionError:
        return None, f"{name}: JSON nested too deeply"


def read_yaml(path: str, max_bytes: int = MAX_YAML_BYTES) -> tuple[object, str | None]:
    """The decoded YAML value, plain data only: aliases are refused (alias bombs), tags ignored."""
    name = os.path.basename(path)
    data, problem = _read_whole(path, max_bytes)
    if data is None:
        return None, problem
    try:
        return storable(yaml.load(data, Loader=_PlainDataLoader)), None
    except yaml.YAMLError as exc:
        return None, f"{name}: invalid YAML ({_first_line(exc)})"
    except (ValueError, TypeError) as exc:
        return None, f"{name}: invalid YAML ({exc})"
    except RecursionError:
        return None, f"{name}: YAML nested too deeply"


def loads_json(data: bytes) -> object:
    """`json.loads` (NaN and Infinity accepted), made storable (see `storable`)."""
    value = json.loads(data)
    return storable(value) if _UNSTORABLE_SOURCE.search(data) else value


def storable(value: object) -> object:
    """A decoded value with each lone surrogate in its strings and keys made U+FFFD and each
    integer beyond 64 bits made a float: as decoders return them, the build could neither cache
    nor show the run."""
    root = [value]
    pending: list[tuple[list | dict, object]] = [(root, 0)]
    while pending:  # not recursive: the value may be nested as deeply as the decoder allows
        container, key = pending.pop()
        item = container[key]
        if isinstance(item, (str, int)):
            container[key] = _storable_scalar(item)
        elif isinstance(item, list):
            pending.extend((item, index) for index in range(len(item)))
        elif isinstance(item, dict):
            item = container[key] = {_storable_scalar(k): v for k, v in item.items()}
            pending.extend((item, k) for k in item)
    return root[0]


def _storable_scalar(value: object) -> object:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, int) and not isinstance(value, bool) and value not in _INT_RANGE:
        try:
            return float(value)
        except OverflowError:  # beyond 1e308
            return math.inf if value > 0 else -math.inf
    return value


def read_jsonl(path: str, max_bytes: int = MAX_JSON_BYTES) -> tuple[list[object], list[str]]:
    """The decoded lines of a JSON-lines file; bad lines are skipped and counted in one problem.

    A last line without a newline that does not decode is still being written: it is left out
    and reported as pending, not as bad.
    """
    name = os.path.basename(path)
    data, problem = read_bytes(path, max_bytes)
    problems = [problem] if problem else []
    if not data:
        return [], problems
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    records: list[object] = []
    bad_lines: list[int] = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            _decode_line(line, records, bad_lines, number)
    if tail.strip() and problem is None and not _decode_line(tail, records, [], 0):
        problems.append(f"{name}: last line incomplete (still being written); {len(records)} lines read")
    if bad_lines:
        problems.append(f"{name}: {len(bad_lines)} invalid lines skipped (first at line {bad_lines[0]})")
    return records, problems


class JsonlStream:
    """The values of a JSON-lines file one at a time, in memory bounded by its longest line.

    Once iterated, `problems` says what was skipped: lines that are not JSON (counted, the first
    named), a last line that is still being written (`pending`, a note rather than a fault), or
    why the file could not be read. NaN and Infinity, as Python's json writes them, are accepted.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.lines = 0
        self.bad_lines: list[int] = []
        self.pending = False
        self.problem: str | None = None

    def __iter__(self) -> Iterator[object]:
        try:
            handle = _open_regular(self.path)
        except OSError as exc:
            self.problem = f"{os.path.basename(self.path)}: {_os_reason(exc)}"
            return
        with handle:
            try:
                for line in handle:
                    self.lines += 1
                    if not line.strip():
                        continue
                    value = _decode_jsonl_line(line)
                    if value is not _BAD:
                        yield value
                    elif line.endswith(b"\n"):
                        self.bad_lines.append(self.lines)
                    else:
                        self.pending = True
            except OSError as exc:
                self.problem = f"{os.path.basename(self.path)}: {_os_reason(exc)} after line {self.lines}"

    @property
    def problems(self) -> list[str]:
        name = os.path.basename(self.path)
        found = [self.problem] if self.problem else []
        if self.bad_lines:
            found.append(f"{name}: {len(self.bad_lines)} lines are not JSON, skipped (first at line "
                         f"{self.bad_lines[0]})")
        return found


_BAD = object()


def _decode_jsonl_line(line: bytes) -> object:
    try:
        value = msgspec.json.decode(line)
        return storable(value) if _UNSTORABLE_SOURCE.search(line) else value
    except msgspec.DecodeError:
        pass
    except RecursionError:
        return _BAD
    try:
        return loads_json(line)  # NaN, Infinity
    except (ValueError, RecursionError):
        return _BAD


class CsvLines:
    """The whole, non-blank lines of a CSV file, a chunk of them at a time (BOM and CRLF removed).

    Memory is bounded by a chunk of about `chunk_bytes` (or the longest line), not by the file.
    Iterating again reads the same bytes of the same open file: a file replaced meanwhile is not
    mixed in, rows appended meanwhile are not read. Use it in a `with` block, which closes it.

    After the first pass, `problems` says what was not read: the file unreadable, cut at
    `max_bytes`, binary, empty, or a last line without a newline (still being written: left
    out, and noted). `discard` is set when the lines already given must be ignored (the file
    turned out to hold only whitespace, or failed mid-read).
    """

    def __init__(self, path: str, max_bytes: int, chunk_bytes: int = 64 * 1024) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.chunk_bytes = chunk_bytes
        self.problems: list[str] = []
        self.discard = False
        self._handle: BinaryIO | None = None
        self._end: int | None = None  # bytes up to the last whole line, set by the first pass

    def __enter__(self) -> CsvLines:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __iter__(self) -> Iterator[list[str]]:
        if self._end is None:
            yield from self._first_pass()
        elif self._handle is not None and self._end:
            self._handle.seek(0)
            yield from self._chunks(self._end, _Pass())

    def _first_pass(self) -> Iterator[list[str]]:
        name = os.path.basename(self.path)
        self._end = 0
        try:
            self._handle = _open_regular(self.path)
            binary = looks_binary(self._handle.read(_BINARY_SAMPLE))
            self._handle.seek(0)
        except OSError as exc:
            self.problems.append(f"{name}: {_os_reason(exc)}")
            return
        if binary:
            self.problems.extend([*self._cut_at_cap(), f"{name}: looks binary; not read"])
            return
        state = _Pass()
        yield from self._chunks(self.max_bytes, state)
        if state.error is not None:
            self.problems.append(f"{name}: {_os_reason(state.error)}")
            self.discard = True
            return
        self._end = state.done - len(state.tail)
        cap = self._cut_at_cap() if state.done == self.max_bytes else []
        self.problems.extend(cap)
        if state.blank:
            self.problems.append(f"{name}: empty")
            self.discard = True
        elif state.tail and not cap:
            rows_read = max(0, state.lines - 1)
            self.problems.append(f"{name}: last line incomplete (still being written); {rows_read} rows read")

    def _chunks(self, limit: int, state: _Pass) -> Iterator[list[str]]:
        """The lines in the first `limit` bytes; what follows the last newline is `state.tail`."""
        assert self._handle is not None
        encoding = "utf-8-sig"  # a BOM only at the very start
        while state.done < limit:
            try:
                block = self._handle.read(min(self.chunk_bytes, limit - state.done))
            except OSError as exc:
                state.error = exc
                return
            if not block:
                break
            state.done += len(block)
            state.blank = state.blank and not block.strip()
            newline = block.rfind(b"\n")
            if newline < 0:
                state.tail += block
                continue
            text = (state.tail + block[:newline + 1]).decode(encoding, errors="replace")
            state.tail = bytearray(block[newline + 1:])
            encoding = "utf-8"
            lines = [line for line in text.splitlines() if line]
            state.lines += len(lines)
            if lines:
                yield lines

    def _cut_at_cap(self) -> list[str]:
        """The problem of a file larger than `max_bytes`, read only that far."""
        assert self._handle is not None
        if os.fstat(self._handle.fileno()).st_size <= self.max_bytes:
            return []
        cap = _size(self.max_bytes)
        return [f"{os.path.basename(self.path)}: larger than {cap}; only the first {cap} read"]


class _Pass:
    """Where one pass over a CsvLines file got to."""

    def __init__(self) -> None:
        self.done = 0  # bytes read
        self.lines = 0  # non-blank lines given
        self.tail = bytearray()  # bytes after the last newline
        self.blank = True  # only whitespace so far
        self.error: OSError | None = None


def csv_rows(lines: list[str], first_line: int = 1) -> tuple[list[list[str]], list[str]]:
    """One CSV row per line, and why each line the csv module refuses (unterminated quote, field
    size limit …) was skipped ("line 3: …"); such a line cannot swallow the lines after it.
    Lines are numbered from `first_line`.
    """
    try:
        rows = list(csv.reader(lines, strict=True))
        if len(rows) == len(lines):
            return rows, []
    except csv.Error:
        pass
    rows, errors = [], []
    for number, line in enumerate(lines, first_line):
        try:
            rows.append(next(csv.reader([line], strict=True), []))
        except csv.Error as exc:
            errors.append(f"line {number}: {exc}")
    return rows, errors


def read_tail(path: str, max_bytes: int) -> tuple[Tail | None, str | None]:
    """At most `max_bytes` of the file's newest text, starting at a line boundary when cut."""
    name = os.path.basename(path)
    try:
        with _open_regular(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            truncated = size > max_bytes
            if truncated:
                handle.seek(size - max_bytes)
            data = handle.read(max_bytes)
    except OSError as exc:
        return None, f"{name}: {_os_reason(exc)}"
    if truncated:
        newline = data.find(b"\n")
        data = data[newline + 1:] if newline != -1 else data
    binary = looks_binary(data)
    try:
        return Tail(data.decode("utf-8"), size, truncated, binary), None
    except UnicodeDecodeError as exc:
        # a character cut at the end is one still being written, not bad encoding
        undecodable = exc.reason != "unexpected end of data"
        return Tail(data.decode("utf-8", errors="replace"), size, truncated, binary, undecodable), None


class _PlainDataLoader(yaml.SafeLoader):
    """safe_load that refuses aliases and reads unknown tags (`!!python/tuple` …) as plain data."""

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases are not allowed", event.start_mark)
        return super().compose_node(parent, index)


def _construct_plain(loader: yaml.SafeLoader, node: yaml.Node) -> object:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_PlainDataLoader.add_constructor(None, _construct_plain)


def _decode_line(line: bytes, records: list[object], bad_lines: list[int], number: int) -> bool:
    try:
        records.append(loads_json(line))
    except (ValueError, RecursionError):
        bad_lines.append(number)
        return False
    return True


def _read_whole(path: str, max_bytes: int) -> tuple[bytes | None, str | None]:
    data, problem = read_bytes(path, max_bytes)
    if problem is not None:
        too_large = f"{os.path.basename(path)}: larger than {_size(max_bytes)}; not read"
        return None, too_large if data is not None else problem
    return data, None


class _NotRegularFile(OSError):
    pass


def _open_regular(path: str) -> BinaryIO:
    """Open for reading without blocking on a FIFO, and refuse anything but a regular file."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _NotRegularFile()
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "vanished or a dangling link"
    if isinstance(exc, _NotRegularFile):
        return "not a regular file"
    return f"unreadable ({exc.strerror or type(exc).__name__})"


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return " ".join(line.strip() for line in lines[:2]) if lines else type(exc).__name__


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB" if n >= 1024 * 1024 else f"{n} bytes"
