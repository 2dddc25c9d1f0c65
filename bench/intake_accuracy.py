#!/usr/bin/env python3
"""How many of the corpus bounces `outguard ingest --dry-run --json` gets right: the right
recipients, each with the right class (hard / soft / policy), against the expected values
in tests/data/intake/bounces_flufl_expected.json (written by reading each message).

    bench/intake_accuracy.py [CORPUS_DIR]      # default ../shared/corpora/bounces-flufl
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = ROOT / "tests" / "data" / "intake" / "bounces_flufl_expected.json"


def outguard() -> str:
    script = Path(sys.executable).parent / "outguard"
    return str(script) if script.exists() else "outguard"


def run(corpus: Path) -> tuple[int, int, list[str]]:
    expected = json.loads(EXPECTED.read_text())["messages"]
    proc = subprocess.run([outguard(), "ingest", "--dry-run", "--json", "--store", "/nonexistent/none.sqlite3",
                           str(corpus)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"outguard ingest failed ({proc.returncode}): {proc.stderr[-2000:]}")
    got = {}
    for line in proc.stdout.splitlines():
        obj = json.loads(line)
        got[Path(obj["file"]).name] = {e["recipient"].lower(): e["type"] for e in obj["events"]}
    right, wrong = 0, []
    for name, want in sorted(expected.items()):
        have = got.get(name)
        if have == {k.lower(): v for k, v in want["events"].items()}:
            right += 1
        else:
            wrong.append(f"{name}: expected {want['events']}, got {have}")
    return right, len(expected), wrong


def main() -> int:
    corpus = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "corpora" / "bounces-flufl"
    if not corpus.is_dir():
        print(f"no corpus at {corpus}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    right, total, wrong = run(corpus)
    took = time.monotonic() - t0
    for w in wrong:
        print("  miss", w)
    print(f"recognised with the right recipients and class: {right}/{total} = {100 * right / total:.1f} % "
          f"(target >= 98 %), {took:.1f} s for the whole run")
    return 0 if right / total >= 0.98 else 1


if __name__ == "__main__":
    sys.exit(main())
