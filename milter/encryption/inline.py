"""`encrypt: auto` after the verdict: choose the method, and for the daemon encrypt the body
inline. Runs in the pipeline (like the unsubscribe action), so `check --json` shows the
method and its reason, and the ciphertext comes back from the worker in the Decision
(no clear-text copy is written anywhere for it). Any failure to encrypt sends the message
over the TLS route, never out in clear text."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from outguard.core.config import Config
from outguard.core.decision import Decision, Encryption, InlineContent
from outguard.core.verdict import Verdict
from outguard.encryption import pgp, smime
from outguard.encryption.choose import Choice, choose
from outguard.encryption.keystore import Keystore
from outguard.rules.actions import AUTO_ROUTE

log = logging.getLogger("outguard.encryption")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_LINE_END = re.compile(rb"\r?\n")


def split_message(raw: bytes) -> tuple[list[bytes], bytes]:
    """(header fields, each with its folded continuation lines, CRLF-joined; body with CRLF lines)."""
    m = _HEADER_END.search(raw)
    head, body = (raw[:m.start()], raw[m.end():]) if m else (raw, b"")
    fields: list[bytes] = []
    for line in _LINE_END.split(head):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        elif line:
            fields.append(line)
    return fields, _LINE_END.sub(b"\r\n", body)


def inner_entity(raw: bytes, subject: bytes | None = None) -> bytes:
    """The part that gets encrypted: the message's own content headers (a bare message is
    text/plain), the original Subject when a neutral one replaces it outside, and the body."""
    fields, body = split_message(raw)
    content = [f for f in fields if f.lower().startswith(b"content-")]
    if not any(f.lower().startswith(b"content-type:") for f in content):
        content.insert(0, b"Content-Type: text/plain; charset=utf-8")
    if subject is not None:
        content.append(b"Subject: " + subject)
    return b"\r\n".join(content) + b"\r\n\r\n" + body


class Encryptor:
    def __init__(self, settings: dict[str, Any], keystore: Keystore) -> None:
        self.methods: Sequence[str] = tuple(settings.get("methods") or ("tls",))
        self.tls_route = str(settings.get("tls_route") or "tls-required")
        self.neutral_subject: str | None = settings.get("neutral_subject")
        self.cipher = str(settings.get("cipher") or "aes256")
        self.keystore = keystore

    @classmethod
    def from_config(cls, config: Config) -> Encryptor:
        settings = config.section("encryption")  # tls_route is checked against the routes by the Inspector
        return cls(settings, Keystore.from_settings(settings))

    def apply(self, decision: Decision, raw: bytes, recipients: Sequence[str], encrypt_now: bool) -> None:
        """Resolve `encrypt: auto` in `decision` for these recipients (envelope and copies).

        `encrypt_now` False (dry runs: `check`, rule tests) only chooses and explains."""
        if decision.route != AUTO_ROUTE:
            return
        decision.route = None
        if decision.refused:
            return
        try:
            choice = choose(recipients, self.keystore, self.methods, self.tls_route)
        except Exception as exc:  # an unreadable keystore or a missing gpg: the TLS route, never clear text
            log.error("key look-up failed (%s); sending over route %s", type(exc).__name__, self.tls_route)
            choice = Choice("tls", f"encrypt: tls over route {self.tls_route}, key look-up failed ({type(exc).__name__})")
        decision.encryption = Encryption(choice.method, choice.reason)
        if choice.method == "tls":
            decision.route = self.tls_route
            return
        if decision.verdict == Verdict.QUARANTINE:  # a reviewer must be able to read held mail
            decision.route = self.tls_route
            decision.encryption = Encryption("tls", f"{choice.reason}; held for review, so not encrypted inline: "
                                                    f"leaves over route {self.tls_route} when released")
            return
        if not encrypt_now:
            return
        try:
            decision.encryption.content = self._encrypt(choice, raw)
        except Exception as exc:  # never clear text: the TLS route (and its portal fallback) instead
            log.error("inline %s encryption failed (%s); sending over route %s", choice.method,
                      type(exc).__name__, self.tls_route)
            decision.route = self.tls_route
            decision.encryption = Encryption("tls", f"encrypt: tls over route {self.tls_route}, {choice.method} "
                                                    f"encryption failed ({type(exc).__name__})")
            return
        decision.encryption.subject = self.neutral_subject

    def _encrypt(self, choice: Choice, raw: bytes) -> InlineContent:
        subject = None
        if self.neutral_subject:
            fields, _ = split_message(raw)
            subject = next((f.split(b":", 1)[1].strip() for f in fields if f.lower().startswith(b"subject:")), None)
        entity = inner_entity(raw, subject)
        if choice.method == "smime":
            return smime.encrypt(entity, choice.keys, self.cipher)
        return pgp.encrypt(entity, choice.keys, self.keystore.pgp)
