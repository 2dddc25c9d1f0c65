"""The marker on what outguard submits itself (notices, shadow copies, releases as-is), so
the milter does not inspect those again: a header holding a sealed token. A sender cannot
forge one (no secret), nor replay one onto another message (it names the Message-ID), and
none leaves: every X-Outguard-* header is stripped on the way out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from outguard.unsubscribe.tokens import TokenCodec, TokenError, load_secret

HEADER = "X-Outguard-Origin"
KINDS = ("notice", "shadow", "release")
_CONTEXT = b"outguard own submission v1"
MAX_AGE_SECONDS = 2 * 86400  # a submission waits in the maildrop queue at most this long


def review_secret(section: dict[str, Any]) -> bytes:
    """The site secret of the review page, notices and shadow copies (SecretError if none)."""
    return load_secret(section.get("secret_file"), "OUTGUARD_REVIEW_SECRET", "review.secret_file")


@dataclass(frozen=True)
class Origin:
    kind: str                      # notice | shadow | release
    message_id: str
    rule: str = ""                 # the rule a shadow copy is for / that held a released message
    would: str = ""                # the verdict the shadow rule would have given
    findings: list[tuple[str, int]] = field(default_factory=list)  # ids and counts (shadow copies)
    actor: str = ""                # who released it


class OriginMarker:
    def __init__(self, secret: bytes) -> None:
        self.codec = TokenCodec(secret, context=_CONTEXT, max_age_seconds=MAX_AGE_SECONDS)

    def make(self, origin: Origin) -> str:
        return self.codec.seal({"k": origin.kind, "m": origin.message_id, "r": origin.rule, "w": origin.would,
                                "f": [[i, c] for i, c in origin.findings], "a": origin.actor})

    def read(self, value: str, message_id: str | None) -> Origin | None:
        """The origin a marker header claims, if it is ours and fits this message; else None."""
        try:
            data, _ = self.codec.unseal(value)
            origin = Origin(str(data["k"]), str(data["m"]), str(data.get("r", "")), str(data.get("w", "")),
                            [(str(i), int(c)) for i, c in data.get("f", [])], str(data.get("a", "")))
        except (TokenError, KeyError, TypeError, ValueError):
            return None
        if origin.kind not in KINDS or origin.message_id != (message_id or "").strip():
            return None
        return origin


def prepend_header(raw: bytes, name: str, value: str) -> bytes:
    """`raw` with one header line in front (the copy keeps every byte of the original after it)."""
    return f"{name}: {value}\r\n".encode("ascii") + raw
