"""What several built-in checks share: registrable domains (public suffix list), phrase
families found in one pass, and the host's deadline. One copy, so the checks agree on what
a domain is."""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import cache
from typing import Any

import ahocorasick_rs


def stop_if_late(deadline: float | None, check: str) -> None:
    """Raise TimeoutError once the host's deadline (`InspectContext.deadline`, a monotonic
    time) has passed. Called between a check's passes over the text: the host has already
    reported the overrun (`scan.budget_exceeded`), and this frees the check's thread."""
    if deadline is not None and time.monotonic() > deadline:
        raise TimeoutError(f"{check}: deadline")


class PhraseMatcher:
    """Many phrases, grouped in families, found in one pass (Aho-Corasick), on word boundaries.

    `count(text)` lower-cases and collapses white space, so "Act\\n  NOW" matches "act now";
    a text view's `folded` is that form already (pass it with `normalised=True`). The automaton
    is ahocorasick-rs's DFA: about ten times the speed of pyahocorasick's trie on 5 KB of mail.
    """

    def __init__(self, families: dict[str, Iterable[str]]) -> None:
        self.families = sorted(families)
        index: dict[str, set[str]] = {}
        for fam, phrases in families.items():
            for p in phrases:
                key = " ".join(str(p).lower().split())
                if key:
                    index.setdefault(key, set()).add(fam)
        keys = list(index)
        self._fams = [tuple(sorted(index[k])) for k in keys]
        self._auto = (ahocorasick_rs.AhoCorasick(keys, implementation=ahocorasick_rs.Implementation.DFA)
                      if keys else None)

    def count(self, text: str, normalised: bool = False, deadline: float | None = None,
              check: str = "phrases") -> dict[str, int]:
        """Occurrences per family. Overlapping phrases count once, as the longest that starts
        first ("satisfaction guaranteed" is one guarantee, not two). Past `deadline`, raises
        TimeoutError (`stop_if_late`): text dense with phrases makes millions of hits."""
        counts: dict[str, int] = {}
        if self._auto is None:
            return counts
        t = text if normalised else " ".join(text.lower().split())
        n = len(t)
        hits = []
        for i, (key, start, end) in enumerate(self._auto.find_matches_as_indexes(t, overlapping=True)):
            if i & 8191 == 8191:
                stop_if_late(deadline, check)
            last = end - 1
            if start > 0 and (t[start - 1].isalnum() and t[start].isalnum()):
                continue
            if end < n and (t[end].isalnum() and t[last].isalnum()):
                continue
            hits.append((start, start - end, key))
        hits.sort()
        covered = -1
        for start, neg_len, key in hits:
            if start <= covered:
                continue
            covered = start - neg_len - 1
            for fam in self._fams[key]:
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
