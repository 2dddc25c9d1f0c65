"""What a check may get from the core as a service (`context.services[...]`), as protocols:
checks program against these, the core hands in the real thing (or a test its own)."""

from __future__ import annotations

from collections.abc import Sequence
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
