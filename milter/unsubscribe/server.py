"""`outguard oneclick serve|url`: the RFC 8058 one-click unsubscribe endpoint.

    POST /u/TOKEN   body List-Unsubscribe=One-Click  -> 200, the unsubscribe is recorded
    GET  /u/TOKEN   a page with one button that makes that POST (a GET never unsubscribes:
                    link scanners and previews follow GETs)

No cookies, no redirects, nothing about the recipient in the responses or the log. An
unknown, forged or expired token is 404; a store that cannot be reached is 503 with
Retry-After, so the mailbox provider tries again. Repeated POSTs of one token record one
event (the store event's note holds the token's hash). Run it behind the site's TLS
reverse proxy; it listens on loopback by default.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from outguard.store import Event, StoreUnavailable, SuppressionStore
from outguard.unsubscribe.tokens import TokenCodec, TokenError

log = logging.getLogger("outguard.unsubscribe.tokens")

_PATH = re.compile(r"^/u/([A-Za-z0-9_-]{20,2048})/?$")
MAX_BODY = 8192
PAGE = (b"<!doctype html><meta charset=utf-8><meta name=robots content=noindex><title>Unsubscribe</title>"
        b"<form method=post><input type=hidden name=List-Unsubscribe value=One-Click>"
        b"<button type=submit>Unsubscribe</button></form>")


class Endpoint:
    """What the handler needs: the codec and the store (thread-safe)."""

    def __init__(self, codec: TokenCodec, store: SuppressionStore) -> None:
        self.codec = codec
        self.store = store
        self.recorded = 0
        self._lock = threading.Lock()

    def unsubscribe(self, token: str) -> bool:
        """Record the token's unsubscribe. True if newly recorded, False if it already was.
        Raises TokenError, StoreUnavailable."""
        unsub = self.codec.read(token)
        note = f"oneclick:{self.codec.key_of(token)}"
        with self._lock:  # one token, one event, even with concurrent POSTs in this process
            if any(e.note == note for e in self.store.history(unsub.address)):
                return False
            self.store.record([Event(unsub.address, "unsubscribe", int(time.time()), scope=unsub.scope,
                                     source="one-click", actor="outguard-oneclick", note=note)])
            self.recorded += 1
        return True


def make_handler(endpoint: Endpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "outguard-oneclick"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            pass  # the request line holds the token: never logged

        def _send(self, status: int, body: bytes = b"", ctype: str = "text/plain; charset=utf-8",
                  extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("X-Content-Type-Options", "nosniff")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _token(self) -> str | None:
            m = _PATH.match(self.path.split("?", 1)[0])
            return m.group(1) if m else None

        def do_GET(self) -> None:  # noqa: N802
            token = self._token()
            try:
                if token is None:
                    raise TokenError("no token")
                endpoint.codec.read(token)
            except TokenError:
                self._send(HTTPStatus.NOT_FOUND, b"Unknown or expired link.\n")
                return
            self._send(HTTPStatus.OK, PAGE, "text/html; charset=utf-8")

        do_HEAD = do_GET

        def do_POST(self) -> None:  # noqa: N802
            token = self._token()
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY or length < 0:
                self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"Too large.\n")
                return
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            if token is None:
                self._send(HTTPStatus.NOT_FOUND, b"Unknown or expired link.\n")
                return
            ctype = (self.headers.get("Content-Type") or "").lower()
            if "multipart/form-data" in ctype:
                one_click = bool(re.search(r'name="?List-Unsubscribe"?\r?\n\r?\nOne-Click', body, re.I))
            else:
                one_click = parse_qs(body).get("List-Unsubscribe") == ["One-Click"]
            if not one_click:
                self._send(HTTPStatus.BAD_REQUEST, b"Expected List-Unsubscribe=One-Click.\n")
                return
            try:
                new = endpoint.unsubscribe(token)
            except TokenError:
                self._send(HTTPStatus.NOT_FOUND, b"Unknown or expired link.\n")
                return
            except StoreUnavailable:
                log.warning("one-click unsubscribe: store unavailable, asked the client to retry")
                self._send(HTTPStatus.SERVICE_UNAVAILABLE, b"Try again later.\n", extra={"Retry-After": "60"})
                return
            log.info("one-click unsubscribe %s", "recorded" if new else "repeated")
            self._send(HTTPStatus.OK, b"You are unsubscribed.\n")

    return Handler


def serve(endpoint: Endpoint, host: str, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(endpoint))
    server.daemon_threads = True
    return server
