"""Reading suppression lists into store events: outguard's own export and the suppression
exports of common ESPs, recognised by their header row (or named by the caller).

| format   | columns (header)                                            | becomes                     |
|----------|-------------------------------------------------------------|-----------------------------|
| outguard | address, scope, reason, status, diagnostic, ..., created    | the reason given            |
| ses      | EmailAddress, Reason (BOUNCE / COMPLAINT), LastUpdateTime    | hard bounce / complaint     |
| sendgrid | email, created, status, reason (bounces, blocks, invalid)   | bounce, classified by policy|
|          | email, created, ip (spam reports)                           | complaint                   |
|          | email, created (unsubscribes)                               | unsubscribe                 |
| mailgun  | address, code, error, created_at (bounces)                  | bounce, classified by policy|
|          | address, tags, created_at (unsubscribes)                    | unsubscribe                 |
|          | address, created_at (complaints)                            | complaint                   |
| postmark | EmailAddress, SuppressionReason, Origin, CreatedAt          | hard bounce / complaint / manual |
| plain    | one address per line, no header (needs --reason)            | the --reason given          |

A bounce row goes through the policy like a live bounce: a 5.7.x or "blocked"/"spam"
rejection never suppresses the recipient (SendGrid's blocks export is full of those).
A malformed line comes back with its line number beside the good rows; the caller decides
whether the good ones are recorded. No line's content goes anywhere but the event.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TextIO

from outguard.core.addresses import AddressError, normalise, normalise_scope
from outguard.store.policy import Event

# --reason on the command line (or a row's reason in outguard's export) -> event kind
# (and a default status for bounces)
REASON_EVENTS = {
    "hard-bounce": ("bounce", "5.1.1"),
    "soft-bounce": ("bounce", "4.0.0"),
    "complaint": ("complaint", None),
    "unsubscribe": ("unsubscribe", None),
    "manual": ("manual", None),
    "invalid": ("invalid", None),
    "trap": ("trap", None),
}
FORMATS = ("auto", "outguard", "ses", "sendgrid", "mailgun", "postmark", "plain")
_STATUS_IN_TEXT = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_CODE_IN_TEXT = re.compile(r"\b([245]\d\d)\b")


class BadLine(ValueError):
    """A line that cannot become an event; the message says why (never the line's content beyond
    a short excerpt of the offending field)."""


@dataclass
class Row:
    """A good line and the event it becomes."""

    line: int
    event: Event


def parse_time(value: str | None, default: int) -> int:
    """Epoch seconds from what ESPs write: epoch (s or ms), ISO 8601, RFC 2822; empty is `default`."""
    v = (value or "").strip()
    if not v:
        return default
    if re.fullmatch(r"\d{9,11}(\.\d+)?", v):
        return int(float(v))
    if re.fullmatch(r"\d{12,14}", v):  # milliseconds
        return int(v) // 1000
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        try:
            dt = parsedate_to_datetime(v)
        except (TypeError, ValueError, IndexError):
            raise BadLine(f"unreadable time {v[:40]!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def detect_format(header: list[str]) -> str:
    """The export's format from its header row (the first line of a plain list is an address)."""
    cols = {h.strip().lower() for h in header}
    if {"address", "scope", "reason"} <= cols:
        return "outguard"
    if {"emailaddress", "suppressionreason"} <= cols:
        return "postmark"
    if {"emailaddress", "reason"} <= cols:
        return "ses"
    if "email" in cols:
        return "sendgrid"
    if "address" in cols:
        return "mailgun"
    if len(header) >= 1 and "@" in header[0]:
        return "plain"
    raise BadLine(f"unknown CSV layout (columns: {', '.join(h.strip() for h in header)[:200]}); name it with --format")


def _bounce_evidence(text: str, code: str | None = None) -> dict[str, Any]:
    """Status and SMTP code found in an ESP's free-text reason, so the policy classifies it."""
    m = _STATUS_IN_TEXT.search(text or "")
    c = code or (_CODE_IN_TEXT.search(text or "") or [None, None])[1]
    return {"status": m.group(1) if m else None, "smtp_code": (str(c).strip()[:3] or None) if c else None,
            "diagnostic": (text or "").strip()[:1000] or None}


