"""Shared helpers: addresses in text, the original message attached to a report."""

from __future__ import annotations

import re
from email import policy as email_policy
from email.message import Message
from email.parser import BytesHeaderParser, HeaderParser
from email.utils import getaddresses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from outguard.intake.events import Report

ADDR_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
ROBOT_LOCALS = ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon", "daemon", "mdaemon", "root",
                "noreply", "no-reply", "abuse", "bounce", "bounces")
MAX_ADDR = 254
# A returned message with one of these is list mail: its To: names the list, not a reader.
LIST_HEADERS = ("List-Id", "List-Post", "List-Unsubscribe", "X-BeenThere")


def clean_address(value: str | None) -> str | None:
    """`rfc822; <User@Example.COM>` -> `User@Example.COM` (or None when it is no address)."""
    if not value:
        return None
    v = value.strip()
    if ";" in v:
        v = v.split(";", 1)[1]
    v = v.strip().strip("<>").strip().strip('"').strip()
    m = ADDR_RE.search(v)
    if not m or len(m.group(0)) > MAX_ADDR:
        return None
    return m.group(0).strip(".")


_PREFIX = re.compile(r"\b(smtp|rfc822|mailto)[=:]", re.I)


def addresses_in(text: str) -> list[str]:
    text = _PREFIX.sub(" ", text)
    return [m.group(0).strip(".").lstrip("'\"") for m in ADDR_RE.finditer(text) if len(m.group(0)) <= MAX_ADDR]


def is_robot(addr: str) -> bool:
    local = addr.split("@", 1)[0].lower()
    return local in ROBOT_LOCALS or local.startswith(("mailer-daemon", "postmaster", "owner-")) \
        or local.endswith(("-admin", "-owner", "-bounces", "-request")) or "-bounces+" in local


def header_addresses(msg: Message, *names: str) -> list[str]:
    out: list[str] = []
    for name in names:
        try:
            values = [str(v) for v in msg.get_all(name, [])]
        except Exception:
            continue
        for _, value in getaddresses(values):
            a = clean_address(value)
            if a:
                out.append(a)
    return out


def part_text(part: Message, limit: int = 200_000) -> str:
    """A part's decoded text (never raises)."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if payload is None:
        raw = part.get_payload()
        if isinstance(raw, str):
            return raw[:limit]
        return ""
    if not isinstance(payload, bytes):
        return str(payload)[:limit]
    charset = part.get_content_charset() or "latin-1"
    try:
        return payload[:limit].decode(charset, "replace")
    except (LookupError, TypeError):
        return payload[:limit].decode("latin-1", "replace")


def original_headers(msg: Message) -> Message | None:
    """Headers of the returned original message (message/rfc822 or text/rfc822-headers)."""
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
            if isinstance(payload, str):
                return HeaderParser().parsestr(payload, headersonly=True)
        if ctype in ("text/rfc822-headers", "message/rfc822-headers", "message/global-headers"):
            text = part_text(part)
            return HeaderParser().parsestr(text.lstrip(), headersonly=True)
    return None


def parse_headers_bytes(raw: bytes) -> Message:
    return BytesHeaderParser(policy=email_policy.compat32).parsebytes(raw, headersonly=True)


def one_line(v: object) -> str:
    return " ".join(str(v or "").split())


def field_blocks(part: Message) -> list[Message]:
    """The header-style field blocks of a delivery-status or feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, list):  # the email package parses it into header blocks already
        return [p for p in payload if isinstance(p, Message)]
    text = part_text(part).replace("\r\n", "\n")
    blocks = []
    for chunk in text.split("\n\n"):
        if chunk.strip():
            blocks.append(HeaderParser().parsestr(chunk.strip() + "\n", headersonly=True))
    return blocks


def note_original(report: Report, msg: Message) -> Message | None:
    """Fill the report's original Message-ID and sender from the returned headers; return them."""
    orig = original_headers(msg)
    if orig is not None:
        report.original_message_id = one_line(orig.get("Message-ID")) or None
        senders = header_addresses(orig, "Return-Path", "From")
        report.original_sender = senders[0] if senders else None
    return orig
