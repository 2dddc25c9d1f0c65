"""The `reputation:` section of the config, typed: thresholds, windows, stream key, warm-up."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from outguard.core.config import Config, ConfigError

HOUR = 3600
DAY = 86400


@dataclass(frozen=True)
class Thresholds:
    """Rates as fractions (0.05 is 5 %)."""

    bounce_rate: float
    complaint_rate: float


@dataclass(frozen=True)
class WarmupEntry:
    """Daily caps for one sending IP (`ip`) or stream (`stream`), counted from `start` (day 1)."""

    key: str                  # "ip:<address>" or a stream key ("list:<list-id>", "domain:<domain>")
    start: dt.date
    daily_caps: tuple[int, ...]

    def cap_on(self, day: dt.date) -> int | None:
        """The cap of `day`; None before the start and after the schedule (no cap)."""
        n = (day - self.start).days
        if n < 0 or n >= len(self.daily_caps):
            return None
        return self.daily_caps[n]


@dataclass(frozen=True)
class SpikeSettings:
    factor: float = 3.0        # today over this many times the trailing median ...
    minimum: int = 500         # ... and at least this many recipients today
    days: int = 7              # the trailing days the median is taken over


@dataclass(frozen=True)
class ReputationSettings:
    enabled: bool = True
    stream_header: str = "List-Id"
    windows_hours: tuple[int, ...] = (24, 168)
    minimum_volume: int = 200
    review: Thresholds = Thresholds(0.05, 0.001)
    pause: Thresholds = Thresholds(0.10, 0.005)
    spike: SpikeSettings = SpikeSettings()
    egress_ip: str | None = None
    warmup: tuple[WarmupEntry, ...] = ()
    cache_seconds: float = 10.0
    flush_seconds: float = 1.0
    retention_days: int = 35
    pacing: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config) -> ReputationSettings:
        return cls.from_section(config.section("reputation"))

    @classmethod
    def from_section(cls, cfg: dict[str, Any]) -> ReputationSettings:
        base = cls()
        review, pause, spike = cfg.get("review") or {}, cfg.get("pause") or {}, cfg.get("volume_spike") or {}
        entries = []
        for entry in cfg.get("warmup") or []:
            key = f"ip:{entry['ip']}" if entry.get("ip") else str(entry["stream"]).lower()
            start = entry["start"]
            try:
                start = start if isinstance(start, dt.date) else dt.date.fromisoformat(str(start))
            except ValueError:
                raise ConfigError(f"reputation.warmup: start {start!r} is not a date (YYYY-MM-DD)") from None
            entries.append(WarmupEntry(key, start, tuple(int(c) for c in entry["daily_caps"])))
        return cls(
            enabled=bool(cfg.get("enabled", base.enabled)),
            stream_header=str(cfg.get("stream_header") or base.stream_header),
            windows_hours=tuple(int(h) for h in cfg.get("windows_hours") or base.windows_hours),
            minimum_volume=int(cfg.get("minimum_volume", base.minimum_volume)),
            review=Thresholds(float(review.get("bounce_rate", base.review.bounce_rate)),
                              float(review.get("complaint_rate", base.review.complaint_rate))),
            pause=Thresholds(float(pause.get("bounce_rate", base.pause.bounce_rate)),
                             float(pause.get("complaint_rate", base.pause.complaint_rate))),
            spike=SpikeSettings(float(spike.get("factor", base.spike.factor)),
                                int(spike.get("minimum", base.spike.minimum)), int(spike.get("days", base.spike.days))),
            egress_ip=cfg.get("egress_ip") or None,
            warmup=tuple(entries),
            cache_seconds=float(cfg.get("cache_seconds", base.cache_seconds)),
            flush_seconds=float(cfg.get("flush_seconds", base.flush_seconds)),
            retention_days=int(cfg.get("retention_days", base.retention_days)),
            pacing=dict(cfg.get("pacing") or {}),
        )

    @property
    def longest_window(self) -> int:
        return max(self.windows_hours) * HOUR
