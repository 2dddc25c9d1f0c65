"""RFC 5965 abuse reports (multipart/report; report-type=feedback-report), RFC 6650."""

from __future__ import annotations

from email.message import Message

from .events import DeliveryEvent, Report
from .util import clean_address, field_blocks, header_addresses, note_original, one_line

# Feedback types that are a complaint about the mail (suppress the complaining recipient);
# opt-out is an unsubscribe; the others (auth-failure, not-spam, virus) name no unwanted mail.
COMPLAINT_TYPES = ("abuse", "fraud")
UNSUBSCRIBE_TYPES = ("opt-out", "opt-out-list")


def feedback_parts(msg: Message) -> list[Message]:
    return [p for p in msg.walk() if p.get_content_type() == "message/feedback-report"]


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
        ftype = (fields.get("feedback-type") or ["abuse"])[0].lower()
        rcpts = [a for a in (clean_address(v) for v in fields.get("original-rcpt-to", [])) if a]
        if not rcpts:
            rcpts = [a for a in (clean_address(v) for v in fields.get("removal-recipient", [])) if a]
        if not rcpts and orig is not None:
            # Providers redact Original-Rcpt-To; the original's To: names the complainer
            # only when it names exactly one address.
            to = header_addresses(orig, "To")
            if len(to) == 1:
                rcpts = to
        if not rcpts:
            report.problems.append("feedback report names no recipient")
            continue
        if ftype in COMPLAINT_TYPES or ftype.startswith("x-"):
            etype = "complaint"
        elif ftype in UNSUBSCRIBE_TYPES:
            etype = "unsubscribe"
        else:
            report.problems.append(f"feedback type {ftype[:30]!r} suppresses nobody")
            continue
        reporter = (fields.get("reporting-mta") or [""])[0].split(";", 1)[-1].strip() or None
        for rcpt in rcpts:
            report.events.append(DeliveryEvent(rcpt, etype, reason=ftype, remote_mta=reporter, feedback_type=ftype,
                                               cause="feedback", original_message_id=report.original_message_id,
                                               original_sender=report.original_sender))
    return report
