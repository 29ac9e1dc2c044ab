"""The one config schema: `sitegen.yaml` decoded into typed structs, every problem named by key."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from sitegen import tracking_uri
from sitegen.errors import ConfigError

DEFAULT_CONFIG_FILE = "sitegen.yaml"
ACKNOWLEDGED_FILE = "acknowledged.yaml"  # in the content dir: regressions marked as known
BUNDLED_EXAMPLES = "examples/runs"
_PACKAGE = Path(__file__).resolve().parent
_THEMES = (_PACKAGE / "themes", _PACKAGE.parent / "themes")  # inside the wheel, in a checkout
_CENTURY_S = 100 * 365 * 24 * 3600


class BuildConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    executor: Literal["local", "ray"] = "local"
    """How runs are read: `local` (a process pool on this machine) or `ray` (Ray tasks; pages
    are rendered and written here, or by the tasks too with `shared_out`)."""
    ray_address: str | None = None
    """With `executor: ray`: the cluster to use (default: RAY_ADDRESS, else a local Ray)."""
    shared_out: bool = False
    """With `executor: ray`: the output directory is on a file system every Ray worker sees at
    the same path (NFS, Lustre …), so the tasks render and write the run pages themselves; the
    manifest and the pages about all runs are still written here. false: the tasks only read,
    and the runs come back here to be rendered."""
    workers: Annotated[int, msgspec.Meta(ge=0, le=512)] = 0
    """Parallel readers; 0 picks one per CPU core. At most 512, a process each: reading is bound
    by the disks long before that, even on the largest machines."""
    log_tail_kib: Annotated[int, msgspec.Meta(ge=1, le=65536)] = 1024
    """The newest KiB of each log stream shown on its page; older output is cut. At most 65536
    (64 MiB): a bigger page is more than a browser opens comfortably."""
    racy_window_s: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 2.0
    """Files modified this close to the build start are read again next time (raise it on NFS,
    whose attribute caches hold for seconds to a minute; at most an hour)."""
    heartbeat_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=_CENTURY_S)] = 180.0
    """A run that is not finished and whose heartbeat is older than this is shown as stalled
    (more than 0; at most 100 years, 3153600000, which in effect never calls a run stalled)."""
    relist_every: Annotated[int, msgspec.Meta(ge=0, le=10000)] = 0
    """Re-list every directory even if its mtime is unchanged in one build out of N, drawn at
    random (a no-op build writes nothing, so builds are not counted); 0 never (at most 10000)."""


NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]  # a path: '' would silently mean "here"


class SafetyConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    redact: list[str] = []
    """Extra regular expressions; params whose key matches one are redacted."""
    allow_paths: list[NonEmpty] = []
    """Directories outside the roots that paths named in run data (output_dir, logs) may point into."""


Ratio = Annotated[float, msgspec.Meta(ge=0, le=100)]  # 100: a hundred-fold change, or 100 deviations
Count = Annotated[int, msgspec.Meta(ge=1, le=10000)]  # values of one metric: years of nightly runs


class MetricRule(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    direction: Literal["higher", "lower", "none"] | None = None
    """Which way is better; default: inferred from the name (time, latency, ms → lower;
    throughput, tok/s, qps → higher). `none` plots the metric without calling changes."""
    threshold: Ratio | None = None
    min_history: Count | None = None
    consecutive: Count | None = None


class TrendsConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    threshold: Ratio = 0.05
    """The smallest relative change from the baseline that is called (0.05: 5 %; 0 to 100)."""
    noise_factor: Ratio = 3.0
    """A change must also exceed this many robust standard deviations (1.4826 x MAD) of the
    baseline, so that a noisy metric needs a bigger step (0 to 100)."""
    min_history: Count = 5
    """Good values needed before a change can be called (this and the counts below: 1 to 10000)."""
    window: Count = 10
    """The baseline is the median of up to this many previous good values."""
    consecutive: Count = 2
    """Values in a row beyond the threshold before a change is called (PyTorch HUD uses 2, so
    one noisy night is no alarm); the newest value alone is shown as suspected."""
    metrics: dict[str, MetricRule] = {}
    """Per metric, by name or glob (`"*ttft*"`): direction, threshold, min_history, consecutive.
    The first matching pattern wins, an exact name before any glob."""


class Config(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    title: str = "Benchmark reports"
    """The site's title, shown on every page."""
    roots: list[NonEmpty] = []
    """Directories to scan for runs, and MLflow tracking stores: an `mlruns/` directory, or a URI
    `sqlite:///mlflow.db`, `http(s)://host:5000`, `file:///…/mlruns`. Empty: the bundled example runs."""
    out: NonEmpty = "site"
    """The output directory: new, empty or made by sitegen (a directory some other tool or person
    filled, a run root or one holding a root is refused; see `sitegen.out_dir`)."""
    theme: NonEmpty = "default"
    """A bundled theme's name, or a path to a theme directory."""
    content: NonEmpty = "content"
    """Markdown pages (front matter + Markdown) added to the site; when set, it must exist."""
    build: BuildConfig = BuildConfig()
    safety: SafetyConfig = SafetyConfig()
    trends: TrendsConfig = TrendsConfig()
    source: str = ""
    """The file this config came from (set by the loader, not in the file)."""

    @property
    def acknowledged(self) -> str:
        """The file of decisions on regressions (`sitegen.analysis.acknowledged`)."""
        return os.path.join(self.content, ACKNOWLEDGED_FILE)

    def fingerprint(self) -> bytes:
        """What pages depend on: everything except where it was loaded from and where the work
        is done (a build on a Ray cluster renders what a local one does)."""
        build = msgspec.structs.replace(self.build, executor="local", ray_address=None, workers=0,
                                        shared_out=False)
        return msgspec.json.encode(msgspec.structs.replace(self, source="", build=build))


