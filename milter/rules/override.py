"""The sender's override marker: a rule with `allow_override` steps aside when the sender
resends with it (a subject tag `[override: reason]` or a header the config names).

`acknowledge` rules need the marker only; `justification` rules need a reason of at least
`min_length` characters. The reason is cut to `max_length` and scanned for identifiers
like any text: what it holds is masked before it reaches the audit trail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from outguard.core.findings import Finding
from outguard.core.message import Message

# Anything that looks like an identifier: a token with digits (SSN, MRN, MBI, dates, phone
# numbers), an e-mail address. Names cannot be told from words here: a justification whose
# subject the checks found an identifier in is withheld whole.
_IDENTIFIER = re.compile(r"\S*\d\S*|\S+@\S+")
WITHHELD = "[withheld: the justification held identifiers]"


@dataclass(frozen=True)
class Claim:
    """A marker found in a message: the sender's (raw, unredacted) reason, and where."""

    reason: str
    where: str  # "subject" | "header"


@dataclass(frozen=True)
class OverrideMarker:
    subject_tag: str = "override"
    header: str | None = "X-Outguard-Override-Reason"
    min_length: int = 10
    max_length: int = 200

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> OverrideMarker:
        return cls(subject_tag=str(section.get("subject_tag", cls.subject_tag)),
                   header=section.get("header", cls.header),
                   min_length=int(section.get("min_length", cls.min_length)),
                   max_length=int(section.get("max_length", cls.max_length)))

    @property
    def subject_pattern(self) -> re.Pattern[str]:
        return re.compile(rf"\[\s*{re.escape(self.subject_tag)}\s*(?::\s*([^\]]*))?\]", re.IGNORECASE)

    def find(self, message: Message) -> Claim | None:
        """The marker in `message`, if any (the header wins over the subject tag)."""
        if self.header:
            value = message.header(self.header)
            if value is not None:
                return Claim(" ".join(value.split())[: self.max_length], "header")
        hit = self.subject_pattern.search(message.subject or "")
        if hit:
            return Claim(" ".join((hit.group(1) or "").split())[: self.max_length], "subject")
        return None

    def permits(self, kind: str, claim: Claim) -> bool:
        """Does `claim` bypass a rule allowing `kind` of override?"""
        return kind == "acknowledge" or len(claim.reason) >= self.min_length


def redacted_reason(claim: Claim, findings: list[Finding]) -> str:
    """The reason as the audit trail may keep it: identifiers masked; withheld whole if a
    check found an identifier where the reason was written (names look like words)."""
    if any(claim.where in f.where and f.id.startswith("phi.") for f in findings):
        return WITHHELD
    return _IDENTIFIER.sub("[redacted]", claim.reason)
