"""Reference lists for recipient hygiene, loaded once: role-account local parts and the
large mailbox providers' domains (for typo suggestions). Data files live in `data/`."""

from __future__ import annotations

from functools import cache
from importlib import resources


def _lines(name: str) -> list[str]:
    text = resources.files("outguard_plugins.recipients").joinpath("data", name).read_text(encoding="utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


@cache
def role_local_parts() -> dict[str, str]:
    """local part -> category (rfc2142, marketing, notification, meeting, other)."""
    out: dict[str, str] = {}
    for line in _lines("role-local-parts.tsv"):
        local, _, category = line.partition("\t")
        out.setdefault(local.lower(), category or "other")
    return out


@cache
def mailbox_providers() -> tuple[str, ...]:
    return tuple(d.lower() for d in _lines("mailbox-providers.txt"))


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, giving up past `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]
