"""Keep secrets off the site: redact secret-looking keys and credentials in values.

Keys are split into words (`hf_token` → hf, token; `apiKey` → api, key), so
`max_tokens` and `total_output_tokens` are benchmark data and survive.
Readers call this before anything is cached.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping

REDACTED = "***"

SECRET_WORDS = frozenset(
    {"token", "secret", "password", "passwd", "webhook", "credential", "credentials",
     "apikey", "authorization", "cookie", "passphrase"}
)
SECRET_PAIRS = frozenset({("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key")})

_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
# Each pattern that starts with a run of characters tries only the run's first position and
# never backtracks into it (a lookbehind, possessive quantifiers): tried at every position, a
# 300 kB line of dashes or letters took minutes.
_URL_CREDENTIALS = re.compile(
    r"(?<![A-Za-z0-9+.-])(?P<lead>[0-9+.-]*+)(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*+://)[^/\s:@]++:[^/\s@]++@"
)
_TOKEN_SHAPES = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16})\b"
)
_AUTH_HEADER = re.compile(r"(?P<scheme>\b(?:Bearer|Basic|Token)\s+)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
# `HF_TOKEN=...` in an environment dump; the key's words decide, so MAX_TOKENS=8 survives
_ENV_ASSIGNMENT = re.compile(r"\b(?P<key>[A-Z][A-Z0-9_]*)=(?P<value>[^\s\"']+)")
_SECRET_FLAG = re.compile(
    r"(?<![A-Za-z0-9_-])(?P<lead>[A-Za-z0-9_]*+)"
    r"(?P<flag>-(?=[A-Za-z0-9_-]*?(?:token|secret|password|passwd|api[-_]?key|webhook))[A-Za-z0-9_-]*+)"
    r"(?P<sep>[= ])(?P<value>\S+)",
    re.IGNORECASE,
)


def key_words(key: str) -> list[str]:
    return [w.lower() for w in _WORD_SPLIT.split(key) if w]


def is_secret_key(key: str, extra: Iterable[re.Pattern[str]] = ()) -> bool:
    words = key_words(key)
    if any(w in SECRET_WORDS for w in words):
        return True
    if any(pair in SECRET_PAIRS for pair in itertools.pairwise(words)):
        return True
    return any(p.search(key) for p in extra)


def redact_text(text: str) -> str:
    """Credentials inside URLs, well-known token shapes, `Bearer X` authorizations,
    `--token=X` style flags and `SOME_TOKEN=X` environment assignments."""
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['lead']}{m['scheme']}{REDACTED}@", text)
    text = _TOKEN_SHAPES.sub(REDACTED, text)
    text = _AUTH_HEADER.sub(lambda m: f"{m['scheme']}{REDACTED}", text)
    text = _ENV_ASSIGNMENT.sub(_redact_assignment, text)
    return _SECRET_FLAG.sub(_redact_flag, text)


def _redact_flag(match: re.Match[str]) -> str:
    """The regex finds candidates; the flag's words decide (`--max-tokens 512` survives)."""
    if is_secret_key(match["flag"]):
        return f"{match['lead']}{match['flag']}{match['sep']}{REDACTED}"
    return match[0]


def _redact_assignment(match: re.Match[str]) -> str:
    return f"{match['key']}={REDACTED}" if is_secret_key(match["key"]) else match[0]


class Redactor:
    """Redacts mappings of params, env captures and metadata; extra key patterns from config."""

    def __init__(self, extra_patterns: Iterable[str] = ()) -> None:
        self.extra = tuple(re.compile(p, re.IGNORECASE) for p in extra_patterns)

    def value(self, key: str, value: object) -> object:
        if is_secret_key(key, self.extra):
            return REDACTED
        if isinstance(value, str):
            return redact_text(value)
        return value

    def mapping(self, items: Mapping[str, object]) -> dict[str, object]:
        return {k: self.value(k, v) for k, v in items.items()}

    def tree(self, value: object, depth: int = 0) -> object:
        """A JSON-like value with every secret-keyed entry and credential-looking text redacted."""
        if isinstance(value, str):
            return redact_text(value)
        if depth > 64:
            return value
        if isinstance(value, dict):
            return {key: REDACTED if is_secret_key(str(key), self.extra) else self.tree(item, depth + 1)
                    for key, item in value.items()}
        if isinstance(value, list):
            return [self.tree(v, depth + 1) for v in value]
        return value
