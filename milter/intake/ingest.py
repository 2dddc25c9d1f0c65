"""Delivery events into the suppression store: through the policy, idempotently.

Each report (a message, a log line) gets a key (a hash of its bytes); every store event
it produces carries the key in its `note` (`ingest:<key>`), and an event whose address
already has an event with that note is skipped, so re-ingesting the same report changes
nothing. No store change was needed for this.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from outguard.intake.events import DeliveryEvent, Report
from outguard.store import AddressError, Change, Event, SuppressionStore, normalise

log = logging.getLogger("outguard.intake")

KIND_OF_TYPE = {"hard": "bounce", "soft": "bounce", "policy": "bounce", "complaint": "complaint",
                "unsubscribe": "unsubscribe", "delivered": "delivered"}
SOURCE_OF_KIND = {"dsn": "dsn", "arf": "arf", "log": "postfix-log"}


def report_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


@dataclass
class Outcome:
    """What ingesting one report did."""

    changes: list[Change] = field(default_factory=list)
    duplicates: int = 0
    skipped: list[str] = field(default_factory=list)  # why events were not recorded (no address)

    def summary(self) -> dict[str, int]:
        c: Counter[str] = Counter(ch.outcome for ch in self.changes)
        if self.duplicates:
            c["duplicates"] = self.duplicates
        if self.skipped:
            c["skipped"] = len(self.skipped)
        return dict(c)


class Ingestor:
    """Turns reports into store events. `sender_domains` (config `intake.sender_domains`):
    when set, a report whose original sender is known and outside them is about a message
    we never sent and changes nothing."""

    def __init__(self, store: SuppressionStore | None, sender_domains: Iterable[str] = (), dry_run: bool = False,
                 scope: str = "global") -> None:
        self.store = store
        self.sender_domains = tuple(d.lower().lstrip("@") for d in sender_domains if d)
        self.dry_run = dry_run
        self.scope = scope

    def ours(self, report: Report) -> bool:
        if not self.sender_domains or not report.original_sender:
            return True
        domain = report.original_sender.rsplit("@", 1)[-1].lower()
        return any(domain == d or domain.endswith("." + d) for d in self.sender_domains)

    def store_events(self, events: list[DeliveryEvent], source: str, key: str) -> tuple[list[Event], list[str]]:
        now = int(time.time())
        out: list[Event] = []
        skipped: list[str] = []
        for ev in events:
            kind = KIND_OF_TYPE.get(ev.type)
            if kind is None:
                continue
            try:
                address = normalise(ev.recipient)
            except AddressError:
                skipped.append("unusable recipient address")
                continue
            out.append(Event(address, kind, ev.at or now, scope=self.scope, source=source,
                             status=ev.status if kind == "bounce" else None,
                             smtp_code=ev.code if kind == "bounce" else None,
                             diagnostic=(ev.diagnostic or ev.reason or None) and (ev.diagnostic or ev.reason or "")[:500],
                             remote_mta=(ev.remote_mta or None) and (ev.remote_mta or "")[:255],
                             feedback_type=None if kind == "bounce" else ev.feedback_type,
                             reason=ev.cause if kind == "bounce" else None,
                             actor="outguard-ingest", note=f"ingest:{key}"))
        return out, skipped

    def ingest(self, report: Report, key: str, source: str | None = None) -> Outcome:
        outcome = Outcome()
        if not self.ours(report):
            outcome.skipped.append("report about a message from a sender domain that is not ours")
            return outcome
        events, outcome.skipped = self.store_events(report.events, source or SOURCE_OF_KIND.get(report.kind, "dsn"),
                                                    key)
        if not events or self.store is None:
            return outcome
        fresh = []
        for ev in events:
            if any(h.note == ev.note and h.kind == ev.kind for h in self.store.history(ev.address)):
                outcome.duplicates += 1
            else:
                fresh.append(ev)
        if fresh:
            outcome.changes = self.store.record(fresh, dry_run=self.dry_run)
        return outcome
