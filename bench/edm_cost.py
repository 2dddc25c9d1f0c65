#!/usr/bin/env python3
"""Exact data match: import rate and per-message look-up cost.

    PYTHONSAFEPATH=1 .venv/bin/python bench/edm_cost.py [--rows 1000000] [--messages 300] [--store FILE]

Makes a synthetic patient list (tests/edm_synth.py: made-up names, dates, RV-nnnnnnn
numbers), imports it with `outguard edm import`'s code into a fresh SQLite store (a
second import shows the idempotent pass), then runs the `edm` check (the real plugin
over the real service) on messages of ~2 KB: none, one and five record-number-shaped
identifiers, half of them real patients named next to their number. Prints rows/s and
the median / p99 CPU and wall time per message. Not a timed test: read the figures, and
the load average printed with them.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from edm_synth import SCHEMA_YAML, patients, unused_numbers, write_csv  # noqa: E402
from outguard.checks.spec import InspectContext, StartupContext  # noqa: E402
from outguard.core.message import Envelope, ScanLimits, parse_message  # noqa: E402
from outguard.core.patterns import PatternSet  # noqa: E402
from outguard.edm import EdmService, Hasher, import_csv, load_schema  # noqa: E402
from outguard.store import resolve  # noqa: E402
from outguard_plugins.edm import EdmCheck  # noqa: E402

FILLER = ("The patient was seen in clinic today for follow-up of hypertension. Blood pressure was "
          "reviewed and medication adherence discussed. Labs are pending and will be forwarded. ")


def message(rng: random.Random, known: list, fake: list[str], ids: int) -> bytes:
    parts = [FILLER * 4]
    for i in range(ids):
        if i % 2 == 0:
            p = rng.choice(known)
            parts.append(f"Patient {p.first_name} {p.last_name}, MRN {p.mrn}, DOB {p.dob:%m/%d/%Y}. ")
        else:
            parts.append(f"Reference RV number {rng.choice(fake)} from the lab. ")
        parts.append(FILLER)
    return ("Subject: follow-up\r\n\r\n" + "".join(parts)).encode()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--store", type=Path, help="SQLite file (default: a fresh one in /tmp)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="edm-bench-"))
    store = args.store or work / "edm.sqlite3"
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores")
    t = time.monotonic()
    known = patients(args.rows)
    csv_path = write_csv(work / "patients.csv", known)
    print(f"made {args.rows} synthetic rows in {time.monotonic() - t:.1f} s ({csv_path.stat().st_size >> 20} MiB CSV)")
    (work / "patients.yaml").write_text(SCHEMA_YAML)
    schema = load_schema(work / "patients.yaml")
    hasher = Hasher(b"bench-secret-" * 4)
    location = resolve(str(store))
    for label in ("import", "re-import"):
        t = time.monotonic()
        counts = import_csv(location, csv_path, schema, hasher)
        took = time.monotonic() - t
        print(f"{label:9}: {counts.rows} rows in {took:.1f} s = {counts.rows / took:,.0f} rows/s; "
              f"{counts.records_new} new, {counts.records_known} known, {counts.fields} corroborating values")
    print(f"store size {store.stat().st_size / 2**20:.0f} MiB")

    check = EdmCheck()
    service = EdmService(location, hasher)
    check.outguard_startup(StartupContext(plugin_name="edm", settings={}, services={"edm": service}))
    rng = random.Random(5)
    fake = unused_numbers(known[: min(len(known), 50_000)], 2000)
    limits = ScanLimits()
    context = InspectContext(patterns=PatternSet(()), pattern_timeout=0.25, services={"edm": service})
    print(f"{'identifiers':>11} {'cpu median':>11} {'cpu p99':>8} {'wall median':>12} {'wall p99':>9} {'fired':>6}")
    for ids in (0, 1, 5):
        cpu, wall, fired = [], [], 0
        for _ in range(args.messages):
            msg = parse_message(message(rng, known, fake, ids), Envelope("a@x.example", ("b@y.example",)), limits)
            c0, w0 = time.process_time(), time.perf_counter()
            found = check.outguard_inspect(msg, context)
            cpu.append((time.process_time() - c0) * 1000)
            wall.append((time.perf_counter() - w0) * 1000)
            fired += bool(found)
        q = statistics.quantiles
        print(f"{ids:>11} {statistics.median(cpu):>9.2f}ms {q(cpu, n=100)[98]:>6.2f}ms "
              f"{statistics.median(wall):>10.2f}ms {q(wall, n=100)[98]:>7.2f}ms {fired:>6}")
    service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
