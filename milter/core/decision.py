"""What was decided about one message, as plain data.

The same object serves `check --explain/--json`, the rule tests, the audit trail and the
milter: it is picklable, so a worker process hands it back to the milter as it is.
Findings carry only redacted details (checks must redact), so nothing here holds PHI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from outguard.core.findings import Finding
from outguard.core.message import Message
from outguard.core.verdict import Verdict


@dataclass(frozen=True)
class Reply:
    """An SMTP reply: code, enhanced status, text."""

    code: str
    status: str
    text: str


@dataclass(frozen=True)
class InlineContent:
    """An inline-encrypted message body and the content headers (Content-Type, ...) that
    replace the message's own. Ciphertext only: no clear text rides in a Decision."""

    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass
class Encryption:
    """How `encrypt: auto` protects this message, and why (`check --json`, the audit trail)."""

    method: str                           # smime | pgp | tls
    reason: str                           # "encrypt: smime, every recipient has a certificate"
    content: InlineContent | None = None  # set once the body was encrypted inline
    subject: str | None = None            # the neutral Subject that replaces the sender's


@dataclass(frozen=True)
class Match:
    """One rule that matched, and why (for people and the audit trail)."""

    rule_id: str
    verdict: Verdict
    monitor: bool
    reasons: tuple[str, ...] = ()
    origin: str = ""  # file:line of the rule
    status: str = ""
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.rule_id, "verdict": self.verdict, "monitor": self.monitor,
                "reasons": list(self.reasons), "origin": self.origin}


@dataclass
class Decision:
    """The verdict and every modifier the matched rules asked for."""

    verdict: Verdict = Verdict.DELIVER
    findings: list[Finding] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)
    reply: Reply | None = None
    route: str | None = None
    quarantine_reason: str | None = None
    add_headers: list[tuple[str, str]] = field(default_factory=list)
    subject_prefix: str | None = None
    drop_recipients: list[str] = field(default_factory=list)
    notify: list[str] = field(default_factory=list)
    monitored: list[tuple[str, str]] = field(default_factory=list)  # (rule id, verdict it would have given)
    deciding_rule: str | None = None
    rules_version: str = ""
    add_unsubscribe: bool = False
    notice: tuple[str, str, str] | None = None  # (template id, rule id, its allow_override or ""): tell the sender
    shadowed: list[tuple[str, str]] = field(default_factory=list)  # (shadow rule id, verdict it would have given)
    overrides: list[tuple[str, str]] = field(default_factory=list)  # (rule id, "justification"|"acknowledge") bypassed
    justification: str | None = None                                # the sender's reason, redacted if it held identifiers
    origin: str = "inspected"  # or what outguard submitted itself: "notice" | "shadow" | "release" (not inspected)
    encryption: Encryption | None = None

    def __post_init__(self) -> None:
        self.verdict = Verdict(self.verdict)

    @property
    def rule_ids(self) -> list[str]:
        return [m.rule_id for m in self.matches]

    @property
    def refused(self) -> bool:
        return self.verdict.refused

    def finding_summary(self) -> str:
        """`id:count,...` for log lines: ids and counts only, never details."""
        return ",".join(f"{f.id}:{f.count}" for f in self.findings) or "-"

    def actions(self) -> list[dict[str, Any]]:
        """What will be done to the message, in the order the milter applies it."""
        out: list[dict[str, Any]] = []
        if self.verdict in (Verdict.REJECT, Verdict.TEMPFAIL) and self.reply:
            out.append({"action": self.verdict, "code": self.reply.code, "status": self.reply.status,
                        "text": self.reply.text, "rule": self.deciding_rule})
        elif self.verdict == Verdict.DISCARD:
            out.append({"action": "discard", "rule": self.deciding_rule})
        if not self.refused:
            if self.route or self.encryption:
                act: dict[str, Any] = {"action": "encrypt", "route": self.route}
                if self.encryption:
                    act.update(method=self.encryption.method, reason=self.encryption.reason,
                               inline=self.encryption.content is not None)
                out.append(act)
            if self.verdict == Verdict.QUARANTINE:
                out.append({"action": "quarantine", "reason": self.quarantine_reason, "rule": self.deciding_rule})
            out += [{"action": "drop_recipient", "recipient": r} for r in self.drop_recipients]
            out += [{"action": "notify", "recipient": r} for r in self.notify]
            if self.subject_prefix:
                out.append({"action": "subject_prefix", "value": self.subject_prefix})
            out += [{"action": "add_header", "header": h, "value": v} for h, v in self.add_headers]
        out += [{"action": "monitor", "rule": r, "would": w} for r, w in self.monitored]
        out += [{"action": "shadow", "rule": r, "would": w} for r, w in self.shadowed]
        out += [{"action": "override", "rule": r, "kind": k} for r, k in self.overrides]
        if self.notice:
            out.append({"action": "notify_sender", "template": self.notice[0], "rule": self.notice[1]})
        return out


@dataclass
class Result:
    """One inspection: the parsed message (None if it could not be parsed), the decision,
    and how long it took."""

    message: Message | None
    decision: Decision
    elapsed: float

    @property
    def findings(self) -> list[Finding]:
        return self.decision.findings
