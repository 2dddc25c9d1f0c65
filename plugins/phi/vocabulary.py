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
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "clinical_vocabulary.txt"
MAX_WORDS = 40        # words per sentence piece (a longer run of text is cut into pieces)
MIN_WORDS = 2         # distinct clinical words a window needs
THRESHOLD = 12.0      # summed log-odds a window needs (e.g. three words each ~e^4 as frequent in notes as in mail)

_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n")
_WORD = re.compile(r"[a-z][a-z\-']*[a-z]")
_HEADING = re.compile(r"\b[A-Z][A-Z/&\-]+(?: [A-Z/&\-]+){0,3}:")   # as the build script learns them


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
def strong_headings() -> frozenset[str]:
    """Learned headings that say "clinical note" alone: several words ("PAST MEDICAL HISTORY:")
    or a clinical word ("HEENT:", "SHX:"); "PLAN:" or "GENERAL:" alone head audits and memos too.
    Each counts as two words."""
    vocab = load()
    return frozenset(h for h in vocab if h.endswith(":") and (" " in h or h[:-1].lower() in vocab))


def _pieces(text: str) -> list[list[str]]:
    """The text's sentences as lists of vocabulary hits (words lower-cased, capitalised section
    headings as written), long sentences cut every MAX_WORDS words."""
    vocab = load()
    out: list[list[str]] = []
    for sentence in _SENTENCE.split(text):
        hits = [h for h in _HEADING.findall(sentence) if h in vocab] if ":" in sentence else []
        words = _WORD.findall(sentence.lower())
        for i in range(0, len(words), MAX_WORDS):
            run = words[i:i + MAX_WORDS]
            pairs = [p for p in map(" ".join, zip(run, run[1:], strict=False)) if p in vocab]
            out.append([w for w in run if w in vocab] + pairs + hits)
            hits = []
    return out


def best_window(text: str) -> tuple[float, int]:
    """The highest (score, distinct entries) of any one- or two-sentence window of the text."""
    vocab = load()
    best = (0.0, 0)
    prev: list[str] = []
    for piece in _pieces(text):
        for window in (piece, prev + piece):
            if not window:
                continue
            distinct = set(window)
            doubled = distinct & strong_headings()
            score = sum(vocab[w] for w in distinct) + sum(vocab[h] for h in doubled)
            if score > best[0]:
                best = (score, len(distinct) + len(doubled))
        prev = piece
    return best


def clinical(text: str) -> bool:
    """Whether one or two consecutive sentences of the text read as clinical prose."""
    score, words = best_window(text)
    return words >= MIN_WORDS and score >= THRESHOLD
