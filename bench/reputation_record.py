"""Per-message cost of counting an accepted message (the milter's eom hook,
`AcceptedRecorder.decided`), and the batch write the background thread does.

    .venv/bin/python bench/reputation_record.py [--messages 20000] [--recipients 3]

Prints microseconds per message on the SMTP path (target: under 100 us), the time of the
batched inserts into a temporary SQLite store, and what the check's look-up costs per
message with its figures cached (`cache_seconds`) and when they are recomputed (once per
`cache_seconds` per stream and process) over the rows written.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from outguard.core.decision import Decision
from outguard.core.message import Envelope
from outguard.core.verdict import Verdict
from outguard.reputation.recorder import AcceptedRecorder
from outguard.reputation.settings import ReputationSettings
from outguard.reputation.store import ReputationStore
from outguard.store import SuppressionStore, resolve


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--recipients", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "s.sqlite3"
        SuppressionStore(resolve(str(db)), create=True).migrate()
        store = ReputationStore(resolve(str(db)))
        recorder = AcceptedRecorder(store, ReputationSettings(flush_seconds=3600))
        recorder._start = lambda: None  # type: ignore[method-assign]  # measure the hook alone; flush below
        headers = [("From", "news@shop.example"), ("To", "x@partner.example"), ("Subject", "News"),
                   ("List-Id", "Shop news <news.shop.example>"), ("Message-ID", "<1@shop.example>")]
        decision = Decision(verdict=Verdict.DELIVER)
        envelopes = [Envelope(sender="news@shop.example",
                              recipients=tuple(f"r{i}-{j}@partner.example" for j in range(args.recipients)))
                     for i in range(args.messages)]
        started = time.perf_counter()
        for env in envelopes:
            recorder.decided(decision, env, headers)
        hook = time.perf_counter() - started
        started = time.perf_counter()
        written = recorder.flush()
        flush = time.perf_counter() - started
        print(f"hook: {hook / args.messages * 1e6:.1f} us per message ({args.recipients} recipients), "
              f"{args.messages} messages")
        print(f"batch write: {written} rows in {flush * 1000:.0f} ms ({flush / max(written, 1) * 1e6:.1f} us per row, "
              "off the SMTP path)")
        from outguard.reputation.service import ReputationService

        service = ReputationService(store.location, store.policy, ReputationSettings(), store=store)
        header = dict(headers).get
        started = time.perf_counter()
        service.status("news@shop.example", header)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(10000):
            service.status("news@shop.example", header)
        warm = (time.perf_counter() - started) / 10000
        print(f"check look-up: {warm * 1e6:.1f} us per message cached, {cold * 1000:.1f} ms to recompute one stream "
              f"over {written} rows")


if __name__ == "__main__":
    main()
