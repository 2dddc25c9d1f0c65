"""What a check may get from the core as a service (`context.services[...]`), as protocols:
checks program against these, the core hands in the real thing (or a test its own)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol


class ServiceUnavailable(Exception):
    """A service cannot answer now (a dead database). Raise it on: the host turns it into
    `error.<check>`, which the shipped rules tempfail, and the next message tries again."""


class SuppressionRecord(Protocol):
    """One suppression in force (fields a check may show; never message content)."""

    address: str
    scope: str
    reason: str | None
    status: str | None
    created: int
    expires: int | None


class SuppressionLookup(Protocol):
    """`services["suppression"]`: who must not be mailed again."""

    def lookup(self, addresses: Sequence[str],
               scopes: Sequence[str] = ("global",)) -> dict[str, list[SuppressionRecord]]: ...


class EdmIdentifier(Protocol):
    """A primary column of an EDM schema and how the check finds it in text."""

    column: str
    detector: str          # ssn | mbi | mrn | member_id | digits | pattern
    pattern: str | None    # the regex when detector is "pattern"


class EdmSchemaInfo(Protocol):
    name: str
    primary: Sequence[EdmIdentifier]


class EdmLookup(Protocol):
    """`services["edm"]`: the organisation's own records, as keyed hashes (exact data match)."""

    window: int  # characters either side of an identifier searched for corroborating fields

    def schemas(self) -> Sequence[EdmSchemaInfo]: ...

    def match(self, schema: str, candidates: Sequence[tuple[str, str, str]]) -> list[tuple[int, tuple[str, ...]]]:
        """(primary column, identifier as written, its window) -> (index, matched columns) of records."""
        ...
class ReputationWindow(Protocol):
    """One key's figures in one rolling window (`hours`): accepted recipients, hard bounces
    and complaints; `counts` is false below the configured minimum volume."""

    key: str
    hours: int
    accepted: int
    hard_bounces: int
    complaints: int

    @property
    def bounce_rate(self) -> float: ...
    @property
    def complaint_rate(self) -> float: ...
    @property
    def counts(self) -> bool: ...
    def describe(self) -> str: ...


class ReputationPause(Protocol):
    key: str
    at: int
    detail: str


class ReputationStatus(Protocol):
    """One counter key (`list:<list-id>`, `domain:<sender domain>`, `ip:<egress IP>`): its
    windows, the thresholds in force, a pause, today's volume against the trailing median,
    and today's warm-up cap (None: none)."""

    key: str
    windows: Sequence[ReputationWindow]
    review_bounce: float
    review_complaint: float
    pause_bounce: float
    pause_complaint: float
    paused: ReputationPause | None
    today: int
    trailing_median: float
    warmup_cap: int | None
    warmup_day: int | None
    warmup_sent: int

    def spiking(self, extra: int = 0) -> bool: ...


class ReputationLookup(Protocol):
    """`services["reputation"]`: the figures of the message's stream (its List-Id, else
    `domain:<sender domain>`) and of this relay's egress IP when one is configured."""

    def status(self, sender: str, header: Callable[[str], str | None]) -> Sequence[ReputationStatus]: ...
