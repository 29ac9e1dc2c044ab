"""Turn untrusted names into short, unique strings safe for URLs and file names."""

import hashlib
import re

_UNSAFE = re.compile(r"[^a-z0-9._-]+")
_MAX_STEM = 60


def slugify(text: str) -> str:
    """Lower-case ASCII letters, digits, `.`, `_` and `-`; never empty, never a dot name."""
    stem = _UNSAFE.sub("-", text.lower()).strip("-.")
    return stem[:_MAX_STEM].rstrip("-.") or "x"


def run_slug(root: str, run_id: str) -> str:
    """A stable slug for a run: readable stem plus a short hash of where it lives."""
    digest = hashlib.blake2b(f"{root}\0{run_id}".encode(), digest_size=4).hexdigest()
    return f"{slugify(run_id)}-{digest}"


def unique_slugs(names: list[str]) -> list[str]:
    """Slugs for a list of names, made unique by a numeric suffix in order."""
    seen: set[str] = set()
    result = []
    for name in names:
        base = slugify(name)
        slug, n = base, 2
        while slug in seen:
            slug, n = f"{base}-{n}", n + 1
        seen.add(slug)
        result.append(slug)
    return result