def load_config(path: str | None = None, **overrides: object) -> Config:
    """Read `path` (default `sitegen.yaml` when it exists), then apply CLI overrides.

    Relative paths in the file are relative to the file's directory, those from flags to the
    working directory; all come out absolute.
    """
    file = Path(path or DEFAULT_CONFIG_FILE)
    raw: dict[str, object] = {}
    if file.exists():
        raw = _read_yaml(file)
    elif path:
        raise ConfigError(f"{file}: config file not found")
    base = file.resolve().parent if file.exists() else Path.cwd()
    for key, value in overrides.items():
        if value is None or value == [] or value == ():
            continue
        section, _, field = key.rpartition(".")
        target = raw.setdefault(section, {}) if section else raw
        if isinstance(target, dict):
            target[field] = value
    config = _decode(raw, str(file))
    config = _resolve_paths(config, base, str(file) if file.exists() else "", overrides)
    problems = _missing_dirs(config, content_set="content" in raw)
    if problems:
        raise ConfigError("\n".join(f"{file}: {p}" for p in problems))
    return config


def _read_yaml(file: Path) -> dict[str, object]:
    data = read_yaml(file)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: expected a mapping of settings, got {type(data).__name__}")
    return data


def read_yaml(file: Path) -> object:
    """A settings file's YAML, safe-loaded; a ConfigError saying where when it is not valid YAML,
    when a key is given twice (YAML would silently keep the last one) or when it is nested too
    deeply to be settings."""
    import yaml

    try:
        loader = yaml.SafeLoader(file.read_text(encoding="utf-8"))
        try:
            node = loader.get_single_node()
            twice = _keys_given_twice(node)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:  # where, and what the parser expected there
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file)
        problem = "; ".join(filter(None, (exc.problem, exc.context)))
        raise ConfigError(f"{where}: not valid YAML ({problem}); fix it there") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = getattr(exc, "strerror", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"{file}: cannot read: {reason}") from None
    except RecursionError:
        raise ConfigError(f"{file}: nested too deeply to be settings; fix it there") from None
    except ValueError as exc:  # a number longer than Python converts (4300 digits)
        reason = str(exc).partition(":")[0]
        reason = reason[:1].lower() + reason[1:]
        raise ConfigError(f"{file}: not valid YAML ({reason}); fix it there") from None
    if twice:
        raise ConfigError("\n".join(f"{file}:{line}: {key}: given twice (first on line {first}); keep one"
                                    for line, key, first in twice))
    return data


