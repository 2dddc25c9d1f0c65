"""The one place a Decision becomes milter operations (add/change headers, recipients,
quarantine, reply). Written against a small protocol so it is tested without pymilter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from outguard.core.decision import Decision, Encryption
from outguard.core.headers import OUR_HEADER_PREFIX, HeaderNames
from outguard.core.verdict import Verdict


class MilterOps(Protocol):
    def addheader(self, field: str, value: str, idx: int = -1) -> None: ...
    def chgheader(self, field: str, idx: int, value: str | None) -> None: ...
    def addrcpt(self, rcpt: str, params: str | None = None) -> None: ...
    def delrcpt(self, rcpt: str) -> None: ...
    def quarantine(self, reason: str) -> None: ...
    def setreply(self, rcode: str, xcode: str | None = None, msg: str | None = None) -> None: ...
    def replacebody(self, chunk: bytes) -> None: ...


def _bare(address: str) -> str:
    return address.strip().strip("<>").lower()


def safe_reply_text(text: str) -> str:
    """libmilter drops a reply with a lone '%'; CR/LF would break the SMTP line."""
    return " ".join(text.replace("%", "%%").split())[:400] or "Refused by policy"


def _delete_headers(ops: MilterOps, headers_seen: list[tuple[str, str]], doomed: Callable[[str], bool]) -> None:
    """Delete every header whose lower-cased name `doomed` accepts, from the last so indexes hold."""
    counts: dict[str, int] = {}
    hits: list[tuple[str, int]] = []
    for name, _ in headers_seen:
        key = name.lower()
        counts[key] = counts.get(key, 0) + 1
        if doomed(key):
            hits.append((name, counts[key]))
    for name, idx in reversed(hits):
        ops.chgheader(name, idx, None)


def apply_inline_encryption(ops: MilterOps, encryption: Encryption, names: HeaderNames,
                            headers_seen: list[tuple[str, str]]) -> None:
    """Swap the body for its ciphertext: the sender's content headers go (they are inside the
    encrypted entity), the new ones come, the other headers stay."""
    assert encryption.content is not None
    _delete_headers(ops, headers_seen, lambda key: key.startswith("content-"))
    if not any(n.lower() == "mime-version" for n, _ in headers_seen):
        ops.addheader("MIME-Version", "1.0")
    for header, value in encryption.content.headers:
        ops.addheader(header, value)
    ops.replacebody(encryption.content.body)
    ops.addheader(names.encrypted, encryption.method)


def apply_decision(ops: MilterOps, decision: Decision, names: HeaderNames, headers_seen: list[tuple[str, str]],
               recipients: list[str]) -> Verdict:
    """Apply `decision`; return the verdict for the milter's end-of-message answer.

    `headers_seen` are the sender's own headers (to strip look-alikes of ours and to prefix
    the Subject); `recipients` are the envelope recipients exactly as RCPT TO gave them.
    """
    if decision.verdict in (Verdict.REJECT, Verdict.TEMPFAIL) and decision.reply is not None:
        ops.setreply(decision.reply.code, decision.reply.status, safe_reply_text(decision.reply.text))
        return decision.verdict
    if decision.verdict == Verdict.DISCARD:
        return decision.verdict

    # A sender must never pre-set our headers (milter_header_checks only sees milter-added
    # ones, but downstream systems read them too). Delete from the last so indexes hold.
    _delete_headers(ops, headers_seen, lambda key: key.startswith(OUR_HEADER_PREFIX))

    verdict_value = f"{decision.verdict}; rules={','.join(decision.rule_ids) or 'none'}"
    ops.addheader(names.verdict, verdict_value)
    if decision.route:
        ops.addheader(names.route, decision.route)
    for header, value in decision.add_headers:
        ops.addheader(header, value)
    if decision.monitored:
        ops.addheader(names.monitor, ", ".join(f"{rule}={would}" for rule, would in decision.monitored))
    encryption = decision.encryption
    if encryption is not None and encryption.content is not None:
        apply_inline_encryption(ops, encryption, names, headers_seen)
    if encryption is not None and encryption.content is not None and encryption.subject:
        has_subject = any(n.lower() == "subject" for n, _ in headers_seen)
        (ops.chgheader("Subject", 1, encryption.subject) if has_subject else ops.addheader("Subject", encryption.subject))
    elif decision.subject_prefix:
        subject = next((v for n, v in headers_seen if n.lower() == "subject"), None)
        if subject is None:
            ops.addheader("Subject", decision.subject_prefix)
        elif not subject.strip().startswith(decision.subject_prefix):
            ops.chgheader("Subject", 1, f"{decision.subject_prefix} {subject.strip()}")
    by_address = {_bare(r): r for r in recipients}
    for address in decision.drop_recipients:
        original = by_address.get(_bare(address))
        if original is not None:
            ops.delrcpt(original)
    for address in decision.notify:
        ops.addrcpt(f"<{_bare(address)}>")
    if decision.verdict == Verdict.QUARANTINE:
        reason = decision.quarantine_reason or "held by outguard"
        ops.addheader(names.quarantine, reason)
        ops.quarantine(reason)
    return decision.verdict
