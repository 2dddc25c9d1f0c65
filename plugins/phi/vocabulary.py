"""Clinical language: "enough clinical words in one or two sentences" is a health statement.

The lexicons name conditions, drugs, labs and procedures; a real note also says things no
list names ("Right middle ear exploration with a Goldenberg TORP reconstruction", "The
periosteum was elevated and the wound closed with Vicryl"). This module scores such
sentences with per-word log-odds of clinical prose against ordinary mail, learned by
`bench/build_clinical_vocabulary.py` from the TUNE split only and shipped as
`clinical_vocabulary.txt` (loaded once per process, ~2,200 entries: words, word pairs
neither of whose words is clinical alone, capitalised section headings such as "HEENT:").

A window is one sentence or two consecutive ones, cut at MAX_WORDS words so a long
unpunctuated text never becomes one big bag of words. Its score is the sum of the weights of
its distinct entries; MIN_WORDS distinct entries and a score of THRESHOLD make it clinical
language. Each sentence is read in at most two windows: linear in the text.

A short text (at most SHORT_PIECES pieces: a pasted excerpt of 2-4 sentences in a few lines of
message) is also read as one window with the lower SHORT_THRESHOLD. The threshold of 12 is set
for a long mail's many windows, each a chance for a hit; a short text has few, so the same rate
of false hits allows a lower bar ("Height 60, weight 120. HEAD: Normocephalic." reaches 11) if
one entry is a clearly clinical word (a short memo's "removed ... removal ... identified" adds
up to 10.8 of everyday words): on the tune split it takes 16 of the 60 excerpts the lexicons
and windows missed, and no tune mail (0 of 3,399 below 0.8).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "clinical_vocabulary.txt"
MAX_WORDS = 40        # words per sentence piece (a longer run of text is cut into pieces)
MIN_WORDS = 2         # distinct clinical words a window needs
THRESHOLD = 12.0      # summed log-odds a window needs (e.g. three words each ~e^4 as frequent in notes as in mail)
SHORT_PIECES = 12     # pieces with words a text may have to be read as one window
SHORT_THRESHOLD = 9.0  # summed log-odds that window needs
SHORT_TOP = 4.0        # ... with one entry at least e^4 as frequent in notes as in mail (not "removed, identified")

_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n")
_WORD = re.compile(r"[a-z][a-z\-']*[a-z]")
_HEADING = re.compile(r"\b[A-Z][A-Z/&\-]+(?: [A-Z/&\-]+){0,3}:")   # as the build script learns them


CAPITALS = HERE / "clinical_capitals.txt"


@functools.cache
def capitals() -> frozenset[str]:
    """Capitalised words the de-identified clinical notes write, lower case (eponyms, brands, a
    sentence's first word: bench/build_clinical_capitals.py): none of them is a patient's name."""
    return frozenset(line.strip() for line in CAPITALS.read_text(encoding="utf-8").splitlines()
                     if line.strip() and not line.startswith("#"))


@functools.cache
def load() -> dict[str, float]:
    """word -> log-odds, once per process (read-only, shared by every check instance)."""
    out: dict[str, float] = {}
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            word, _, weight = line.partition("\t")
            out[word] = float(weight)
    return out


@functools.cache
def _index() -> tuple[dict[str, tuple[float, int]], dict[str, frozenset[str]]]:
    """entry -> (weight, words it counts as), and first word -> second words of learned pairs.
    A heading that says "clinical note" alone counts twice: several words ("PAST MEDICAL
    HISTORY:") or a clinical word ("HEENT:"); "PLAN:" or "GENERAL:" alone head memos too."""
    vocab = load()
    entries: dict[str, tuple[float, int]] = {}
    seconds: dict[str, set[str]] = {}
    for key, weight in vocab.items():
        strong = key.endswith(":") and (" " in key or key[:-1].lower() in vocab)
        entries[key] = (weight * 2, 2) if strong else (weight, 1)
        if " " in key and not key.endswith(":"):
            first, second = key.split(" ", 1)
            seconds.setdefault(first, set()).add(second)
    return entries, {k: frozenset(v) for k, v in seconds.items()}


def _pieces(text: str) -> Iterator[tuple[list[str], bool]]:
    """The text's sentences as (vocabulary entries, whether it has words) (words and pairs
    lower-cased, headings as written), long sentences cut every MAX_WORDS words; made as they
    are read, so `clinical` stops tokenising at its first clinical window."""
    entries, seconds = _index()
    for sentence in _SENTENCE.split(text):
        words = _WORD.findall(sentence.lower())
        heads = [h for h in _HEADING.findall(sentence) if h in entries] if ":" in sentence else []
        for i in range(0, max(len(words), 1), MAX_WORDS):
            run = words[i:i + MAX_WORDS] if len(words) > MAX_WORDS else words
            piece = [w for w in run if w in entries]
            piece += [f"{a} {b}" for a, b in zip(run, run[1:], strict=False) if a in seconds and b in seconds[a]]
            yield piece + heads, bool(run)
            heads = []


def _score(window: list[str], entries: dict[str, tuple[float, int]]) -> tuple[float, int]:
    distinct = set(window)
    return sum(entries[e][0] for e in distinct), sum(entries[e][1] for e in distinct)


def best_window(text: str) -> tuple[float, int]:
    """The highest (score, distinct entries) of any one- or two-sentence window of the text."""
    entries, _ = _index()
    best = (0.0, 0)
    prev: list[str] = []
    for piece, _words in _pieces(text):
        if piece:
            best = max(best, _score(piece, entries), _score(prev + piece, entries))
        prev = piece
    return best


def clinical(text: str) -> bool:
    """Whether one or two consecutive sentences of the text read as clinical prose, or a short
    text as a whole does (stops at the first window that does)."""
    entries, _ = _index()
    prev: list[str] = []
    short: list[str] | None = []   # the entries of a short text, None once it is not short
    count = 0
    for piece, words in _pieces(text):
        if piece:
            for window in (piece, prev + piece) if prev else (piece,):
                score, n = _score(window, entries)
                if n >= MIN_WORDS and score >= THRESHOLD:
                    return True
        if short is not None:
            count += words
            short = short + piece if count <= SHORT_PIECES else None
        prev = piece
    if short:
        score, n = _score(short, entries)
        return n >= MIN_WORDS and score >= SHORT_THRESHOLD and max(entries[e][0] for e in short) >= SHORT_TOP
    return False
