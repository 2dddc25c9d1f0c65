#!/usr/bin/env python3
"""Per source, how many corpus messages `outguard ingest --dry-run --json` gets right: the
right recipients, the right class (hard / not-hard / complaint / not-a-bounce) and the right
reason token, against label files written by reading each message (tests/data/intake/).

Each source carries its mark (tests/label_sources.py): `tuned` (its misses were read and
phrases or rules fitted to them), `read` (misses read, nothing fitted) or `held-out` (misses
never read). Only held-out and read sources give a figure the target may count. For a
tuned source the last column scores it again in-process with the tables built without the
phrases fitted to it (`reasons.FITTED_TO`, leave-one-source-out); rules and recogniser
changes made for it stay in, so that figure still flatters it a little. A policy/content
rejection recorded as hard (it would suppress a real customer) is counted apart:
`policy->hard`.

    bench/intake_accuracy.py [--misses] [SHARED_CORPORA_DIR]   # default ../shared/corpora

`--misses` lists the misses of the tuned sources only; `--held-out-misses` those of the
held-out ones too (once you read them, that source is no longer held out: say so).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "tests" / "data" / "intake"
sys.path.insert(0, str(ROOT / "tests"))
from label_sources import SOURCES, Source, class_of  # noqa: E402

POLICY_REASONS = ("filtered", "blocked", "spamdetected", "policyviolation", "securityerror", "expired", "mesgtoobig",
                  "contenterror", "virusdetected", "rejected", "norelaying", "syntaxerror", "onhold")


def outguard() -> list[str]:
    if os.environ.get("OUTGUARD_CMD"):  # another build, e.g. the code before a change
        return os.environ["OUTGUARD_CMD"].split()
    script = Path(sys.executable).parent / "outguard"
    return [str(script) if script.exists() else "outguard"]


def ingest(folder: Path) -> dict[str, dict[str, tuple[str, str | None]]]:
    """file name (relative to `folder`) -> recipient -> (type, reason token)."""
    proc = subprocess.run([*outguard(), "ingest", "--dry-run", "--json", "--store", "/nonexistent/none.sqlite3",
                           str(folder)], capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"outguard ingest failed ({proc.returncode}): {proc.stderr[-2000:]}")
    got: dict[str, dict[str, tuple[str, str | None]]] = {}
    for line in proc.stdout.splitlines():
        obj = json.loads(line)
        name = str(Path(obj["file"]).relative_to(folder))
        reasons = {k.lower(): v for k, v in (obj.get("reasons") or {}).items()}
        got[name] = {e["recipient"].lower(): (e["type"], reasons.get(e["recipient"].lower())) for e in obj["events"]}
    return got


def parse_in_process(folder: Path, names: list[str]) -> dict[str, dict[str, tuple[str, str | None]]]:
    """As `ingest`, but in this process: the tables `reasons.use_tables` left in force."""
    from outguard.intake import parse_message
    got: dict[str, dict[str, tuple[str, str | None]]] = {}
    for name in names:
        report = parse_message((folder / name).read_bytes())
        got[name] = {e.recipient.lower(): (e.type, e.cause) for e in report.events}
    return got


def without_own_phrases(source: Source, corpora: Path) -> Score:
    """The source scored with the tables built without the phrases fitted to it."""
    from outguard.intake import reasons
    reasons.use_tables(without=source.name)
    try:
        return score(source, parse_in_process(source.path(corpora), sorted(source.labels())))
    finally:
        reasons.use_tables()


@dataclass
class Score:
    messages: int = 0
    recipients: int = 0
    klass: int = 0
    reason: int = 0
    policy_hard: int = 0
    misses: list[str] = field(default_factory=list)


def score(source: Source, got: dict[str, dict[str, tuple[str, str | None]]]) -> Score:
    labels = source.labels()
    s = Score()
    for name, want in sorted(labels.items()):
        s.messages += 1
        have = got.get(name, {})
        exp = {r.lower(): (t, why) for r, (t, why) in want.items()}
        rcpt_ok = set(have) == set(exp)
        class_ok = {r: class_of(t) for r, (t, _) in have.items()} == {r: class_of(t) for r, (t, _) in exp.items()}
        reason_ok = {r: why for r, (_, why) in have.items()} == {r: why for r, (_, why) in exp.items()}
        s.recipients += rcpt_ok
        s.klass += class_ok
        s.reason += reason_ok
        s.policy_hard += sum(1 for r, (_, why) in exp.items() if why in POLICY_REASONS
                             and have.get(r, ("", None))[0] == "hard")
        if not (rcpt_ok and class_ok and reason_ok):
            s.misses.append(f"{source.name}/{name}: expected {exp}, got {have}")
    return s


def main(argv: list[str]) -> int:
    # misses of tuned sources only: reading held-out misses to add phrases would make them tuned
    show_misses = "--misses" in argv
    held_out_misses = "--held-out-misses" in argv
    args = [a for a in argv if not a.startswith("--")]
    corpora = Path(args[0]) if args else Path(os.environ.get("OUTGUARD_CORPORA") or ROOT.parent / "shared" / "corpora")
    if not corpora.is_dir():
        print(f"skipped: no shared corpora at {corpora} (they live beside the project checkout; "
              "OUTGUARD_CORPORA or an argument names another place)")
        return 0
    pct = lambda n, d: f"{100 * n / d:5.1f} %" if d else "    -"  # noqa: E731
    print(f"{'source':34} {'mark':8} {'msgs':>4} {'rcpt right':>10} {'class right':>11} {'reason right':>12} "
          f"{'policy->hard':>12} {'w/o own phrases: class / reason / p->h':>38}")
    held_ok = True
    for source in SOURCES:
        if not source.path(corpora).is_dir():
            print(f"{source.name:38} {'absent':9}")
            continue
        s = score(source, ingest(source.path(corpora)))
        loso = "-"
        if source.tuned:
            w = without_own_phrases(source, corpora)
            loso = f"{pct(w.klass, w.messages)} / {pct(w.reason, w.messages)} / {w.policy_hard}"
        print(f"{source.name:34} {source.mark:8} {s.messages:4} "
              f"{pct(s.recipients, s.messages):>10} {pct(s.klass, s.messages):>11} {pct(s.reason, s.messages):>12} "
              f"{s.policy_hard:12} {loso:>38}")
        if source.mark in ("read", "held-out") and s.messages and (min(s.klass, s.reason) / s.messages < 0.95 or s.policy_hard):
            held_ok = False
        if (show_misses and source.mark in ("tuned", "synthetic")) or held_out_misses:
            for m in s.misses:
                print("    miss", m)
    print("target: class and reason right >= 95 % and no policy->hard on each source not tuned on: "
          + ("met" if held_ok else "NOT met"))
    return 0 if held_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
