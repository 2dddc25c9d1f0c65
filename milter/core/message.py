"""The message model: one MIME parse (stdlib `email`), decoded text views for checks.

Parsing never raises on hostile input: broken charsets decode with replacement, MIME
defects, nesting and size limits become `scan.*` findings that the rules decide on.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.message import Message as _StdMessage
from email.parser import BytesParser
from email.utils import getaddresses
from functools import cached_property
from typing import Any

from outguard.core.findings import Finding
from outguard.core.htmltext import Link, html_to_text


@dataclass(frozen=True)
class Envelope:
    """What the SMTP transaction (or the CLI's flags) says, as opposed to the headers."""

    sender: str = ""
    recipients: tuple[str, ...] = ()
    auth_user: str | None = None
    client_address: str | None = None
    queue_id: str | None = None


@dataclass(frozen=True)
class ScanLimits:
    max_depth: int = 20
    max_parts: int = 500
    max_text_bytes: int = 20 * 1024 * 1024
    max_part_bytes: int = 10 * 1024 * 1024

    @classmethod
    def from_config(cls, scan: dict[str, Any]) -> ScanLimits:
        return cls(**{k: int(scan[k]) for k in ("max_depth", "max_parts", "max_text_bytes", "max_part_bytes") if k in scan})


@dataclass(frozen=True)
class TextView:
    """Decoded text a check scans. `where` is subject, body, html or attachment:<name>.

    `lower` and `folded` are worked out on first use and then shared by every check that
    asks (the checks of one message run in turn, so the first asker pays, once)."""

    where: str
    text: str
    content_type: str = "text/plain"

    @cached_property
    def lower(self) -> str:
        """`text.lower()`: the same length and offsets as `text` for nearly all text (a few
        characters, such as U+0130, lower-case to two), so check `len(lower) == len(text)`
        before mapping offsets back."""
        return self.text.lower()

    @cached_property
    def folded(self) -> str:
        """Lower-cased, every run of white space one space, no space at the ends: the form
        `PhraseMatcher.count(..., normalised=True)` takes. Folded views joined with " " are the
        folded form of the texts joined with any white space."""
        return " ".join(self.lower.split())


@dataclass
class Attachment:
    filename: str | None
    content_type: str
    data: bytes
    part_path: str
    truncated: bool = False

    @property
    def label(self) -> str:
        return self.filename or f"part-{self.part_path}"


@dataclass
class Message:
    envelope: Envelope
    headers: list[tuple[str, str]]
    size: int
    views: list[TextView] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    scan_findings: list[Finding] = field(default_factory=list)
    limits: ScanLimits = field(default_factory=ScanLimits)
    _text_budget: int = 0
    # lower-cased name -> values, built on first look-up (checks ask for dozens of headers)
    _by_name: dict[str, list[str]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _indexed: tuple[int, int] = field(default=(0, -1), init=False, repr=False, compare=False)

    @property
    def subject(self) -> str:
        return self.header("Subject") or ""

    def _index(self) -> dict[str, list[str]]:
        if self._indexed != (id(self.headers), len(self.headers)):  # rebuilt if the list was replaced or grew
            self._by_name = {}
            for k, v in self.headers:
                self._by_name.setdefault(k.lower(), []).append(v)
            self._indexed = (id(self.headers), len(self.headers))
        return self._by_name

    def header(self, name: str) -> str | None:
        """The first header called `name` (case-insensitive), decoded."""
        values = self._index().get(name.lower())
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        return list(self._index().get(name.lower(), ()))

    def header_names(self) -> set[str]:
        """Every header name present, lower-cased."""
        return set(self._index())

    def texts(self, *where: str) -> Iterator[TextView]:
        """Text views, optionally only those whose `where` starts with one of `where`."""
        for view in self.views:
            if not where or any(view.where == w or view.where.startswith(w + ":") for w in where):
                yield view

    def header_addresses(self, *names: str) -> list[str]:
        values = [v for n in names for v in self.header_all(n)]
        try:
            return [addr for _, addr in getaddresses(values) if "@" in addr]
        except Exception:
            return []

    def add_text(self, where: str, text: str, content_type: str = "text/plain") -> None:
        """Add a text view, keeping the total under the scan limit (`scan.truncated` past it)."""
        room = self.limits.max_text_bytes - self._text_budget
        if room <= 0:
            _note(self.scan_findings, "scan.truncated", where, "text limit reached")
            return
        if len(text) > room:
            text = text[:room]
            _note(self.scan_findings, "scan.truncated", where, "text limit reached")
        self._text_budget += len(text)
        self.views.append(TextView(where, text, content_type))


def envelope_from_headers(message: Message, envelope: Envelope) -> Envelope:
    """Fill a missing envelope sender/recipients from the headers (for `check` and rule tests;
    the daemon always has the real envelope)."""
    sender = envelope.sender or next(iter(message.header_addresses("Return-Path", "Sender", "From")), "")
    rcpts = envelope.recipients or tuple(dict.fromkeys(message.header_addresses("To", "Cc", "Bcc")))
    return Envelope(sender, rcpts, envelope.auth_user, envelope.client_address, envelope.queue_id)


def _note(findings: list[Finding], fid: str, where: str, detail: str) -> None:
    """Record a scan problem once per id, counting occurrences and places."""
    for i, f in enumerate(findings):
        if f.id == fid:
            places = f.where if where in f.where else f.where + (where,)
            details = f.detail if detail in f.detail.split("; ") else f"{f.detail}; {detail}"
            findings[i] = Finding(fid, count=f.count + 1, where=places, detail=details[:300], plugin="core")
            return
    findings.append(Finding(fid, where=(where,), detail=detail, plugin="core"))


def clean_text(s: str) -> str:
    """Make a string safe to print and encode: lone surrogates from 8-bit bytes become text."""
    try:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return s.encode("utf-8", "replace").decode("utf-8")


def decode_header_value(name: str, raw: str) -> str:
    """Unfolded, decoded header text. Only RFC 2047 encoded words need the (slow) full
    header parser; everything else is plain text already."""
    if "=?" not in raw:
        return clean_text(" ".join(raw.split()))
    try:
        value = str(policy.default.header_factory(name, raw))
    except Exception:
        try:
            value = str(make_header(decode_header(raw)))
        except Exception:
            value = raw
    return clean_text(" ".join(value.split()))


def _decode_bytes(data: bytes, charset: str | None, where: str, findings: list[Finding]) -> str:
    name = (charset or "us-ascii").strip().strip('"').lower() or "us-ascii"
    try:
        codec = codecs.lookup(name).name
    except (LookupError, ValueError):  # unknown, or not even a name (a NUL in it: found by fuzzing)
        _note(findings, "scan.undecodable", where, f"unknown charset {name[:40]!r}")
        codec = "utf-8"
    if codec == "ascii":
        codec = "utf-8"  # 8-bit text labelled us-ascii is nearly always UTF-8
    try:
        text = data.decode(codec, errors="replace")
    except Exception:
        text = data.decode("utf-8", errors="replace")
    if "\ufffd" in text:
        if codec == "utf-8":
            text = data.decode("cp1252", errors="replace")
        if text.count("\ufffd") > max(3, len(text) // 100):
            _note(findings, "scan.undecodable", where, f"bytes not valid in {codec}")
    return text


def _plain_header(name: str, value: str) -> str:
    """Keep header values as strings while parsing. The modern policy's header registry
    parses every header on every access (4.5x the cost of the whole MIME parse, measured on
    SpamAssassin ham); decode_header_value does that work only where encoded words are."""
    return value


# The modern policy (EmailMessage, defects, RFC 2231 parameters), minus the eager header registry.
PARSE_POLICY = policy.default.clone(header_factory=_plain_header)


def _safe(call: Any, default: Any) -> Any:
    try:
        return call()
    except Exception:
        return default


def _header_end(raw: bytes) -> int:
    """Where the body starts after the first blank line ("\n\n" or "\n\r\n"), or -1."""
    ends = [at + n for at, n in ((raw.find(b"\n\n"), 2), (raw.find(b"\n\r\n"), 3)) if at >= 0]
    return min(ends) if ends else -1


def _parse_root(raw: bytes) -> _StdMessage:
    """`BytesParser(policy=PARSE_POLICY).parsebytes(raw)`, cheaper for a message of one part.

    The feed parser reads a single part's body line by line in Python (half its time on 5 KB of
    mail) only to join the lines again. So the header block up to the first blank line is
    parsed alone; if the parser took all of it as headers (nothing left over as body: no early
    end of the headers, no misplaced From line) and the type is neither multipart nor message,
    the rest of the bytes is the payload, decoded as parsebytes decodes (ASCII, surrogateescape).
    Anything else is parsed whole. Same headers, payloads and defects on 15,358 corpus messages,
    9,502 of them by this path."""
    parser = BytesParser(policy=PARSE_POLICY)
    cut = _header_end(raw)
    if cut > 0:
        try:
            root = parser.parsebytes(raw[:cut])
            whole = (root.get_content_maintype() in ("multipart", "message") or root.is_multipart()
                     or root.get_payload() != "")
        except Exception:  # whatever broke, the whole parse decides (and fails the same way, if it does)
            whole = True
        if not whole:
            root.set_payload(raw[cut:].decode("ascii", "surrogateescape"))
            return root
    return parser.parsebytes(raw)


def parse_message(raw: bytes, envelope: Envelope | None = None, limits: ScanLimits | None = None) -> Message:
    """Parse `raw` into a Message. Never raises for any input bytes."""
    limits = limits or ScanLimits()
    envelope = envelope or Envelope()
    findings: list[Finding] = []
    try:
        root: _StdMessage = _parse_root(raw)
    except Exception as exc:  # defensive: the parser is lenient, but never trust it
        root = EmailMessage()
        root.set_content(raw.decode("utf-8", "replace"))
        _note(findings, "scan.malformed", "body", f"parser failed: {type(exc).__name__}")

    headers = [(clean_text(k), decode_header_value(k, v)) for k, v in _safe(root.raw_items, [])]
    msg = Message(envelope=envelope, headers=headers, size=len(raw), scan_findings=findings, limits=limits)
    if msg.subject:
        msg.add_text("subject", msg.subject)

    stack: list[tuple[_StdMessage, int, str]] = [(root, 0, "1")]
    seen = 0
    while stack:
        part, depth, path = stack.pop()
        seen += 1
        if seen > limits.max_parts:
            _note(findings, "scan.truncated", "body", f"more than {limits.max_parts} MIME parts")
            break
        for defect in getattr(part, "defects", []) or []:
            _note(findings, "scan.malformed", "body", type(defect).__name__)
        if _safe(part.is_multipart, False):
            if depth >= limits.max_depth:
                _note(findings, "scan.nesting", "body", f"MIME nested deeper than {limits.max_depth}")
                continue
            children = _safe(part.get_payload, []) or []
            if not isinstance(children, list):
                continue
            for i in range(len(children) - 1, -1, -1):
                stack.append((children[i], depth + 1, f"{path}.{i + 1}"))
            continue
        _add_leaf(msg, part, path, limits, findings)
    return msg


def _filename(part: _StdMessage) -> str | None:
    """`part.get_filename()`, without parsing the parameters of headers that cannot hold one: a
    filename or name parameter (RFC 2231 pieces too, `filename*0*`) has "name" in its name."""
    if not any("name" in str(part.get(h, "")).lower() for h in ("content-disposition", "content-type")):
        return None
    return part.get_filename()


def _add_leaf(msg: Message, part: _StdMessage, path: str, limits: ScanLimits, findings: list[Finding]) -> None:
    ctype = _safe(part.get_content_type, "text/plain") or "text/plain"
    filename = _safe(lambda: _filename(part), None)
    filename = decode_header_value("filename", str(filename)) if filename else None
    disposition = _safe(part.get_content_disposition, None)
    data = _safe(lambda: part.get_payload(decode=True), None)
    if data is None:
        data = b""
    if not isinstance(data, bytes):
        data = str(data).encode("utf-8", "replace")
    truncated = len(data) > limits.max_part_bytes
    where_name = filename or f"part-{path}"
    if truncated:
        data = data[: limits.max_part_bytes]
        _note(findings, "scan.truncated", f"attachment:{where_name}" if filename else "body", "part larger than limit")

    is_attachment = disposition == "attachment" or bool(filename)
    if ctype in ("text/plain", "text/html") and not is_attachment:
        charset = _safe(part.get_content_charset, None)
        where = "html" if ctype == "text/html" else "body"
        text = _decode_bytes(data, charset, where, findings)
        if ctype == "text/html":
            rendered, links = html_to_text(text)
            msg.links.extend(links)
            msg.add_text("html", rendered, ctype)
        else:
            msg.add_text("body", text, ctype)
        return
    if filename:
        msg.add_text(f"attachment:{filename}", filename, "x-outguard/attachment-name")
    msg.attachments.append(Attachment(filename, ctype, data, path, truncated))
