"""Accepted recipients into the store, off the SMTP path: the milter hands each accepted
message to `AcceptedRecorder.accepted` (a few microseconds: a list append under a lock), a
background thread writes the rows in one insert per `flush_seconds`.

A store that is down loses no mail: rows wait (up to `MAX_PENDING`, the oldest dropped
beyond, said in the log) and go out with the next flush that works.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from outguard.core.addresses import try_normalise
from outguard.core.config import Config
from outguard.core.decision import Decision
from outguard.core.message import Envelope
from outguard.core.verdict import Verdict
from outguard.store.engine import StoreLocation, resolve

from .keys import sender_domain, stream_key
from .settings import DAY, ReputationSettings

log = logging.getLogger("outguard.reputation")

MAX_PENDING = 200_000
ACCEPTING = (Verdict.DELIVER, Verdict.ENCRYPT)   # what leaves for the recipients now


class AcceptedRecorder:
    def __init__(self, store: Any, settings: ReputationSettings, location: StoreLocation | None = None) -> None:
        # a ReputationStore, a test's stand-in (add_accepted, prune), or a function that makes one
        # at the first flush (so the daemon does not import SQLAlchemy before the first message)
        self._store = store
        self.location = location if location is not None else getattr(store, "location", None)
        self.settings = settings
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._last_prune = 0.0
        self._failing_since: float | None = None

    @property
    def store(self) -> Any:
        if callable(self._store) and not hasattr(self._store, "add_accepted"):
            self._store = self._store()
        return self._store

    def accepted(self, sender: str, headers: Sequence[tuple[str, str]], recipients: Sequence[str],
                 at: int | None = None) -> None:
        """Count `recipients` of one accepted message. Never raises."""
        try:
            domain = sender_domain(sender)
            if domain is None or not recipients:
                return
            wanted = self.settings.stream_header.lower()
            stream = stream_key(next((v for n, v in headers if n.lower() == wanted), None), self.settings.stream_header)
            when = int(time.time()) if at is None else at
            rows = [{"at": when, "address": a, "sender_domain": domain, "stream": stream, "egress": self.settings.egress_ip}
                    for a in (try_normalise(r) for r in recipients) if a]
            with self._lock:
                self._pending.extend(rows)
                if len(self._pending) > MAX_PENDING:
                    lost = len(self._pending) - MAX_PENDING
                    del self._pending[:lost]
                    log.error("reputation: %d accepted-recipient records dropped (store unreachable for long)", lost)
            self._start()
        except Exception as exc:  # counting must never cost a message
            log.error("reputation: could not count an accepted message: %s", type(exc).__name__)

    def decided(self, decision: Decision, envelope: Envelope, headers: Sequence[tuple[str, str]]) -> None:
        """The milter's hook: count the recipients a decision lets through now."""
        if decision.verdict not in ACCEPTING:
            return
        dropped = {a.strip().strip("<>").lower() for a in decision.drop_recipients}
        kept = [r for r in envelope.recipients if r.strip().strip("<>").lower() not in dropped]
        self.accepted(envelope.sender, headers, kept)

    # -- the writer ------------------------------------------------------------------------------

    def _start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="outguard-reputation", daemon=True)
                    self._thread.start()
                    atexit.register(self.close)

    def _loop(self) -> None:
        while not self._stop:
            self._wake.wait(self.settings.flush_seconds)
            self._wake.clear()
            self.flush()

    def flush(self) -> int:
        """Write what is pending; return how many rows went out (0 when the store failed)."""
        with self._lock:
            rows, self._pending = self._pending, []
        if not rows:
            return 0
        path = self.location.sqlite_path if self.location is not None else None
        if path is not None and self.location is not None and self.location.implicit and not path.exists():
            # The default store is made by the first `outguard ingest` or `suppress`: until then no
            # bounce can be attributed to these recipients, so there is nothing to count them against.
            return 0
        try:
            self.store.add_accepted(rows)
            if time.monotonic() - self._last_prune > 3600:
                self._last_prune = time.monotonic()
                self.store.prune(int(time.time()) - self.settings.retention_days * DAY)
        except Exception as exc:
            with self._lock:
                self._pending[:0] = rows
            if self._failing_since is None:
                self._failing_since = time.monotonic()
                log.error("reputation: store not writable (%s); %d records wait", type(exc).__name__, len(rows))
            return 0
        if self._failing_since is not None:
            log.info("reputation: store writable again")
            self._failing_since = None
        return len(rows)

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.flush()


def recorder_from_config(config: Config, url: str | None = None) -> AcceptedRecorder | None:
    """The daemon's recorder, or None when `reputation.enabled` is false."""
    settings = ReputationSettings.from_config(config)
    if not settings.enabled:
        return None
    from outguard.store.policy import Policy

    store_cfg = config.section("store")
    location = resolve(url, store_cfg)

    def make() -> Any:
        from .store import ReputationStore

        return ReputationStore(location, Policy.from_config(store_cfg.get("policy")), create=False,
                               connect_timeout=float(store_cfg["connect_timeout_seconds"]))
    return AcceptedRecorder(make, settings, location)
