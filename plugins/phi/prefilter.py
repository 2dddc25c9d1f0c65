"""A regex tried only where one of its literal openings stands (found by one Aho-Corasick pass).

A case-insensitive alternation of fifty keywords ("ssn", "social security", "date of birth",
...) costs the `regex` and `re` engines an attempt at every position of the text: on 5 KB of
mail about 0.5 ms for the PHI check's keywords alone. Every match of such a pattern starts with
one of a few literal strings, which `ahocorasick-rs` finds in the lower-cased text in one pass
(~20 us per 5 KB); the pattern is then matched only at those positions. Trying the pattern at
every position where a match can start, left to right, gives exactly the matches `finditer`
gives (its lookbehinds see the text before the position, as they do in `finditer`).

The openings are derived from the pattern itself (`openings`), so a keyword added to the
pattern is found without touching a second list. The openings of every pattern of the check
share one automaton (`Group`): one pass over a text finds them all, where a pass per pattern
cost ten conversions of the same text for the Rust library. A pattern whose matches can start
with a class too wide to enumerate (`\\d`, `\\w`, `.`) has none: it is then run as before, and
so is text whose lower-cased form has another length (U+0130). The one difference from a
case-insensitive pattern: a character that case-folds to a letter without lower-casing to it
(U+017F, long s, folds to "s") does not open a match.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator
from typing import Any

import ahocorasick_rs

try:
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser as _p  # type: ignore[attr-defined]
except ImportError:   # Python < 3.11
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

MAX_OPENING = 8      # characters of an opening: longer ones are cut (fewer false starts, a smaller automaton)
MAX_OPENINGS = 4000  # a pattern with more openings than this is run as before
MAX_CLASS = 12       # characters of a class that is expanded ("[ie]"); wider classes end the opening

_ZERO_WIDTH = {_c.AT, _c.ASSERT, _c.ASSERT_NOT}


def _class_chars(items: Any) -> list[str] | None:
    chars: list[str] = []
    for op, av in items:
        if op is _c.LITERAL:
            chars.append(chr(av))
        elif op is _c.RANGE and av[1] - av[0] < MAX_CLASS:
            chars.extend(chr(c) for c in range(av[0], av[1] + 1))
        else:
            return None   # a category (\d, \w), a negated class, a wide range
    chars = sorted({ch.lower() for ch in chars})
    return chars if len(chars) <= MAX_CLASS else None


def _seq(items: list[Any], heads: set[str]) -> tuple[set[str], bool] | None:
    """Extend each of `heads` by the sequence `items`: (the extended strings, whether the whole
    sequence was consumed as literals). None: some head could not be extended at all."""
    out = set(heads)
    for op, av in items:
        if all(len(h) >= MAX_OPENING for h in out):
            return {h[:MAX_OPENING] for h in out}, False
        if op in _ZERO_WIDTH:
            continue
        if op is _c.LITERAL:
            out = {h + chr(av).lower() for h in out}
        elif op is _c.IN:
            chars = _class_chars(av)
            if chars is None:
                return out, False
            out = {h + ch for h in out for ch in chars}
        elif op is _c.SUBPATTERN:
            sub = _seq(list(av[-1]), out)
            if sub is None:
                return None
            out, whole = sub
            if not whole:
                return out, False
        elif op is _c.BRANCH:
            union: set[str] = set()
            whole = True
            for alt in av[1]:
                sub = _seq(list(alt), out)
                if sub is None:
                    return None
                union |= sub[0]
                whole = whole and sub[1]
            out = union
            if not whole:
                return out, False
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT) and av[0] >= 1:
            sub = _seq(list(av[2]), out)   # one occurrence for certain; what follows may vary
            return (sub[0], False) if sub is not None else None
        else:
            return out, False   # optional part, a wide class, a category: the opening ends here
        if len(out) > MAX_OPENINGS:
            return None
    return out, True


def openings(pattern: str) -> list[str] | None:
    """Lower-case literal strings, one of which starts every match of `pattern` (None when some
    match can start with a class too wide to list, or the pattern is not stdlib syntax)."""
    try:
        parsed = _p.parse(pattern)
    except Exception:  # noqa: BLE001 - `regex`-only syntax (\p{..}): run as before
        return None
    found = _seq(list(parsed), {""})
    if found is None or not found[0] or "" in found[0] or len(found[0]) > MAX_OPENINGS:
        return None
    keys = sorted({h[:MAX_OPENING] for h in found[0]}, key=len)
    kept: list[str] = []
    for key in keys:   # "ss" makes "ssn" redundant: each start position is then found once
        if not any(key.startswith(k) for k in kept):
            kept.append(key)
    return kept


class Group:
    """The openings of several patterns in one automaton: one pass over a text finds where each
    pattern's openings start. The positions of the last KEEP texts are kept for the next pattern
    that asks: the check reads each view for identifiers, then again for health context."""

    KEEP = 4

    def __init__(self) -> None:
        self._owners: dict[str, list[int]] = {}   # opening -> members it opens
        self._size = 0
        self._spans: set[int] = set()   # members that want (start, end) pairs rather than starts
        self._built: tuple[Any, list[list[int]], int, frozenset[int]] | None = None
        self._last: tuple[tuple[str, list[list[Any]]], ...] = ()
        self._lock = threading.Lock()

    def join(self, keys: list[str], spans: bool = False) -> int:
        """Add a member with these openings; its index. `spans`: the member reads (start, end)
        pairs (`spans()`), to know which of its openings stands there."""
        with self._lock:
            index, self._size = self._size, self._size + 1
            for key in keys:
                self._owners.setdefault(key, []).append(index)
            if spans:
                self._spans.add(index)
            self._built = None
            return index

    def _automaton(self) -> tuple[Any, list[list[int]], int, frozenset[int]]:
        built = self._built
        if built is None:
            with self._lock:
                keys = list(self._owners)
                # a DFA: half the time of the default NFA over mail (300 keys, most of them short)
                built = self._built = (ahocorasick_rs.AhoCorasick(keys, implementation=ahocorasick_rs.Implementation.DFA),
                                       [self._owners[k] for k in keys], self._size, frozenset(self._spans))
        return built

    def _found(self, lower: str) -> list[list[Any]]:
        for text, kept in self._last:
            if text is lower:
                return kept
        auto, owners, size, spans = self._automaton()
        found: list[list[Any]] = [[] for _ in range(size)]
        for key, start, end in auto.find_matches_as_indexes(lower, overlapping=True):
            for member in owners[key]:
                found[member].append((start, end) if member in spans else start)
        for positions in found:
            positions.sort()   # overlapping matches come in the order they end
        self._last = ((lower, found), *self._last[: self.KEEP - 1])
        return found

    def starts(self, lower: str, index: int) -> list[int]:
        """Sorted positions of `lower` where an opening of member `index` starts."""
        found = self._found(lower)
        if index >= len(found):   # a member joined after this text was read
            self._last = ()
            found = self._found(lower)
        return found[index] if index not in self._spans else [s for s, _ in found[index]]

    def spans(self, lower: str, index: int) -> list[tuple[int, int]]:
        """Sorted (start, end) of every occurrence of an opening of member `index` (joined with
        `spans=True`) in `lower`, overlapping ones included."""
        assert index in self._spans
        found = self._found(lower)
        if index >= len(found):
            self._last = ()
            found = self._found(lower)
        return found[index]


SHARED = Group()   # the PHI check's patterns


class Anchored:
    """`pattern` (an `re` or `regex` pattern) searched only where one of its openings stands.
    Methods take the text and its lower-cased form (`text.lower()`, offsets unchanged when
    the lengths agree); where they differ, or the pattern has no openings, the pattern runs as before."""

    def __init__(self, pattern: Any, group: Group = SHARED) -> None:
        self.pattern = pattern
        keys = openings(pattern.pattern) if isinstance(pattern.pattern, str) else None
        self._group = group
        self._index = group.join(keys) if keys else None

    def starts(self, lower: str) -> list[int]:
        """Sorted positions of `lower` where an opening starts."""
        assert self._index is not None
        return self._group.starts(lower, self._index)

    def finditer(self, text: str, lower: str | None = None, pos: int = 0, endpos: int | None = None) -> Iterator[Any]:
        """The matches `pattern.finditer(text, pos, endpos)` gives (non-empty matches)."""
        end = len(text) if endpos is None else min(endpos, len(text))
        if self._index is None or lower is None or len(lower) != len(text):
            yield from self.pattern.finditer(text, pos, end)
            return
        starts = self.starts(lower)
        match = self.pattern.match
        i, n = bisect.bisect_left(starts, pos), len(starts)
        while i < n:
            s = starts[i]
            if s >= end:
                return
            m = match(text, s, end)
            if m is not None and m.end() > s:
                yield m
                i = bisect.bisect_left(starts, m.end(), i + 1)
            else:
                i += 1

    def search(self, text: str, lower: str | None = None, pos: int = 0, endpos: int | None = None) -> Any:
        """`pattern.search(text, pos, endpos)` (for patterns that match no empty string)."""
        return next(self.finditer(text, lower, pos, endpos), None)
