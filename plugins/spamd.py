"""Ask the site's SpamAssassin daemon (spamd) for its score: one `spam.spamd` finding.

A site that already runs spamd has rules, Bayes data and network tests tuned to its mail
that no built-in model matches; this check hands it the message over the spamc protocol
(`SYMBOLS SPAMC/1.5`, TCP or a Unix socket) and reports spamd's verdict as a fact:
`spam.spamd` with spamd's own score (its scale, its `required` threshold in `extra`) and the
names of the rules that fired ("spamd 12.3/5.0: BAYES_99, URIBL_BLACK"): rule names only,
never message text. Off by default (not in `plugins.enabled`); when spamd cannot be reached,
times out or answers with an error, the check raises, so the host reports `error.spamd` and
the site's error rules decide.

The core hands checks a parsed message, not its bytes, so spamd gets a re-serialisation:
the decoded headers and the text parts (plain and HTML), without attachments. Header,
phrase and URI rules see what they would see; rules on MIME structure or raw encodings may not.

Settings (`plugins.settings.spamd`, `settings_schema` below): `host` and `port` (default
127.0.0.1:783) or `socket` (a Unix socket path, preferred when given), `timeout` seconds (5),
`max_bytes` (512000: longer messages are cut, as spamc does), `user` (the spamd user whose
preferences apply).
"""

from __future__ import annotations

import re
import socket
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

from outguard.checks import Finding, InspectContext, Message, StartupContext, hookimpl

_STATUS = re.compile(rb"^SPAMD/\d+\.\d+\s+(\d+)\s*(.*)$")
_SPAM = re.compile(rb"^Spam:\s*(\w+)\s*;\s*(-?[\d.]+)\s*/\s*(-?[\d.]+)", re.IGNORECASE | re.MULTILINE)
_SYMBOL = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_MIME_HEADERS = frozenset({"content-type", "content-transfer-encoding", "mime-version", "content-disposition"})
MAX_SYMBOLS = 10


class SpamdError(RuntimeError):
    """spamd answered, but not with a score."""


class SpamdCheck:
    """The spamd check: connection settings on `self`, one request per message. Optional:
    shipped, but it runs only when `plugins.enabled` names it (it needs a site's spamd)."""

    optional = True
    emits = ("spam.spamd",)
    settings_schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "host": {"type": "string", "minLength": 1},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "socket": {"type": "string", "minLength": 1},
            "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 300},
            "max_bytes": {"type": "integer", "minimum": 1024},
            "user": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
        },
    }

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 783
        self.socket_path: str | None = None
        self.timeout = 5.0
        self.max_bytes = 512_000
        self.user: str | None = None

    @hookimpl
    def outguard_startup(self, context: StartupContext) -> None:
        """Keep the settings (the host validated them); no connection is made here."""
        s = dict(context.settings)
        self.host = s.get("host", self.host)
        self.port = int(s.get("port", self.port))
        self.socket_path = s.get("socket")
        self.timeout = float(s.get("timeout", self.timeout))
        self.max_bytes = int(s.get("max_bytes", self.max_bytes))
        self.user = s.get("user")

    @hookimpl
    def outguard_inspect(self, message: Message, context: InspectContext) -> list[Finding]:
        return [self.check(message)]

    def check(self, message: Message) -> Finding:
        """spamd's score and rule names for `message`; raises OSError or SpamdError when it has none."""
        body = serialise(message)[: self.max_bytes]
        head = [b"SYMBOLS SPAMC/1.5", b"Content-length: %d" % len(body)]
        if self.user:
            head.append(b"User: " + self.user.encode("ascii"))
        reply = self._exchange(b"\r\n".join(head) + b"\r\n\r\n" + body)
        return parse_reply(reply)

    def _connect(self) -> socket.socket:
        if self.socket_path:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.socket_path)
            except BaseException:
                sock.close()
                raise
            return sock
        return socket.create_connection((self.host, self.port), timeout=self.timeout)

    def _exchange(self, request: bytes) -> bytes:
        with self._connect() as sock:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


def serialise(message: Message) -> bytes:
    """The parsed message as MIME again: its headers, then its plain and HTML text parts."""
    out = EmailMessage(policy=SMTP)
    for name, value in message.headers:
        if name.lower() not in _MIME_HEADERS:
            try:
                out[name] = " ".join(value.split())
            except (ValueError, TypeError):
                continue  # a header the serialiser refuses is left out, not fatal
    plain = "\n".join(v.text for v in message.texts("body"))
    html = "\n".join(v.text for v in message.texts("html"))
    out.set_content(plain or ("" if html else "\n"))
    if html:
        out.add_alternative(html, subtype="html")
    return out.as_bytes()


def parse_reply(reply: bytes) -> Finding:
    """A `spam.spamd` finding from spamd's answer to SYMBOLS; SpamdError for anything else."""
    head, _, body = reply.partition(b"\r\n\r\n")
    first = head.split(b"\r\n", 1)[0]
    status = _STATUS.match(first)
    if not status:
        raise SpamdError("spamd reply without a SPAMD status line")
    if status.group(1) != b"0":
        raise SpamdError(f"spamd status {int(status.group(1))}")
    spam = _SPAM.search(head)
    if not spam:
        raise SpamdError("spamd reply without a Spam: header")
    score, required = float(spam.group(2)), float(spam.group(3))
    symbols = [s for s in body.decode("ascii", "replace").strip().split(",") if _SYMBOL.match(s.strip())]
    symbols = [s.strip() for s in symbols]
    shown = ", ".join(symbols[:MAX_SYMBOLS]) + (f", +{len(symbols) - MAX_SYMBOLS} more" if len(symbols) > MAX_SYMBOLS else "")
    return Finding("spam.spamd", confidence=1.0, score=score, where=("body",),
                   detail=f"spamd {score:g}/{required:g}" + (f": {shown}" if shown else ""))
