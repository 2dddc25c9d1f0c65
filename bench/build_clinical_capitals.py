#!/usr/bin/env python3
"""Build `plugins/phi/clinical_capitals.txt`: capitalised words clinical notes write that are no person.

    PYTHONSAFEPATH=1 .venv/bin/python bench/build_clinical_capitals.py [--corpora DIR]

MTSamples notes are de-identified (no patient names; a clinician is "Dr. X"), so a capitalised
word they write is an eponym ("Whipple's", "Dupuytren's", "Kelly clamp"), a brand ("Keflex",
"Deflux") or a sentence's first word ("Somnolent", "Podiatry"): names.mentioned takes no such
word for a person. Learned ONLY from the TUNE split of bench/phi_accuracy.py (the even-index
notes). Kept: words English does not write (wordfreq Zipf < given_names.RARE) in any tune note,
and census given names in at least MIN_GIVEN_NOTES of them ("Joseph scissors", "Allen test"),
so a single note's stray name does not block a name everywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections import Counter
from pathlib import Path

from outguard_plugins.phi import given_names

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_CORPORA = Path(os.environ.get("OUTGUARD_CORPORA") or PROJECT.parent / "shared" / "corpora")
OUT = PROJECT / "plugins" / "phi" / "clinical_capitals.txt"
MIN_GIVEN_NOTES = 2
_CAPITALISED = re.compile(r"(?<![A-Za-z])((?:Mc|Mac|O')?[A-Z][a-z]{2,})(?:['\u2019]s)?(?![A-Za-z])")


def build(corpora: Path) -> list[str]:
    rows = [json.loads(line) for line in (corpora / "clinical-text" / "mtsamples-en.jsonl").read_text().splitlines() if line]
    notes: Counter[str] = Counter()
    for i, row in enumerate(rows):
        if i % 2:
            continue   # the tune split only
        notes.update({m.group(1).lower() for m in _CAPITALISED.finditer(row.get("transcription") or "")})
    return sorted(w for w, n in notes.items()
                  if (given_names.given(w) and n >= MIN_GIVEN_NOTES) or
                  (not given_names.given(w) and given_names.zipf(w) < given_names.RARE))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    args = ap.parse_args()
    words = build(args.corpora)
    OUT.write_text("# Built by bench/build_clinical_capitals.py from the TUNE split only (MTSamples even-index notes,\n"
                   "# CC0): capitalised words the de-identified notes write, English-rare or census given names in\n"
                   f"# >= {MIN_GIVEN_NOTES} notes; lower case, one a line. Do not edit by hand.\n" + "\n".join(words) + "\n",
                   encoding="utf-8")
    print(f"{len(words)} words -> {OUT.relative_to(PROJECT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
