"""Organisation-specific identifier patterns from rule files (an MRN format, say).

Compiled with the `regex` module and always run with a timeout, so a pattern that
backtracks forever costs one finding, not a hung milter.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import regex

from outguard.core.findings import Finding, redact
from outguard.core.message import Message


class PatternError(ValueError):
    """A pattern does not compile."""


@dataclass(frozen=True)
class Pattern:
    id: str
    compiled: Any
    keywords: Any | None
    keyword_list: tuple[str, ...]
    within: int
    confidence: float
    confidence_without_keyword: float
    reveal_last: int
    where: tuple[str, ...]

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Pattern:
        flags = regex.IGNORECASE if spec.get("ignore_case") else 0
        try:
            compiled = regex.compile(spec["regex"], flags | regex.VERSION1)
        except (regex.error, OverflowError, RecursionError) as exc:
            raise PatternError(f"regex does not compile: {exc}") from None
        words = tuple(spec.get("keywords") or ())
        keywords = None
        if words:
            alternation = "|".join(regex.escape(w) for w in sorted(words, key=len, reverse=True))
            keywords = regex.compile(rf"(?<!\w)(?:{alternation})(?!\w)", regex.IGNORECASE)
        return cls(
            id=spec["id"],
            compiled=compiled,
            keywords=keywords,
            keyword_list=words,
            within=int(spec.get("within", 60)),
            confidence=float(spec.get("confidence", 0.9)),
            confidence_without_keyword=float(spec.get("confidence_without_keyword", 0.0 if words else 0.9)),
            reveal_last=int(spec.get("reveal_last", 2)),
            where=tuple(spec.get("where") or ()),
        )


@dataclass(frozen=True)
class _Hit:
    value: str
    where: str
    keyword: str | None


class PatternSet:
    """The custom patterns of one rule set; immutable, so a reload can swap it whole."""

    def __init__(self, patterns: Iterable[Pattern] = ()) -> None:
        self.patterns = tuple(patterns)

    def __len__(self) -> int:
        return len(self.patterns)

    @property
    def ids(self) -> tuple[str, ...]:
        """The finding ids these patterns report (each pattern's own id)."""
        return tuple(p.id for p in self.patterns)

    def scan(self, message: Message, timeout: float, deadline: float | None = None) -> list[Finding]:
        """Every pattern over its views, each search within `timeout` (one that overruns it is
        a `scan.pattern_timeout` finding). Past `deadline` (the check's, from the host) it
        raises TimeoutError instead: the host reports that as `scan.budget_exceeded`."""
        findings: list[Finding] = []
        for pattern in self.patterns:
            try:
                hits = list(self._hits(pattern, message, timeout, deadline))
            except TimeoutError:
                if _late(deadline):
                    raise TimeoutError("custom patterns: deadline") from None
                findings.append(Finding("scan.pattern_timeout", where=("body",),
                                        detail=f"pattern {pattern.id} stopped after {timeout:g} s"))
                continue
            if hits:
                findings.append(self._finding(pattern, hits))
        return findings

    def _hits(self, p: Pattern, message: Message, timeout: float, deadline: float | None) -> Iterable[_Hit]:
        def limit() -> float:
            if _late(deadline):
                raise TimeoutError("custom patterns: deadline")
            return timeout if deadline is None else max(0.001, min(timeout, deadline - time.monotonic()))

        for view in message.texts(*p.where):
            near: list[tuple[int, int, str]] = []
            if p.keywords is not None:
                near = [(m.start(), m.end(), m.group()) for m in p.keywords.finditer(view.text, timeout=limit())]
            for n, m in enumerate(p.compiled.finditer(view.text, timeout=limit())):
                if n % 256 == 255:
                    limit()   # a census matches a record-number pattern 100,000 times
                if not m.group():
                    continue
                keyword = next((w for s, e, w in near if s - p.within <= m.end() and e + p.within >= m.start()), None)
                if keyword is None and p.confidence_without_keyword <= 0:
                    continue
                yield _Hit(m.group(), view.where, keyword)

    @staticmethod
    def _finding(p: Pattern, hits: list[_Hit]) -> Finding:
        unique = {h.value for h in hits}
        with_keyword = [h for h in hits if h.keyword]
        confidence = p.confidence if with_keyword else p.confidence_without_keyword
        sample = (with_keyword or hits)[0]
        context = f' near "{_canonical_keyword(p, sample.keyword)}"' if sample.keyword else ""
        where = tuple(dict.fromkeys(h.where for h in hits))
        return Finding(p.id, confidence=confidence, count=len(unique), where=where,
                       detail=f"{redact(sample.value, p.reveal_last)}{context}")


def _late(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


def _canonical_keyword(p: Pattern, seen: str | None) -> str:
    """The keyword as the rule file spells it, so the message's own text never leaks."""
    return next((w for w in p.keyword_list if seen and w.lower() == seen.lower()), "keyword")
