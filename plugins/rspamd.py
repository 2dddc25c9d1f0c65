"""Ask the site's rspamd for its verdict: one `spam.rspamd` finding.

A site that runs rspamd has its own rules, Bayes, fuzzy hashes and reputation data; this
check hands it the message over rspamd's HTTP protocol (`POST /checkv2` to a normal or
proxy worker, default `http://127.0.0.1:11333`) with what the SMTP transaction said in the
request headers rspamd reads: `From` (envelope sender), one `Rcpt` per recipient, `IP`
(the submitting client), `User` (the authenticated submitter: rspamd then treats the mail
as outbound), `Queue-Id`. outguard does not keep the HELO name, so `Helo` is not sent.

rspamd answers JSON (`score`, `required_score`, `action`, `symbols`); the finding carries
rspamd's own score and, in `detail`, its action and the names of the symbols that scored
("rspamd 8.3/15 add header: SUBJECT_HAS_CURRENCY, RDNS_NONE"): symbol names only, never
their `options` or `description` (those quote the message: URLs, names, HELO strings).
Off by default (not in `plugins.enabled`); when rspamd cannot be reached, times out,
answers an HTTP error, a body that is not its JSON, or skips the message, the check raises,
so the host reports `error.rspamd` and the site's error rules decide.

The message is sent re-serialised as for spamd (`spamd.serialise`: the decoded headers and
the text parts, without attachments).

Settings (`plugins.settings.rspamd`, `settings_schema` below): `url` (the worker, http only;
default `http://127.0.0.1:11333`), `timeout` seconds (5), `max_bytes` (512000: longer
messages are cut), `password` (sent as the `Password` header, for a controller worker that
wants one), `settings_id` (rspamd's `Settings-Id`: a settings profile the site defined).
"""

from __future__ import annotations

import http.client
import json
import re
from typing import Any
from urllib.parse import urlsplit

from outguard.checks import Finding, InspectContext, Message, StartupContext, hookimpl
from outguard_plugins.spamd import serialise

_SYMBOL = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_HEADER_VALUE = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,253}$")  # printable ASCII, one line
MAX_SYMBOLS = 10
DEFAULT_URL = "http://127.0.0.1:11333"


class RspamdError(RuntimeError):
    """rspamd answered, but not with a verdict."""


class RspamdCheck:
    """The rspamd check: the worker's address on `self`, one request per message. Optional:
    shipped, but it runs only when `plugins.enabled` names it (it needs a site's rspamd)."""

    optional = True
    emits = ("spam.rspamd",)
    settings_schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "url": {"type": "string", "pattern": r"^http://[A-Za-z0-9.\-\[\]:]+(:\d{1,5})?/?$"},
            "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 300},
            "max_bytes": {"type": "integer", "minimum": 1024},
            "password": {"type": "string", "minLength": 1, "pattern": r"^[\x21-\x7e]+$"},
            "settings_id": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
        },
    }

    def __init__(self) -> None:
        self.host, self.port = "127.0.0.1", 11333
        self.timeout = 5.0
        self.max_bytes = 512_000
        self.password: str | None = None
        self.settings_id: str | None = None

    @hookimpl
    def outguard_startup(self, context: StartupContext) -> None:
        """Keep the settings (the host validated them); no connection is made here."""
        s = dict(context.settings)
        url = urlsplit(s.get("url", DEFAULT_URL))
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 11333
        self.timeout = float(s.get("timeout", self.timeout))
        self.max_bytes = int(s.get("max_bytes", self.max_bytes))
        self.password = s.get("password")
        self.settings_id = s.get("settings_id")

    @hookimpl
    def outguard_inspect(self, message: Message, context: InspectContext) -> list[Finding]:
        return [self.check(message)]

    def check(self, message: Message) -> Finding:
        """rspamd's score and symbol names for `message`; raises OSError or RspamdError when it has none."""
        body = serialise(message)[: self.max_bytes]
        status, reply = self._exchange(body, self.request_headers(message))
        if status != 200:
            raise RspamdError(f"rspamd HTTP status {status}")
        return parse_reply(reply)

    def request_headers(self, message: Message) -> list[tuple[str, str]]:
        """What rspamd reads besides the message: the envelope, each value one safe line."""
        env = message.envelope
        pairs = [("From", env.sender or ""), *(("Rcpt", r) for r in env.recipients), ("IP", env.client_address or ""),
                 ("User", env.auth_user or ""), ("Queue-Id", env.queue_id or ""),
                 ("Settings-Id", self.settings_id or ""), ("Password", self.password or "")]
        return [(k, v) for k, v in pairs if v and _HEADER_VALUE.match(v)]

    def _exchange(self, body: bytes, headers: list[tuple[str, str]]) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.putrequest("POST", "/checkv2", skip_accept_encoding=True)
            for name, value in headers:  # putheader, not a dict: one Rcpt header per recipient
                conn.putheader(name, value)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


def parse_reply(reply: bytes) -> Finding:
    """A `spam.rspamd` finding from rspamd's /checkv2 JSON; RspamdError for anything else."""
    try:
        data = json.loads(reply)
    except ValueError as exc:
        raise RspamdError("rspamd reply is not JSON") from exc
    if not isinstance(data, dict):
        raise RspamdError("rspamd reply is not a JSON object")
    if data.get("is_skipped"):
        raise RspamdError("rspamd skipped the message")
    score, required = data.get("score"), data.get("required_score")
    if not isinstance(score, (int, float)) or isinstance(score, bool):
        raise RspamdError("rspamd reply without a score")
    action = str(data.get("action") or "")
    action = action if re.fullmatch(r"[a-z ]{1,20}", action) else ""  # rspamd's action names only
    symbols = data.get("symbols")
    symbols = symbols if isinstance(symbols, dict) else {}
    scored = [(name, float(sym.get("score") or 0)) for name, sym in symbols.items()
              if _SYMBOL.match(str(name)) and isinstance(sym, dict) and isinstance(sym.get("score"), (int, float))]
    shown = [name for name, s in sorted(scored, key=lambda x: (-abs(x[1]), x[0])) if s != 0]
    names = ", ".join(shown[:MAX_SYMBOLS]) + (f", +{len(shown) - MAX_SYMBOLS} more" if len(shown) > MAX_SYMBOLS else "")
    head = f"rspamd {float(score):g}" + (f"/{float(required):g}" if isinstance(required, (int, float)) else "")
    return Finding("spam.rspamd", confidence=1.0, score=float(score), where=("body",),
                   detail=head + (f" {action}" if action else "") + (f": {names}" if names else ""))
