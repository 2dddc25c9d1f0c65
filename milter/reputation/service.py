"""`services["reputation"]`: the figures of the keys a message counts under, with the
thresholds in force; the pause that rates past the pause thresholds set (sticky until
`outguard reputation resume`).

Per key, figures are computed at most once per `cache_seconds` in each process (a few
queries), so the per-message cost is a dictionary look-up. The pause is written here, by
whichever worker first sees the rates past the threshold; a log warning (logger
`outguard.reputation`, "reputation alert") tells the operator once per key and state.
"""

from __future__ import annotations

import datetime as dt
import logging
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from outguard.core.config import Config
from outguard.store.engine import StoreLocation, resolve
from outguard.store.policy import Policy

from .figures import KeyStatus, WindowFigures
from .keys import message_stream
from .settings import DAY, ReputationSettings

if TYPE_CHECKING:
    from .store import ReputationStore

log = logging.getLogger("outguard.reputation")


def resume_hint(key: str) -> str:
    return f"outguard reputation resume {key}"


class ReputationService:
    def __init__(self, location: StoreLocation, policy: Policy | None, settings: ReputationSettings,
                 connect_timeout: float = 3.0, store: ReputationStore | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.location = location
        self.settings = settings
        self._policy, self._connect_timeout = policy, connect_timeout
        self._made = store
        self._clock = clock
        self._cache: dict[str, tuple[float, KeyStatus]] = {}
        self._alerted: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def store(self) -> ReputationStore:
        if self._made is None:
            from .store import ReputationStore

            self._made = ReputationStore(self.location, self._policy, create=False,
                                         connect_timeout=self._connect_timeout)
        return self._made

    def _absent_default(self) -> bool:
        path = self.location.sqlite_path
        return self.location.implicit and path is not None and not path.exists()

    def status(self, sender: str, header: Callable[[str], str | None]) -> list[KeyStatus]:
        """The message's stream (and this relay's egress IP, when configured) and their figures.
        Raises `StoreUnavailable` (a `ServiceUnavailable`) when the store cannot answer."""
        if not self.settings.enabled or self._absent_default():
            return []
        stream = message_stream(sender, header, self.settings.stream_header)
        keys = ([stream] if stream else []) + ([f"ip:{self.settings.egress_ip}"] if self.settings.egress_ip else [])
        return [self.key_status(k) for k in keys]

    def key_status(self, key: str) -> KeyStatus:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.settings.cache_seconds:
            return hit[1]
        status = self.compute(key, int(now))
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now, status)
        return status

    def compute(self, key: str, now: int, record_pause: bool = True) -> KeyStatus:
        """The figures of `key` now; rates past the pause thresholds pause it (unless
        `record_pause` is false: `reputation status` only looks)."""
        s, store = self.settings, self.store
        paused, not_before = store.pause_of(key)
        windows = tuple(store.window(key, h, s.minimum_volume, now, not_before) for h in s.windows_hours)
        today = now // DAY
        volumes = store.daily_volumes(key, today - s.spike.days, today)
        previous = [volumes.get(d, 0) for d in range(today - s.spike.days, today)]
        cap, day_n, sent = self._warmup(key, now, volumes.get(today, 0))
        status = KeyStatus(key, windows, s.review.bounce_rate, s.review.complaint_rate, s.pause.bounce_rate,
                           s.pause.complaint_rate, paused, volumes.get(today, 0),
                           float(statistics.median(previous)) if previous else 0.0, s.spike.factor, s.spike.minimum,
                           cap, day_n, sent)
        if paused is None and record_pause and not key.startswith("ip:"):
            over = [w for w in windows if w.counts and (w.bounce_rate >= s.pause.bounce_rate
                                                        or w.complaint_rate >= s.pause.complaint_rate)]
            if over:
                detail = "; ".join(w.describe() for w in over)
                store.set_action(key, "pause", detail, actor="outguard", at=now)
                paused = store.pause_of(key)[0]
                status = replace(status, paused=paused)
                log.warning("reputation alert: %s paused (%s); fix the list, then `%s`", key, detail, resume_hint(key))
        self._alert(status)
        return status

    def _warmup(self, key: str, now: int, today_volume: int) -> tuple[int | None, int | None, int]:
        day = dt.datetime.fromtimestamp(now, dt.UTC).date()
        for entry in self.settings.warmup:
            if entry.key == key:
                cap = entry.cap_on(day)
                return cap, (day - entry.start).days + 1 if cap is not None else None, today_volume
        return None, None, today_volume

    def _alert(self, status: KeyStatus) -> None:
        """One warning per key and state (review level reached, back below)."""
        counted = [w for w in status.windows if w.counts]
        state = "paused" if status.paused else (
            "review" if any(w.bounce_rate >= status.review_bounce or w.complaint_rate >= status.review_complaint
                            for w in counted) else "ok")
        if self._alerted.get(status.key, "ok") != state:
            self._alerted[status.key] = state
            if state == "review":
                log.warning("reputation alert: %s over the review thresholds (%s)", status.key,
                            "; ".join(w.describe() for w in counted))

    def forget(self) -> None:
        """Drop cached figures (a resume in this process, tests)."""
        with self._lock:
            self._cache.clear()

    def close(self) -> None:
        if self._made is not None:
            self._made.close()


def reputation_service(config: Config, url: str | None = None, **kw: Any) -> ReputationService:
    store_cfg = config.section("store")
    return ReputationService(resolve(url, store_cfg), Policy.from_config(store_cfg.get("policy")),
                             ReputationSettings.from_config(config), float(store_cfg["connect_timeout_seconds"]), **kw)


__all__ = ["KeyStatus", "ReputationService", "WindowFigures", "reputation_service", "resume_hint"]
