#!/usr/bin/env python3
"""Cost of the PHI check against text size: ms per KB at 5 KB, 50 KB, 500 KB and 5 MB of
PHI-dense text and of plain text (not a timed test: run it, read the figures).

    PYTHONSAFEPATH=1 .venv/bin/python bench/phi_linearity.py [--sizes 5,50,500,5000] [--repeat 3] [--phi-baseline REV]

Target: ms/KB at 5 MB within 2x of 50 KB (every step linear: bounded windows, no rescans of
the whole text per candidate). PHI-dense text is rows of valid SSNs, MBIs, MRNs, DOBs, names
and diagnoses; plain text is English sentences with dates, prices, phone and order numbers.
Both are generated here (seeded), so no corpus is needed. Each size is run twice: with the
shipped early stop (decided after 25 validated identifiers beside health context: reported as
a floor, "≥25") and with it switched off (`decide_after: 0`), which shows the scan itself.
CPU time of PhiCheck.outguard_inspect on a parsed message (the MIME parse is not counted).
`--phi-baseline REV` also runs the PHI check of git revision REV on the same texts in the same
run (rows "mode@REV", bench/phi_baseline.py): compare the two on a loaded machine by their ratio.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outguard.checks.spec import StartupContext
from outguard.core.message import Envelope, ScanLimits, parse_message
from outguard_plugins.phi.check import PhiCheck

WORDS = ("the of and to in a is that for it as was with be by on not he this are or his from at which but have an they "
         "you were her she there been one all we their has would when if so no will more can said what about up out "
         "them time only new some could these two may first then do any like my now over such our man me even most "
         "made after also did many before must through back years where much your way well down should because each "
         "just those people how too little state good very make world still own see men work long get here between "
         "both life being under never day same another know while last might us great old year off come since against "
         "go came right used take three meeting contract pipeline price schedule invoice report budget quarter").split()
DIAGNOSES = ["asthma", "type 2 diabetes", "atrial fibrillation", "COPD", "major depressive disorder", "hypertension",
             "chronic kidney disease", "GERD", "heart failure", "osteoarthritis"]
FIRST = ["Maria", "James", "Linda", "Robert", "Susan", "Ahmed", "Chen", "Olga", "Pedro", "Grace"]
LAST = ["Gonzalez", "Carter", "Nguyen", "Okafor", "Miller", "Haddad", "Wang", "Petrova", "Silva", "Osei"]


@dataclass
class Run:
    kb: float
    ms: float
    detail: str


def ssn(rng: random.Random) -> str:
    while True:
        area = rng.randint(1, 899)
        if area != 666:
            return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def phi_text(rng: random.Random, size: int) -> str:
    out, n = [], 0
    while n < size:
        line = (f"Patient: {rng.choice(FIRST)} {rng.choice(LAST)}, DOB {rng.randint(1, 12)}/{rng.randint(1, 28)}/"
                f"{rng.randint(1930, 2010)}, SSN {ssn(rng)}, MRN: {rng.randint(10**6, 10**8)}. "
                f"Dx: {rng.choice(DIAGNOSES)}; started metformin {rng.choice([500, 850, 1000])} mg.\n")
        out.append(line)
        n += len(line)
    return "".join(out)[:size]


def plain_text(rng: random.Random, size: int) -> str:
    out, n = [], 0
    while n < size:
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 20))]
        r = rng.random()
        if r < 0.1:
            words.append(f"on {rng.randint(1, 12)}/{rng.randint(1, 28)}/2001")
        elif r < 0.15:
            words.append(f"call {rng.randint(201, 989)}-{rng.randint(201, 989)}-{rng.randint(1000, 9999)}")
        elif r < 0.2:
            words.append(f"order {rng.randint(10**5, 10**9)} at ${rng.randint(1, 999)}.{rng.randint(0, 99):02d}")
        line = " ".join(words).capitalize() + (".\n" if rng.random() < 0.3 else ". ")
        out.append(line)
        n += len(line)
    return "".join(out)[:size]


class Baseline:
    """Another revision's PHI check with the plugin's call shape (`outguard_inspect`)."""

    def __init__(self, rev: str, settings: dict[str, Any]) -> None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import phi_baseline

        self.module = phi_baseline.load(rev)
        self.state = self.module.build_state(settings)

    def outguard_inspect(self, message: Any, context: Any) -> Any:
        return self.module.inspect_message(message, self.state)


def measure(check: Any, text: str, repeat: int) -> Run:
    raw = f"From: a@clinic.example\nTo: b@partner.example\nSubject: x\n\n{text}\n".encode()
    limits = ScanLimits(max_text_bytes=64 * 1024 * 1024, max_part_bytes=64 * 1024 * 1024)
    best = float("inf")
    findings = []
    for _ in range(repeat):
        # parsed afresh each run (not timed): a view's lower-cased text and what the check keeps of
        # it are worked out once per message, as in the daemon, not carried over from the last run
        message = parse_message(raw, Envelope("a@clinic.example", ("b@partner.example",)), limits)
        started = time.process_time()
        findings = check.outguard_inspect(message, None)
        best = min(best, time.process_time() - started)
    ids = {f.id: f for f in findings}
    ssn_f = ids.get("phi.ssn")
    detail = f"ssn count {ssn_f.count} ({ssn_f.detail.split(' near')[0].split()[-1] if ssn_f else ''})" if ssn_f else "no ssn"
    if "scan.truncated" in ids:
        detail += "; truncated"
    return Run(len(text) / 1024, best * 1000, detail)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="5,50,500,5000", help="KB, comma-separated")
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs per size (the 5 MB ones run once)")
    ap.add_argument("--phi-baseline", metavar="REV", default=None, help="run the PHI check of this git revision too")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    checks: dict[str, Any] = {}
    for label, settings in (("early stop (shipped)", {}), ("early stop off", {"decide_after": 0})):
        check = PhiCheck()
        check.outguard_startup(StartupContext("phi", {**settings, "max_chars": 64 * 1024 * 1024}))
        checks[label] = check
        if args.phi_baseline:
            checks[f"{label.split(' (')[0]}@{args.phi_baseline}"] = \
                Baseline(args.phi_baseline, {**settings, "max_chars": 64 * 1024 * 1024})
    rng = random.Random(12)
    texts = {"PHI-dense": {s: phi_text(rng, s * 1024) for s in sizes}, "plain": {s: plain_text(rng, s * 1024) for s in sizes}}
    print(f"{'text':<11}{'mode':<22}" + "".join(f"{f'{s} KB ms/KB':>15}" for s in sizes) + f"{'ratio max/50KB':>16}")
    for kind, by_size in texts.items():
        for label, check in checks.items():
            runs = {s: measure(check, by_size[s], 1 if s >= 1000 else args.repeat) for s in sizes}
            per_kb = {s: r.ms / r.kb for s, r in runs.items()}
            ref = per_kb.get(50) or per_kb[sizes[0]]
            print(f"{kind:<11}{label:<22}" + "".join(f"{per_kb[s]:>15.3f}" for s in sizes) + f"{per_kb[sizes[-1]] / ref:>16.2f}")
            print(f"{'':<33}" + "   ".join(f"{s} KB: {runs[s].ms:.0f} ms, {runs[s].detail}" for s in sizes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
