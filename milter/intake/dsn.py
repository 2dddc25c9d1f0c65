"""RFC 3464 delivery status notifications (multipart/report; report-type=delivery-status)."""

from __future__ import annotations

from email.message import Message

from outguard.intake.events import DeliveryEvent, Report, assess, find_code
from outguard.intake.util import clean_address, field_blocks, note_original, one_line
from outguard.store.policy import Policy

_STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")


def status_parts(msg: Message) -> list[Message]:
    return [p for p in msg.walk() if p.get_content_type() in _STATUS_TYPES]


def parse_dsn(msg: Message, policy: Policy | None = None) -> Report | None:
    parts = status_parts(msg)
    if not parts:
        return None
    report = Report(kind="dsn", detail="rfc3464")
    note_original(report, msg)
    human: str | None = None
    for part in parts:
        blocks = field_blocks(part)
        if not blocks:
            report.problems.append("empty delivery-status part")
            continue
        for block in blocks[1:] if len(blocks) > 1 else blocks:
            # The address we sent to: Original-Recipient (as we gave it, rfc822 type), else the final one.
            original = str(block.get("Original-Recipient") or "")
            rcpt = clean_address(original) if original.strip().lower().startswith("rfc822") else None
            rcpt = rcpt or clean_address(str(block.get("Final-Recipient") or "")) \
                or clean_address(original) or clean_address(str(block.get("X-Actual-Recipient") or ""))
            if rcpt is None:
                if block.get("Action") or block.get("Status"):
                    report.problems.append("recipient block without a readable recipient")
                continue
            action = one_line(block.get("Action")).lower()
            if action in ("delivered", "relayed", "expanded"):
                report.events.append(DeliveryEvent(rcpt, "delivered", original_message_id=report.original_message_id,
                                                   original_sender=report.original_sender, cause="delivered"))
                continue
            if action not in ("failed", "delayed", ""):
                report.problems.append(f"unknown action {action[:20]!r}")
                continue
            status = one_line(block.get("Status")) or None
            diag = one_line(block.get("Diagnostic-Code"))
            diag_text = diag.split(";", 1)[1].strip() if ";" in diag[:20] else diag
            remote = one_line(block.get("Remote-MTA")).split(";", 1)[-1].strip() or None
            final = action != "delayed" and not (action == "" and (status or "").startswith("4"))
            code = find_code(diag_text)
            for_class = diag_text
            if not diag_text:
                # no Diagnostic-Code: what the human-readable part says, for the phrasing only
                if human is None:
                    from outguard.intake.nonstandard import _report_text
                    human = " ".join(_report_text(msg).split())[:4000]
                for_class = human
            v = assess(status, code, for_class, policy, final=final)
            report.events.append(DeliveryEvent(
                rcpt, v.kind, v.status, code, v.reason, remote, diag_text[:1000] or None,
                original_message_id=report.original_message_id, original_sender=report.original_sender, cause=v.cause))
    return report
