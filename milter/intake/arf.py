"""Complaint reports: RFC 5965 ARF (multipart/report; report-type=feedback-report, RFC 6650,
Yahoo, AOL, Comcast, Mail.ru, ... all send it) and Microsoft's non-standard JMRP (Hotmail /
Outlook.com: the complained-about message attached, or forwarded whole, with
X-HmXmrOriginalRecipient naming the complainer)."""

from __future__ import annotations

import re
from email.message import Message

from outguard.intake.events import DeliveryEvent, Report
from outguard.intake.util import LIST_HEADERS, clean_address, field_blocks, header_addresses, note_original, one_line

# What each feedback type does to the complaining recipient. abuse, fraud, virus, other
# (and the x- extensions) complain about mail we sent: a complaint. opt-out asks to be
# taken off: an unsubscribe. not-spam (a "this was not spam" click) and auth-failure (a
# DMARC/SPF/DKIM failure report, RFC 6591) are reports about the mail, not about the
# reader's wishes: they suppress nobody.
TYPE_OF_FEEDBACK = {"abuse": "complaint", "fraud": "complaint", "virus": "complaint", "other": "complaint",
                    "opt-out": "unsubscribe", "opt-out-list": "unsubscribe"}
REPORT_ONLY = ("not-spam", "auth-failure", "dmarc")

# Where the returned message names the complainer, best first (Original-Rcpt-To and
# Removal-Recipient in the report fields come before all of them).
RECIPIENT_HEADERS = ("X-HmXmrOriginalRecipient", "X-Original-To", "Delivered-To", "Envelope-To", "X-Envelope-To")

# Providers redact the complainer ("redacted@aol.com", "undisclosed comcast recipient").
_REDACTED = re.compile(r"redacted|undisclosed|^x+@|^\*+@|^[#*x]{3,}", re.I)
_VERP = re.compile(r"^[^@+=]+[+-]([^@+=]+)=([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)@[^@]+$")
_JMRP_FROM = re.compile(r"staff@hotmail\.com|@(hotmail|outlook|msn|live)\.com", re.I)


def feedback_parts(msg: Message) -> list[Message]:
    return [p for p in msg.walk() if p.get_content_type() == "message/feedback-report"]


def usable(addrs: list[str]) -> list[str]:
    """The addresses that are someone's, not a provider's redaction placeholder."""
    return [a for a in addrs if not _REDACTED.search(a)]


def complainer(orig: Message | None) -> list[str]:
    """The recipient the returned message names: a delivery header, else the address our own
    VERP return path encodes (`bounces+reader=isp.example@sender.example`: providers redact
    the To: but leave the envelope sender), else a To: that names exactly one address and
    is no list mail (a list's To: names the list, not the reader)."""
    if orig is None:
        return []
    for name in RECIPIENT_HEADERS:
        found = usable(header_addresses(orig, name))
        if found:
            return found[:1]
    verp = [a for a in (verp_recipient(p) for p in header_addresses(orig, "Return-Path")) if a]
    if verp:
        return usable(verp)[:1]
    if any(orig.get(h) for h in LIST_HEADERS):
        return []
    to = header_addresses(orig, "To")
    return usable(to) if len(to) == 1 else []


def verp_recipient(return_path: str) -> str | None:
    """`prefix+local=domain@host` (or `prefix-local=domain@host`) -> `local@domain`."""
    m = _VERP.match(return_path)
    return clean_address(f"{m.group(1)}@{m.group(2)}") if m else None


def feedback_type(value: str | None) -> str:
    """`Abuse (reported by the user)` -> `abuse`: the first token, lower case; none is abuse."""
    token = re.sub(r"\([^)]*\)", " ", value or "").split()
    return token[0].lower() if token else "abuse"


def event_type(ftype: str) -> str | None:
    """complaint, unsubscribe, or None (a report that suppresses nobody)."""
    if ftype in REPORT_ONLY:
        return None
    if ftype in TYPE_OF_FEEDBACK:
        return TYPE_OF_FEEDBACK[ftype]
    return "complaint" if ftype.startswith("x-") else None


def parse_arf(msg: Message) -> Report | None:
    parts = feedback_parts(msg)
    if not parts:
        return None
    report = Report(kind="arf", detail="rfc5965")
    orig = note_original(report, msg)
    for part in parts:
        fields: dict[str, list[str]] = {}
        for block in field_blocks(part):
            for k, v in block.items():
                fields.setdefault(k.lower(), []).append(one_line(v))
        ftype = feedback_type((fields.get("feedback-type") or [""])[0])
        if report.original_sender is None:  # no returned headers: the report's own field says
            report.original_sender = clean_address((fields.get("original-mail-from") or [""])[0])
        etype = event_type(ftype)
        if etype is None:
            report.problems.append(f"feedback type {ftype[:30]!r}: a report, suppresses nobody")
            continue
        rcpts = usable([a for a in (clean_address(v) for v in fields.get("original-rcpt-to", [])) if a])
        rcpts = rcpts or usable([a for a in (clean_address(v) for v in fields.get("removal-recipient", [])) if a])
        rcpts = rcpts or complainer(orig)
        if not rcpts:
            report.problems.append("feedback report names no recipient (redacted or absent)")
            continue
        reporter = (fields.get("reporting-mta") or [""])[0].split(";", 1)[-1].strip() or None
        for rcpt in rcpts:
            report.events.append(DeliveryEvent(rcpt, etype, reason=ftype, remote_mta=reporter, feedback_type=ftype,
                                               cause="feedback", original_message_id=report.original_message_id,
                                               original_sender=report.original_sender))
    return report


def parse_jmrp(msg: Message) -> Report | None:
    """Microsoft's junk-mail report: from a Microsoft address, the reported message attached
    (or the message itself, forwarded) carrying X-HmXmrOriginalRecipient."""
    sender = " ".join(str(msg.get(h) or "") for h in ("From", "Return-Path", "Sender"))
    if not _JMRP_FROM.search(sender):
        return None
    orig: Message | None = msg if msg.get("X-HmXmrOriginalRecipient") else None
    if orig is None:
        for part in msg.walk():
            payload = part.get_payload() if part.get_content_type() == "message/rfc822" else None
            if isinstance(payload, list) and payload and isinstance(payload[0], Message) \
                    and payload[0].get("X-HmXmrOriginalRecipient"):
                orig = payload[0]
                break
    if orig is None:
        return None
    report = Report(kind="arf", detail="jmrp")
    report.original_message_id = one_line(orig.get("Message-ID")) or None
    senders = header_addresses(orig, "From")
    report.original_sender = senders[0] if senders else None
    rcpts = complainer(orig)
    if not rcpts:
        report.problems.append("junk-mail report names no recipient")
    for rcpt in rcpts:
        report.events.append(DeliveryEvent(rcpt, "complaint", reason="abuse", feedback_type="abuse", cause="feedback",
                                           original_message_id=report.original_message_id,
                                           original_sender=report.original_sender))
    return report
