"""The one place a Plan becomes milter operations (add/change headers, recipients,
quarantine, reply). Written against a small protocol so it is tested without pymilter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from outguard.rules.decide import Plan

OUR_HEADER_PREFIX = "x-outguard-"


class MilterOps(Protocol):
    def addheader(self, field: str, value: str, idx: int = -1) -> None: ...
    def chgheader(self, field: str, idx: int, value: str | None) -> None: ...
    def addrcpt(self, rcpt: str, params: str | None = None) -> None: ...
    def delrcpt(self, rcpt: str) -> None: ...
    def quarantine(self, reason: str) -> None: ...
    def setreply(self, rcode: str, xcode: str | None = None, msg: str | None = None) -> None: ...


@dataclass(frozen=True)
class HeaderNames:
    verdict: str = "X-Outguard-Verdict"
    route: str = "X-Outguard-Route"
    monitor: str = "X-Outguard-Monitor"
    quarantine: str = "X-Outguard-Quarantine"


def _bare(address: str) -> str:
    return address.strip().strip("<>").lower()


def safe_reply_text(text: str) -> str:
    """libmilter drops a reply with a lone '%'; CR/LF would break the SMTP line."""
    return " ".join(text.replace("%", "%%").split())[:400] or "Refused by policy"


def apply_plan(ops: MilterOps, plan: Plan, names: HeaderNames, headers_seen: list[tuple[str, str]],
               recipients: list[str]) -> str:
    """Apply `plan`; return the verdict for the milter's end-of-message answer.

    `headers_seen` are the sender's own headers (to strip look-alikes of ours and to prefix
    the Subject); `recipients` are the envelope recipients exactly as RCPT TO gave them.
    """
    if plan.verdict in ("reject", "tempfail") and plan.reply is not None:
        ops.setreply(plan.reply.code, plan.reply.status, safe_reply_text(plan.reply.text))
        return plan.verdict
    if plan.verdict == "discard":
        return "discard"

    # A sender must never pre-set our headers (milter_header_checks only sees milter-added
    # ones, but downstream systems read them too). Delete from the last so indexes hold.
    counts: dict[str, int] = {}
    ours: list[tuple[str, int]] = []
    for name, _ in headers_seen:
        key = name.lower()
        counts[key] = counts.get(key, 0) + 1
        if key.startswith(OUR_HEADER_PREFIX):
            ours.append((name, counts[key]))
    for name, idx in reversed(ours):
        ops.chgheader(name, idx, None)

    verdict_value = f"{plan.verdict}; rules={','.join(plan.rule_ids) or 'none'}"
    ops.addheader(names.verdict, verdict_value)
    if plan.route:
        ops.addheader(names.route, plan.route)
    for header, value in plan.add_headers:
        ops.addheader(header, value)
    if plan.monitored:
        ops.addheader(names.monitor, ", ".join(f"{rule}={would}" for rule, would in plan.monitored))
    if plan.subject_prefix:
        subject = next((v for n, v in headers_seen if n.lower() == "subject"), None)
        if subject is None:
            ops.addheader("Subject", plan.subject_prefix)
        elif not subject.strip().startswith(plan.subject_prefix):
            ops.chgheader("Subject", 1, f"{plan.subject_prefix} {subject.strip()}")
    by_address = {_bare(r): r for r in recipients}
    for address in plan.drop_recipients:
        original = by_address.get(_bare(address))
        if original is not None:
            ops.delrcpt(original)
    for address in plan.notify:
        ops.addrcpt(f"<{_bare(address)}>")
    if plan.verdict == "quarantine":
        reason = plan.quarantine_reason or "held by outguard"
        ops.addheader(names.quarantine, reason)
        ops.quarantine(reason)
    return plan.verdict
