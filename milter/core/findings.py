"""The one fact type every check reports: a Finding (facts, never verdicts)."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

FINDING_ID = re.compile(r"^[a-z0-9_][a-z0-9_-]*(\.[a-z0-9_][a-z0-9_-]*)*$")

# Where a finding was seen: "subject", "body", "html", "envelope", "header:<name>",
# "attachment:<name>" (the text views of `Message.texts`).


class FindingError(ValueError):
    """A check produced something that is not a valid Finding."""


@dataclass(frozen=True)
class Finding:
    """One fact about a message. `detail` must be safe to log: never a raw PHI value."""

    id: str
    confidence: float = 1.0
    count: int = 1
    where: tuple[str, ...] = ()
    recipient: str | None = None
    score: float | None = None
    detail: str = ""
    plugin: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not FINDING_ID.match(self.id):
            raise FindingError(f"finding id {self.id!r} is not a dotted lower-case id")
        if not 0.0 <= float(self.confidence) <= 1.0:
            raise FindingError(f"finding {self.id}: confidence {self.confidence} not in 0..1")
        if int(self.count) < 1:
            raise FindingError(f"finding {self.id}: count must be >= 1")
        if isinstance(self.where, str):
            object.__setattr__(self, "where", (self.where,))

    def with_plugin(self, plugin: str) -> Finding:
        """This finding credited to `plugin`: a copy, without validating again what was
        validated when it was made (`dataclasses.replace` did, at ~8 us a finding)."""
        if self.plugin == plugin:
            return self
        clone = copy.copy(self)
        object.__setattr__(clone, "plugin", plugin)
        return clone

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape used by `check --json`, the audit trail and the rule tests."""
        return {
            "id": self.id,
            "confidence": round(float(self.confidence), 3),
            "count": int(self.count),
            "where": list(self.where),
            "recipient": self.recipient,
            "score": self.score,
            "detail": self.detail,
            "plugin": self.plugin,
        }


_MASKABLE = re.compile(r"[0-9A-Za-z]")


def redact(value: str, reveal_last: int = 0) -> str:
    """Mask every letter and digit of `value` except the last `reveal_last` ones.

    Punctuation stays so a reader sees the shape (`***-**-6789`), never the value.
    """
    positions = [m.start() for m in _MASKABLE.finditer(value)]
    keep = set(positions[len(positions) - reveal_last :]) if reveal_last > 0 else set()
    return "".join(
        ch if (i in keep or not _MASKABLE.match(ch)) else "*" for i, ch in enumerate(value)
    )
