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


class BuildConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    executor: Literal["local", "ray"] = "local"
    """How runs are read: `local` (a process pool on this machine) or `ray` (Ray tasks; pages
    are still rendered and written here)."""
    ray_address: str | None = None
    """With `executor: ray`: the cluster to use (default: RAY_ADDRESS, else a local Ray)."""
    workers: int = 0
    """Parallel readers; 0 picks one per CPU core."""
    log_tail_kib: int = 1024
    """The newest KiB of each log stream shown on its page; older output is cut."""
    racy_window_s: float = 2.0
    """Files modified this close to the build start are read again next time (raise it on NFS)."""
    heartbeat_timeout_s: float = 180.0
    """A run that is not finished and whose heartbeat is older than this is shown as stalled."""
    relist_every: int = 0
    """Re-list every directory every N builds even if its mtime is unchanged; 0 never."""


class SafetyConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    redact: list[str] = []
    """Extra regular expressions; params whose key matches one are redacted."""
    allow_paths: list[str] = []
    """Directories outside the roots that paths named in run data (output_dir, logs) may point into."""


Fraction = Annotated[float, msgspec.Meta(ge=0)]
Count = Annotated[int, msgspec.Meta(ge=1)]


class MetricRule(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    direction: Literal["higher", "lower", "none"] | None = None
    """Which way is better; default: inferred from the name (time, latency, ms → lower;
    throughput, tok/s, qps → higher). `none` plots the metric without calling changes."""
    threshold: Fraction | None = None
    min_history: Count | None = None
    consecutive: Count | None = None


class TrendsConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    threshold: Fraction = 0.05
    """The smallest relative change from the baseline that is called (0.05: 5 %)."""
    noise_factor: Fraction = 3.0
    """A change must also exceed this many robust standard deviations (1.4826 x MAD) of the
    baseline, so that a noisy metric needs a bigger step."""
    min_history: Count = 5
    """Good values needed before a change can be called."""
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
    roots: list[str] = []
    """Directories to scan for runs, and MLflow tracking stores: an `mlruns/` directory, or a URI
    `sqlite:///mlflow.db`, `http(s)://host:5000`, `file:///…/mlruns`. Empty: the bundled example runs."""
    out: str = "site"
    """The output directory."""
    theme: str = "default"
    """A bundled theme's name, or a path to a theme directory."""
    content: str = "content"
    """Markdown pages (front matter + Markdown) added to the site."""
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
        """What pages depend on: everything except where it was loaded from."""
        return msgspec.json.encode(msgspec.structs.replace(self, source=""))


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
    return _resolve_paths(config, base, str(file) if file.exists() else "", overrides)


def _read_yaml(file: Path) -> dict[str, object]:
    import yaml

    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:  # where, and what the parser expected there
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file)
        problem = "; ".join(filter(None, (exc.problem, exc.context)))
        raise ConfigError(f"{where}: not valid YAML ({problem}); fix it there") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = getattr(exc, "strerror", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"{file}: cannot read: {reason}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: expected a mapping of settings, got {type(data).__name__}")
    return data


def _decode(raw: dict[str, object], name: str) -> Config:
    """Check key by key so that every problem is reported at once, then convert."""
    problems = _check(raw, Config, "")
    for section, schema in _SECTIONS.items():
        if isinstance(raw.get(section), dict):
            problems += _check(raw[section], schema, section)
    problems += _check_root_uris(raw.get("roots"))
    problems += _check_metric_rules(raw.get("trends"))
    for pattern in _as_list(raw.get("safety", {}), "redact"):
        try:
            re.compile(str(pattern))
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
            problems.append(_describe(exc, prefix))
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


def _describe(exc: msgspec.ValidationError, prefix: str = "") -> str:
    """`Expected `int`, got `str` - at `$.workers`` → `build.workers: expected int, got str`."""
    message = str(exc)
    match = _MSGSPEC_PATH.search(message)
    path = match["path"].lstrip(".") if match else ""
    text = message[: match.start()] if match else message
    text = text.replace("`", "")
    key = ".".join(p for p in (prefix, path) if p)
    return f"{key}: {text[0].lower()}{text[1:]}" if key else text


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
    if "/" in theme or os.sep in theme:
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


def with_default_roots(config: Config) -> Config:
    """With no roots configured, build the bundled example runs (when this is a checkout)."""
    if config.roots:
        return config
    examples = Path(__file__).resolve().parent.parent / BUNDLED_EXAMPLES
    if not examples.is_dir():
        raise ConfigError("no roots configured: set 'roots' in sitegen.yaml or pass --root DIR")
    # the example sweep keeps its per-rank logs beside the runs, as submitit does
    safety = msgspec.structs.replace(
        config.safety, allow_paths=[*config.safety.allow_paths, str(examples.parent)]
    )
    return msgspec.structs.replace(config, roots=[str(examples)], safety=safety)