def _keys_given_twice(document: object) -> list[tuple[int, str, int]]:
    """(line, key, line it was first given on) of every key given twice in a mapping of the
    composed document; merged keys (`<<: *defaults`) may be overridden, as YAML means."""
    import yaml

    found = []
    stack, seen = [(document, "")], set()
    while stack:  # not recursive: the document may be deep
        node, path = stack.pop()
        if id(node) in seen:  # an alias: the anchored node is checked once
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{path}[{index}]") for index, item in enumerate(node.value))
        if not isinstance(node, yaml.MappingNode):
            continue
        first: dict[tuple[str, str], int] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else "?"
            where = f"{path}.{name}" if path else name
            stack.append((value, where))
            if key.tag == "tag:yaml.org,2002:merge" or not isinstance(key, yaml.ScalarNode):
                continue
            line = key.start_mark.line + 1
            if (key.tag, name) in first:
                found.append((line, where, first[key.tag, name]))
            first.setdefault((key.tag, name), line)
    return sorted(found)


def _decode(raw: dict[str, object], name: str) -> Config:
    """Check key by key so that every problem is reported at once, then convert."""
    problems = _check(raw, Config, "")
    for section, schema in _SECTIONS.items():
        if isinstance(raw.get(section), dict):
            problems += _check(raw[section], schema, section)
    problems += _check_root_uris(raw.get("roots"))
    problems += _check_metric_rules(raw.get("trends"))
    for pattern in _as_list(raw.get("safety", {}), "redact"):
        if not isinstance(pattern, str):
            continue  # a problem of its type, already named
        try:
            re.compile(pattern)
        except re.error as exc:
            problems.append(f"safety.redact: invalid pattern {pattern!r}: {exc}")
    if not problems:
        try:
            return msgspec.convert(raw, Config)
        except msgspec.ValidationError as exc:
            problems.append(_describe(exc))
    raise ConfigError("\n".join(f"{name}: {p}" for p in problems))


_SECTIONS = {"build": BuildConfig, "safety": SafetyConfig, "trends": TrendsConfig}


def _check(raw: dict[str, object], schema: type, prefix: str) -> list[str]:
    problems = []
    for key, value in raw.items():
        where = f"{prefix}.{key}" if prefix else str(key)
        if key not in schema.__struct_fields__ or key == "source":
            problems.append(f"{where}: unknown key (expected one of {', '.join(_fields(schema))})")
            continue
        if isinstance(value, dict) and ((key in _SECTIONS and not prefix) or where == "trends.metrics"):
            continue  # checked key by key on their own
        try:
            msgspec.convert({key: value}, schema)
        except msgspec.ValidationError as exc:
            problems.append(_describe(exc, prefix, value))
    return problems


def _check_metric_rules(trends: object) -> list[str]:
    """Each rule checked on its own, so that a problem names its metric pattern."""
    rules = trends.get("metrics") if isinstance(trends, dict) else None
    if not isinstance(rules, dict):
        return []
    problems = []
    for pattern, rule in rules.items():
        where = f"trends.metrics.{pattern}"
        if not isinstance(rule, dict):
            problems.append(f"{where}: expected a mapping (direction, threshold, min_history, consecutive)")
        else:
            problems += _check(rule, MetricRule, where)
    return problems


def _check_root_uris(roots: object) -> list[str]:
    problems = []
    for root in roots if isinstance(roots, list) else []:
        scheme = tracking_uri.scheme(root) if isinstance(root, str) else None
        if scheme is None:
            continue
        if scheme not in tracking_uri.SCHEMES:
            problems.append(f"roots: {root!r}: not a directory or a tracking URI sitegen reads "
                            f"({', '.join(s + '://' for s in tracking_uri.SCHEMES)})")
        elif tracking_uri.has_credentials(root):
            problems.append(f"roots: {_hide_credentials(root)!r}: credentials in a root would be "
                            "published with the site; set MLFLOW_TRACKING_USERNAME and "
                            "MLFLOW_TRACKING_PASSWORD instead")
    return problems


def _hide_credentials(uri: str) -> str:
    scheme, _, rest = uri.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"


def _fields(schema: type) -> list[str]:
    return [f for f in schema.__struct_fields__ if f != "source"]


def _as_list(section: object, key: str) -> list[object]:
    value = section.get(key) if isinstance(section, dict) else None
    return value if isinstance(value, list) else []


