"""A made-up fortnight of one sender's mail, for the README's report picture and the report
tests: two lists and the sender's transactional mail, one list going bad (hard bounces up,
then complaints) until it is paused."""

from __future__ import annotations

from typing import Any

from outguard.store.policy import Event

from .settings import DAY


def seed_fortnight(store: object, today: int, days: int = 14) -> dict[str, int]:
    """Write accepted recipients and bounce/complaint events ending `today` (a UTC day
    number); return the recipients written per stream."""
    written: dict[str, int] = {}
    streams = {"list:news.shop.example": 1200, "list:offers.shop.example": 600, None: 300}
    events: list[Event] = []
    for back in range(days - 1, -1, -1):
        day = today - back
        for stream, base in streams.items():
            volume = base + (back * 37) % 150
            host = (stream or "domain:t.example").split(":")[1]
            rows: list[dict[str, Any]] = [{"at": day * DAY + 3600 + i, "address": f"r{day}-{i}@{host}",
                                           "sender_domain": "shop.example", "stream": stream, "egress": None}
                                          for i in range(volume)]
            store.add_accepted(rows)  # type: ignore[attr-defined]
            written[stream or "domain:shop.example"] = written.get(stream or "domain:shop.example", 0) + volume
            if stream == "list:offers.shop.example":
                # a purchased list goes out from day 6 on: hard bounces climb, then complaints
                bad = max(0, days - back - 6)
                for i in range(min(volume, bad * 9)):
                    events.append(Event(rows[i]["address"], "bounce", day * DAY + 7200 + i, source="dsn", status="5.1.1",
                                        smtp_code="550", reason="userunknown"))
                for i in range(min(volume, max(0, bad - 3))):
                    events.append(Event(rows[-1 - i]["address"], "complaint", day * DAY + 9000 + i, source="arf",
                                        feedback_type="abuse"))
            elif stream is not None:
                for i in range(volume // 100):
                    events.append(Event(rows[i]["address"], "bounce", day * DAY + 7200 + i, source="dsn", status="5.1.1",
                                        smtp_code="550", reason="userunknown"))
    store.record(events)  # type: ignore[attr-defined]
    return written


def main(argv: list[str] | None = None) -> int:
    """`python -m outguard.reputation.demo FILE.png`: the README's picture, from a temporary store."""
    import sys
    import tempfile
    import time
    from pathlib import Path

    from outguard.store.engine import resolve

    from .report import build_report, plot
    from .settings import ReputationSettings
    from .store import ReputationStore

    out = Path((argv or sys.argv[1:] or ["reputation-report.png"])[0])
    with tempfile.TemporaryDirectory() as tmp:
        store = ReputationStore(resolve(str(Path(tmp) / "demo.sqlite3")), create=True)
        today = int(time.time()) // DAY
        seed_fortnight(store, today)
        store.set_action("list:offers.shop.example", "pause", "demo", actor="demo")
        plot(build_report(store, ReputationSettings(), today - 13, today), out)
        store.close()
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
