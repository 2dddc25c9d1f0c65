"""What several built-in checks share: registrable domains (public suffix list), phrase
families found in one pass, and the host's deadline. One copy, so the checks agree on what
a domain is."""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import cache
from typing import Any

import ahocorasick


def stop_if_late(deadline: float | None, check: str) -> None:
    """Raise TimeoutError once the host's deadline (`InspectContext.deadline`, a monotonic
    time) has passed. Called between a check's passes over the text: the host has already
    reported the overrun (`scan.budget_exceeded`), and this frees the check's thread."""
    if deadline is not None and time.monotonic() > deadline:
        raise TimeoutError(f"{check}: deadline")


class PhraseMatcher:
    """Many phrases, grouped in families, found in one pass (Aho-Corasick), on word boundaries.

    `count(text)` lower-cases and collapses white space, so "Act\\n  NOW" matches "act now".
    """

    def __init__(self, families: dict[str, Iterable[str]]) -> None:
        self.families = sorted(families)
        self._auto = ahocorasick.Automaton()
        index: dict[str, set[str]] = {}
        for fam, phrases in families.items():
            for p in phrases:
                key = " ".join(str(p).lower().split())
                if key:
                    index.setdefault(key, set()).add(fam)
        for key, fams in index.items():
            self._auto.add_word(key, (len(key), tuple(sorted(fams))))
        if index:
            self._auto.make_automaton()
        self._empty = not index

    def count(self, text: str, normalised: bool = False, deadline: float | None = None,
              check: str = "phrases") -> dict[str, int]:
        """Occurrences per family. Overlapping phrases count once, as the longest that starts
        first ("satisfaction guaranteed" is one guarantee, not two). Past `deadline`, raises
        TimeoutError (`stop_if_late`): text dense with phrases makes millions of hits."""
        counts: dict[str, int] = {}
        if self._empty:
            return counts
        t = text if normalised else " ".join(text.lower().split())
        n = len(t)
        hits = []
        for i, (end, (length, fams)) in enumerate(self._auto.iter(t)):
            if i & 8191 == 8191:
                stop_if_late(deadline, check)
            start = end - length + 1
            if start > 0 and (t[start - 1].isalnum() and t[start].isalnum()):
                continue
            if end + 1 < n and (t[end + 1].isalnum() and t[end].isalnum()):
                continue
            hits.append((start, -length, fams))
        hits.sort()
        covered = -1
        for start, neg_len, fams in hits:
            if start <= covered:
                continue
            covered = start - neg_len - 1
            for fam in fams:
                counts[fam] = counts.get(fam, 0) + 1
        return counts


@cache
def psl() -> Any:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def registrable(host: str) -> str:
    """The registrable domain (eTLD+1) of `host`, lower-cased; the host itself if unknown."""
    host = host.strip().strip(".").lower()
    if not host:
        return ""
    try:
        return psl().privatesuffix(host) or host
    except Exception:
        return host
