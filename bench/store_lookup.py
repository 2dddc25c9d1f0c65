#!/usr/bin/env python3
"""Per-message suppression look-up with a large list: median and p99 for 50 recipients.

    .venv/bin/python bench/store_lookup.py [--rows 1000000] [--lookups 3000] [--engines sqlite,postgresql]

Loads `--rows` suppressed addresses (events and derived records, as `outguard suppress
import` would leave them) into a fresh SQLite file and a throw-away PostgreSQL database
($OUTGUARD_TEST_PG_URL, default postgresql://postgres@127.0.0.1:5432/postgres; started
with scripts/ensure-postgres if need be), then times what the recipients check does per
message: one `lookup` of 50 recipients (5 of them suppressed) in the global, a list and a
sender-domain scope, through the same service object the milter uses. Targets: p99 <= 2 ms
on SQLite, <= 5 ms on loopback PostgreSQL.
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

from outguard.store import Event, SuppressionService, SuppressionStore, resolve
from outguard.store import testing as pgtest

REASONS = ["manual", "unsubscribe", "complaint", "invalid"]


def address(i: int) -> str:
    return f"user{i:07d}.{i % 97}@domain{i % 5000}.example"


def load(url: str, rows: int) -> float:
    store = SuppressionStore(resolve(url), create=True)
    store.migrate()
    started = time.monotonic()
    batch = 100_000
    now = int(time.time())
    for start in range(0, rows, batch):
        events = [Event(address(i), REASONS[i % 4], now - i % 86400, source="import")
                  for i in range(start, min(rows, start + batch))]
        store.bulk_load(events)
    # settle: fresh statistics, and no autovacuum of the new rows during the measurement
    with store.engine.connect() as conn:
        if store.location.url.startswith("postgresql"):
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("VACUUM ANALYZE og_suppressions")
            conn.exec_driver_sql("VACUUM ANALYZE og_events")
        else:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    store.close()
    return time.monotonic() - started


def measure(url: str, rows: int, lookups: int, per_message: int = 50) -> list[float]:
    service = SuppressionService(resolve(url))
    service.prepare()
    rnd = random.Random(7)
    scopes = ("global", "list:news.clinic.example", "domain:clinic.example")
    timings = []
    for n in range(lookups + 200):
        suppressed = [address(rnd.randrange(rows)) for _ in range(per_message // 10)]
        clean = [f"someone{rnd.randrange(10**9)}@partner{n % 50}.example" for _ in range(per_message - len(suppressed))]
        batch = suppressed + clean
        t = time.perf_counter()
        found = service.lookup(batch, scopes)
        elapsed = time.perf_counter() - t
        assert len(found) == len(set(suppressed)), "look-up missed suppressed addresses"
        if n >= 200:  # warm-up: connections, statement cache, page cache
            timings.append(elapsed * 1000)
    service.close()
    return timings


def report(engine: str, load_s: float, timings: list[float]) -> None:
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(f"{engine:<11} load {load_s:6.1f} s   50-recipient look-up over {len(timings)} messages: "
          f"median {statistics.median(timings):.3f} ms   p99 {p99:.3f} ms   max {timings[-1]:.3f} ms", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--lookups", type=int, default=3000)
    ap.add_argument("--engines", default="sqlite,postgresql")
    args = ap.parse_args()
    engines = args.engines.split(",")
    print(f"{args.rows:,} suppressed addresses; 50 recipients per message, 5 of them suppressed; "
          f"load average before: {os.getloadavg()[0]:.1f}", flush=True)
    if "sqlite" in engines:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'suppression.sqlite3'}"
            load_s = load(url, args.rows)
            report("sqlite", load_s, measure(url, args.rows, args.lookups))
    if "postgresql" in engines:
        reason = pgtest.pg_available()
        if reason:
            print(f"postgresql  skipped: {reason}")
        else:
            url = pgtest.create_database()
            try:
                load_s = load(url, args.rows)
                report("postgresql", load_s, measure(url, args.rows, args.lookups))
            finally:
                pgtest.drop_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
