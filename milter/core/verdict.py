"""The one spelling of every verdict, and how they rank.

Ranking: reject > tempfail > discard > quarantine > encrypt > deliver. Several rules may
match one message; the strongest verdict wins (see `outguard.rules.decide`).
"""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    """What happens to a message. A `str`, so it prints, compares and serialises as its value."""

    DELIVER = "deliver"
    ENCRYPT = "encrypt"
    QUARANTINE = "quarantine"
    DISCARD = "discard"
    TEMPFAIL = "tempfail"
    REJECT = "reject"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def refused(self) -> bool:
        """The message does not go on (modifiers such as tags are then moot)."""
        return self in (Verdict.REJECT, Verdict.TEMPFAIL, Verdict.DISCARD)

    @classmethod
    def parse(cls, value: str) -> Verdict:
        """A verdict from user input; the error names the valid ones."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise ValueError(f"unknown verdict {value!r} (valid: {', '.join(VERDICTS)})") from None


VERDICTS: tuple[str, ...] = tuple(v.value for v in Verdict)
_RANK = {v: i for i, v in enumerate(Verdict)}
