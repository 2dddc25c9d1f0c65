"""One message in, one `Report` out: DSN, ARF, auto-reply, non-standard bounce, or other."""

from __future__ import annotations

import email
import logging
import re
from email import policy as email_policy

from outguard.intake.arf import parse_arf, parse_jmrp
from outguard.intake.autoreply import is_autoreply
from outguard.intake.dsn import parse_dsn
from outguard.intake.events import Report
from outguard.intake.nonstandard import parse_nonstandard
from outguard.store.policy import Policy

_ROBOT_FROM = re.compile(r"mailer-daemon|postmaster|mail delivery (system|subsystem)|delivery subsystem", re.I)
log = logging.getLogger("outguard.intake")

# A report is small; what makes a message big is the returned original's attachments.
# Past this only the start is read (headers, the report parts come first).
MAX_BYTES = 2 * 1024 * 1024


def parse_message(raw: bytes, policy: Policy | None = None, max_bytes: int = MAX_BYTES) -> Report:
    """Never raises: a message that cannot be read is an "other" report with a problem."""
    problems: list[str] = []
    if len(raw) > max_bytes:
        problems.append(f"message of {len(raw)} bytes: only the first {max_bytes} read")
        raw = raw[:max_bytes]
    try:
        raw = _LEADING_BLANKS.sub(b"", raw, count=1)  # blank lines before the headers would make them body
        msg = _repair_boundary(email.message_from_bytes(raw, policy=email_policy.compat32))
        report = _parse(msg, policy)
    except Exception as exc:  # a parser bug or a pathological message must not stop the intake
        log.warning("unreadable report (%s)", type(exc).__name__)
        report = Report(kind="other", problems=[f"unreadable ({type(exc).__name__})"])
    report.problems[:0] = problems
    report.events = dedupe(report.events)
    return report


_LEADING_BLANKS = re.compile(rb"\A(?:[ \t]*\r?\n)+")
_BOUNDARY = re.compile(r'boundary="([^"]+)"', re.I)


def _repair_boundary(msg: email.message.Message) -> email.message.Message:
    """A multipart whose Content-Type has junk after the quoted boundary (an MTA that folded
    the next header into it) parses as one part; read it again with the clean boundary."""
    if msg.get_content_maintype() != "multipart" or msg.is_multipart():
        return msg
    m = _BOUNDARY.search(str(msg.get("Content-Type") or ""))
    if not m or m.group(1) == msg.get_boundary():
        return msg
    ctype = f'{msg.get_content_type()}; boundary="{m.group(1)}"'
    if msg.get_param("report-type"):
        ctype += f"; report-type={msg.get_param('report-type')}"
    del msg["Content-Type"]
    msg["Content-Type"] = ctype
    return email.message_from_bytes(msg.as_bytes(), policy=email_policy.compat32)


def dedupe(events: list) -> list:
    seen: set[tuple[str, str]] = set()
    out = []
    for e in events:
        key = (e.recipient.lower(), e.type)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def _parse(msg: email.message.Message, policy: Policy | None) -> Report:
    ctype = msg.get_content_type()
    report_type = str(msg.get_param("report-type") or "").lower() if ctype == "multipart/report" else ""
    if report_type == "feedback-report" or (not report_type and ctype == "multipart/report"):
        arf = parse_arf(msg)
        if arf is not None:
            return arf
    if not report_type:
        jmrp = parse_jmrp(msg)  # Microsoft's non-standard complaint report
        if jmrp is not None:
            return jmrp
    # Some MTAs mark their bounces Auto-Submitted: auto-replied: a robot sender is a bounce.
    if is_autoreply(msg) and not report_type and not _from_robot(msg):
        return Report(kind="autoreply", detail="auto-reply")
    dsn = parse_dsn(msg, policy)
    if dsn is not None and any(e.type != "delivered" for e in dsn.events):
        return dsn
    other = parse_nonstandard(msg, policy)
    if other is not None and (other.events or dsn is None):
        if dsn is not None:
            other.problems[:0] = dsn.problems
        return other if other.events else Report(kind="dsn",
                                                  original_message_id=other.original_message_id,
                                                  original_sender=other.original_sender,
                                                  problems=other.problems, detail=other.detail)
    if dsn is not None:
        return dsn
    return Report(kind="other")


def _from_robot(msg: email.message.Message) -> bool:
    return bool(_ROBOT_FROM.search(" ".join(str(msg.get(h) or "") for h in ("From", "Sender"))))


def _clearly_bounce(msg: email.message.Message) -> bool:
    return msg.get_content_type() == "multipart/report" or not str(msg.get("Return-Path") or "x").strip("<> ")