def row_event(fmt: str, row: dict[str, str], now: int, reason: str | None, scope: str | None,
              actor: str | None = None) -> Event:
    """One CSV row (keys lower-cased) -> one event. Raises BadLine."""
    g = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
    extra: dict[str, Any] = {}
    at_col = "created"
    if fmt == "outguard":
        addr, kind_reason, at_col = g.get("address", ""), g.get("reason", ""), "created"
        if kind_reason not in REASON_EVENTS:
            raise BadLine(f"unknown reason {kind_reason[:40]!r}")
        kind, default_status = REASON_EVENTS[kind_reason]
        extra = {k: g.get(k) or None for k in ("status", "smtp_code", "diagnostic", "remote_mta", "feedback_type")}
        if kind == "bounce" and not extra["status"]:
            extra["status"] = default_status
        if g.get("expires"):
            extra["expires"] = parse_time(g["expires"], now)
        scope = scope or g.get("scope") or "global"
        source = g.get("source") or "import"
    elif fmt == "ses":
        addr, at_col, source = g.get("emailaddress", ""), "lastupdatetime", "import-ses"
        r = g.get("reason", "").upper()
        if r == "BOUNCE":
            kind, extra = "bounce", {"status": None, "smtp_code": "550"}
        elif r == "COMPLAINT":
            kind = "complaint"
        else:
            raise BadLine(f"unknown SES reason {r[:40]!r}")
        if "lastupdatetime" not in g:
            at_col = "lastupdatedtimestamp"
    elif fmt == "postmark":
        addr, at_col, source = g.get("emailaddress", ""), "createdat", "import-postmark"
        r = g.get("suppressionreason", "").lower()
        kinds = {"hardbounce": ("bounce", {"status": None, "smtp_code": "550"}), "spamcomplaint": ("complaint", {}),
                 "manualsuppression": ("unsubscribe", {})}
        if r not in kinds:
            raise BadLine(f"unknown Postmark reason {r[:40]!r}")
        kind, extra = kinds[r][0], dict(kinds[r][1])
    elif fmt == "sendgrid":
        addr, at_col, source = g.get("email", ""), "created", "import-sendgrid"
        if "status" in g or "reason" in g:
            kind = "bounce"
            extra = _bounce_evidence(g.get("reason", ""))
            if g.get("status"):
                extra["status"] = g["status"] if _STATUS_IN_TEXT.fullmatch(g["status"]) else extra["status"]
        elif "ip" in g:
            kind, extra = "complaint", {"feedback_type": "abuse"}
        else:
            kind = "unsubscribe"
    elif fmt == "mailgun":
        addr, at_col, source = g.get("address", ""), "created_at", "import-mailgun"
        if "code" in g or "error" in g:
            kind = "bounce"
            extra = _bounce_evidence(g.get("error", ""), g.get("code") or None)
        elif "tags" in g:
            kind = "unsubscribe"
        else:
            kind, extra = "complaint", {"feedback_type": "abuse"}
    else:  # plain
        addr, source, kind = g.get("address", ""), "import", "manual"
    if reason:  # --reason overrides the file's
        kind, default_status = REASON_EVENTS[reason]
        if kind == "bounce" and not extra.get("status"):
            extra["status"] = default_status
        elif kind != "bounce":
            extra = {k: v for k, v in extra.items() if k in ("diagnostic", "feedback_type")}
    if not addr:
        raise BadLine("no address")
    try:
        address = normalise(addr)
        scope_n = normalise_scope(scope)
    except AddressError as exc:
        raise BadLine(f"bad address or scope: {exc}") from None
    from email_validator import EmailNotValidError, validate_email
    try:
        validate_email(address, check_deliverability=False, allow_smtputf8=True, allow_quoted_local=True,
                       allow_domain_literal=True, globally_deliverable=False)
    except EmailNotValidError:
        raise BadLine("not a valid address") from None
    return Event(address, kind, parse_time(g.get(at_col), now), scope=scope_n, source=source, actor=actor,
                 **{k: v for k, v in extra.items() if k in ("status", "smtp_code", "diagnostic", "remote_mta",
                                                              "feedback_type", "expires")})


def read_rows(text: TextIO, fmt: str, reason: str | None, scope: str | None,
              actor: str | None = None) -> tuple[list[Row], list[tuple[int, str]], str]:
    """Parse every line; return good rows, bad lines (line number, problem) and the format used."""
    now = int(time.time())
    reader = csv.reader(text)
    bad: list[tuple[int, str]] = []
    rows: list[Row] = []
    try:
        first = next(reader)
    except StopIteration:
        return [], [], fmt
    except csv.Error as exc:
        return [], [(1, f"CSV: {exc}")], fmt
    try:
        used = detect_format(first) if fmt == "auto" else fmt
    except BadLine as exc:
        return [], [(1, str(exc))], fmt
    if used == "plain":
        header = ["address"]
        pending: Iterator[list[str]] = iter([first]) if "@" in (first[0] if first else "") else iter([])
        if fmt == "plain" and first and "@" not in first[0]:
            pending = iter([])  # a header line such as "email"
    else:
        header = first
        pending = iter([])

    def lines() -> Iterator[tuple[int, list[str] | None, str | None]]:
        for r in pending:
            yield 1, r, None
        while True:
            try:
                r = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield reader.line_num, None, f"CSV: {exc}"
                continue
            yield reader.line_num, r, None

    for line, values, problem in lines():
        if problem or values is None:
            bad.append((line, problem or "unreadable"))
            continue
        if not any(v.strip() for v in values):
            continue
        if used != "plain" and len(values) != len(header):
            bad.append((line, f"{len(values)} field(s), the header has {len(header)}"))
            continue
        try:
            rows.append(Row(line, row_event(used, dict(zip(header, values, strict=False)) if used != "plain"
                                            else {"address": values[0]}, now, reason, scope, actor)))
        except BadLine as exc:
            bad.append((line, str(exc)))
    return rows, bad, used
