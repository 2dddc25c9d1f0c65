"""Given names: whether a word is a first name people are called by, for names no label points to.

A clinic's note names its patient where no "Patient:" stands ("Dustin Wirth - rapid strep pos",
"SOC visit for Zoe Young"). Two capitalised words there are a person only when the first is a
given name: `given_names.txt`, the US Census Bureau's 1990 first names less the ones that are
everyday words ("Will", "May", "Grace"), built by `bench/build_given_names.py`. Census names
are American: a name from elsewhere ("Hilding") is found only by the labelled forms.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

log = logging.getLogger("outguard.checks.phi")

DATA = Path(__file__).resolve().parent / "given_names.txt"


@functools.cache
def load() -> frozenset[str]:
    """The names, capitalised ("Maria"), once per process (~5,000: 35 KB)."""
    return frozenset(line.strip() for line in DATA.read_text(encoding="utf-8").splitlines()
                     if line.strip() and not line.startswith("#"))


def given(word: str) -> bool:
    """`word`, in any case, is a listed given name ("eva", "EVA" and "Eva" all are)."""
    return word[:1].upper() + word[1:].lower() in load()


RARE = 3.0   # Zipf frequency in English below which a capitalised word is no English word
COMMON = 7.0  # what every word counts as when the table cannot be read


@functools.cache
def _english() -> dict[str, float] | None:
    """English words at Zipf >= RARE with their Zipf frequency (~29,000), read once from wordfreq's
    packed list (the project does not ship its data: CC BY-SA). Read directly rather than through
    `zipf_frequency`, which keeps the whole 320,000-word table in memory (+34 MB per process).
    None when it cannot be read: then no word is rare (the forms by a name's shape find nothing)."""
    try:
        import wordfreq

        buckets = wordfreq.read_cBpack(wordfreq.available_languages("best")["en"])
    except Exception as exc:  # a broken or absent install: fail towards fewer names, never more
        log.warning("phi: wordfreq's English list could not be read (%s); names by their shape are off", type(exc).__name__)
        return None
    out: dict[str, float] = {}
    for i, words in enumerate(buckets):   # bucket i: the words at -i centibels, most frequent first
        z = wordfreq.cB_to_zipf(-i)
        if z < RARE:
            break
        for w in words:
            out.setdefault(w, round(z, 2))
    return out


def zipf(word: str) -> float:
    """How often English writes `word` (lower case; wordfreq's Zipf scale: 3 is once per million
    words); 0.0 for a word below RARE."""
    table = _english()
    return COMMON if table is None else table.get(word, 0.0)


def unlisted_name(first: str, last: str) -> bool:
    """Two capitalised words, neither of them an English word ("Jouni Hahli", "Einojuhani Pyysalo"):
    shaped as a name from outside the census list. Weaker than a listed given name: the forms take
    it only where the line's health terms are other words than these."""
    return all(len(w) >= 3 and zipf(w.lower()) < RARE for w in (first, last))
