#!/usr/bin/env python3
"""Build `plugins/phi/clinical_capitals.txt`: capitalised words clinical notes write that are no person.

    PYTHONSAFEPATH=1 .venv/bin/python bench/build_clinical_capitals.py [--corpora DIR]

MTSamples notes are de-identified (no patient names; a clinician is "Dr. X"), so a capitalised
word they write is an eponym ("Whipple's", "Dupuytren's", "Kelly clamp"), a brand ("Keflex",
"Deflux") or a sentence's first word ("Somnolent", "Podiatry"): names.mentioned takes no such
word for a person. Learned from the TUNE and READ splits of bench/phi_accuracy.py (the even-index
notes and the odd-index ones outside the held half); the held notes are never read. Kept: words
English does not write (wordfreq Zipf < given_names.RARE) in any such note, census given names
never ("Joseph scissors" is an eponym's thing to names.py; a patient may be called Joseph).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

from outguard_plugins.phi import given_names

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_CORPORA = Path(os.environ.get("OUTGUARD_CORPORA") or PROJECT.parent / "shared" / "corpora")
OUT = PROJECT / "plugins" / "phi" / "clinical_capitals.txt"
_CAPITALISED = re.compile(r"(?<![A-Za-z])((?:Mc|Mac|O')?[A-Z][a-z]{2,})(?:['\u2019]s)?(?![A-Za-z])")


def _bench():  # noqa: ANN202 - the accuracy bench, loaded by path for its split rule
    spec = importlib.util.spec_from_file_location("phi_accuracy", PROJECT / "bench" / "phi_accuracy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def build(corpora: Path) -> list[str]:
    rows = [json.loads(line) for line in (corpora / "clinical-text" / "mtsamples-en.jsonl").read_text().splitlines() if line]
    held_note = _bench().held_note   # the held split's rule, called (never read): its notes stay unseen
    notes: Counter[str] = Counter()
    for i, row in enumerate(rows):
        if i % 2 and held_note(row["id"]):
            continue   # tune and read notes only
        notes.update({m.group(1).lower() for m in _CAPITALISED.finditer(row.get("transcription") or "")})
    return sorted(w for w, n in notes.items() if not given_names.given(w) and given_names.zipf(w) < given_names.RARE)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    args = ap.parse_args()
    words = build(args.corpora)
    OUT.write_text("# Built by bench/build_clinical_capitals.py from the TUNE and READ splits (MTSamples notes outside\n"
                   "# the held half, CC0): capitalised words the de-identified notes write that English does not\n"
                   "# write and no census given name is; lower case, one a line. Do not edit by hand.\n"
                   + "\n".join(words) + "\n", encoding="utf-8")
    print(f"{len(words)} words -> {OUT.relative_to(PROJECT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