_MSGSPEC_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def _describe(exc: msgspec.ValidationError, prefix: str = "", value: object = None) -> str:
    """`Expected `int`, got `str` - at `$.workers`` → `build.workers: expected int, got str`;
    `Expected `int` >= 0 - at `$.workers`` → `build.workers: expected int >= 0, got -4`."""
    message = str(exc)
    match = _MSGSPEC_PATH.search(message)
    path = match["path"].lstrip(".") if match else ""
    text = message[: match.start()] if match else message
    text = text.replace("`", "").replace("str of length >= 1", "a path ('.' is the current directory)")
    if value is not None and path.isidentifier() and ", got " not in text:
        text += f", got {_shown(value)}"  # out of bounds: the value, not its type, is wrong
    key = ".".join(p for p in (prefix, path) if p)
    return f"{key}: {text[0].lower()}{text[1:]}" if key else text


def _shown(value: object) -> str:
    """A scalar as it was given, cut short; anything else by its type."""
    if not isinstance(value, (bool, int, float, str)):
        return type(value).__name__
    try:
        text = repr(value)
    except ValueError:  # an int longer than Python prints
        return "a number too long to show"
    return text if len(text) <= 40 else f"{text[:37]}..."


def _resolve_paths(config: Config, base: Path, source: str, overrides: dict[str, object]) -> Config:
    def resolve(p: str, from_cli: bool) -> str:
        p = os.path.expanduser(p)
        return os.path.normpath(p if os.path.isabs(p) else (Path.cwd() if from_cli else base) / p)

    def resolve_root(root: str, from_cli: bool) -> str:
        if tracking_uri.scheme(root) is None:
            return resolve(root, from_cli)
        return tracking_uri.absolute(root, Path.cwd() if from_cli else base)

    roots = [resolve_root(r, "roots" in overrides and bool(overrides["roots"])) for r in config.roots]
    theme = config.theme
    if _is_path(theme):
        theme = resolve(theme, bool(overrides.get("theme")))
    return msgspec.structs.replace(
        config,
        roots=roots,
        out=resolve(config.out, bool(overrides.get("out"))),
        content=resolve(config.content, bool(overrides.get("content"))),
        theme=theme,
        safety=msgspec.structs.replace(
            config.safety, allow_paths=[resolve(p, False) for p in config.safety.allow_paths]
        ),
        source=source,
    )


def _missing_dirs(config: Config, content_set: bool) -> list[str]:
    """The theme, and the content dir when one is set, must exist: found before a build creates
    anything (the default content dir may be absent: a site without pages of its own)."""
    problems = []
    theme = theme_dir(config.theme)
    if not (theme / "templates").is_dir():
        problems.append(f"theme: {_not_a_theme(config.theme, theme)}")
    if content_set and not os.path.isdir(config.content):
        problems.append(f"content: {config.content} is not a directory; create it, or leave 'content' "
                        "out for a site without pages of your own")
    return problems


def _not_a_theme(theme: str, directory: Path) -> str:
    if _is_path(theme):
        return (f"{directory} is not a theme directory (no templates/ in it); give a theme "
                "directory or a bundled theme's name")
    bundled = sorted({d.name for themes in _THEMES if themes.is_dir() for d in themes.iterdir()
                      if (d / "templates").is_dir()})
    return f"no bundled theme {theme!r} (bundled: {', '.join(bundled)}); name one or give a theme directory"


def _is_path(theme: str) -> bool:
    return "/" in theme or os.sep in theme


def theme_dir(theme: str) -> Path:
    """A bundled theme by name (inside the wheel, or the source checkout), or a directory."""
    if _is_path(theme):
        return Path(theme)
    for themes in _THEMES:
        if (themes / theme).is_dir():
            return themes / theme
    return _THEMES[-1] / theme


def with_default_roots(config: Config) -> Config:
    """With no roots configured, build the bundled example runs (when this is a checkout)."""
    if config.roots:
        return config
    examples = _PACKAGE.parent / BUNDLED_EXAMPLES
    if not examples.is_dir():
        raise ConfigError("no roots configured: set 'roots' in sitegen.yaml or pass --root DIR")
    # the example sweep keeps its per-rank logs beside the runs, as submitit does
    safety = msgspec.structs.replace(
        config.safety, allow_paths=[*config.safety.allow_paths, str(examples.parent)]
    )
    return msgspec.structs.replace(config, roots=[str(examples)], safety=safety)
