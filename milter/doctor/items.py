"""The doctor's items: each one thing a receiver checks, OK or OPEN, with its impact and fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

OK, OPEN, SKIPPED = "OK", "OPEN", "SKIPPED"


@dataclass(frozen=True)
class Item:
    id: str              # spf.record, dkim.signature, ...
    status: str          # OK | OPEN | SKIPPED (an input it needs was not given)
    summary: str         # what was found
    impact: str = ""     # what an OPEN item costs
    fix: str = ""        # what to do

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def render(domain: str, items: list[Item]) -> str:
    width = max(len(i.id) for i in items) if items else 10
    lines = [f"outguard doctor {domain}: {sum(i.status == OPEN for i in items)} open, "
             f"{sum(i.status == OK for i in items)} ok, {sum(i.status == SKIPPED for i in items)} skipped"]
    for i in items:
        lines.append(f"{i.status:<7} {i.id:<{width}}  {i.summary}")
        if i.status != OK:
            if i.impact:
                lines.append(f"{'':<{width + 9}}impact: {i.impact}")
            if i.fix:
                lines.append(f"{'':<{width + 9}}fix: {i.fix}")
    return "\n".join(lines) + "\n"
