"""The figures of one counter key: rates in a window, daily volumes, pause state. Plain data
(what `services["reputation"]` hands to the check, what the report prints)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class WindowFigures:
    """Accepted recipients, hard bounces and complaints of one key in one rolling window.
    A bounce counts when its recipient was accepted under this key in the window before it
    (or the event's own scope names the key); each recipient counts once per kind."""

    key: str
    hours: int
    since: int                  # window start (epoch s): now - hours, or the last resume if later
    accepted: int
    hard_bounces: int
    complaints: int
    minimum_volume: int

    @property
    def bounce_rate(self) -> float:
        return self.hard_bounces / self.accepted if self.accepted else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.complaints / self.accepted if self.accepted else 0.0

    @property
    def counts(self) -> bool:
        """Enough volume for the rates to mean anything."""
        return self.accepted >= self.minimum_volume

    def describe(self) -> str:
        return (f"{self.key} {self.hours}h: {self.hard_bounces} hard bounces, {self.complaints} complaints "
                f"of {self.accepted} recipients ({self.bounce_rate:.2%} / {self.complaint_rate:.3%})")


@dataclass(frozen=True)
class Pause:
    key: str
    at: int
    detail: str


@dataclass(frozen=True)
class KeyStatus:
    """Everything the check needs about one key, with the thresholds in force."""

    key: str
    windows: tuple[WindowFigures, ...]
    review_bounce: float
    review_complaint: float
    pause_bounce: float
    pause_complaint: float
    paused: Pause | None = None
    today: int = 0                          # recipients accepted today (UTC)
    trailing_median: float = 0.0            # median of the previous days' daily volume
    spike_factor: float = 3.0
    spike_minimum: int = 500
    warmup_cap: int | None = None           # today's cap (None: no warm-up in force)
    warmup_day: int | None = None           # day of the schedule, 1-based
    warmup_sent: int = 0                    # recipients counted against the cap today
    notes: tuple[str, ...] = field(default_factory=tuple)

    def spiking(self, extra: int = 0) -> bool:
        """Today's volume, with `extra` recipients more (the message being judged), is a spike."""
        volume = self.today + extra
        return volume >= self.spike_minimum and volume > self.spike_factor * self.trailing_median
