"""Signed, encrypted one-click unsubscribe tokens (RFC 8058) for the links outguard's
users put in their mail: `List-Unsubscribe: <https://unsub.example/u/TOKEN>` with
`List-Unsubscribe-Post: List-Unsubscribe=One-Click`.

A token is a Fernet token (cryptography): the payload (address, scope) is encrypted with
AES-128-CBC and authenticated with HMAC-SHA256, so nothing in the URL can be read or
forged without the secret. The Fernet key is derived from the site secret with
HMAC-SHA256 (domain-separated), the secret read from a file (`oneclick.secret_file`) or
`$OUTGUARD_ONECLICK_SECRET`, never from the config itself. Tokens carry their creation
time; `max_age_days` (default 0: never) bounds how long a link works.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from typing import Any

from outguard.core.addresses import AddressError, normalise, normalise_scope
from outguard.core.secrets import read_secret

_CONTEXT = b"outguard one-click unsubscribe v1"


class TokenError(ValueError):
    """A token that is not ours, was tampered with, or expired. Says nothing more."""


class SecretError(ValueError):
    pass


def load_secret(secret_file: str | os.PathLike[str] | None = None, env_name: str = "OUTGUARD_ONECLICK_SECRET",
                setting: str = "oneclick.secret_file") -> bytes:
    """The one-click secret by default; the review page's marker and digest links pass their own
    variable and setting (each use derives its own key from it, see TokenCodec)."""
    return read_secret(secret_file, env_name, setting.split(".")[0], setting, SecretError)


@dataclass(frozen=True)
class Unsubscribe:
    address: str
    scope: str = "global"
    issued: int = 0


class TokenCodec:
    """Sealed JSON payloads under one site secret. `context` separates the uses (one-click
    links, review sessions, digest links, markers on outguard's own submissions): a token
    made for one never opens as another."""

    def __init__(self, secret: bytes, max_age_days: int = 0, context: bytes = _CONTEXT,
                 max_age_seconds: int | None = None) -> None:
        from cryptography.fernet import Fernet  # imported here: only this command needs it

        key = hmac.new(secret, context, hashlib.sha256).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))
        self.max_age = max_age_seconds if max_age_seconds else (max_age_days * 86400 if max_age_days else None)

    def seal(self, payload: dict[str, Any], at: int | None = None) -> str:
        """An opaque URL-safe token for `payload` (encrypted and authenticated, with its time:
        now, or `at` epoch seconds)."""
        data = json.dumps(payload, separators=(",", ":")).encode()
        token = self._fernet.encrypt(data) if at is None else self._fernet.encrypt_at_time(data, at)
        return token.decode().rstrip("=")

    def unseal(self, token: str) -> tuple[dict[str, Any], int]:
        """(payload, issued epoch seconds) of a token of ours; TokenError if not, or expired."""
        from cryptography.fernet import InvalidToken

        token = token.strip()
        if not token or len(token) > 4096:
            raise TokenError("invalid token")
        padded = token + "=" * (-len(token) % 4)
        try:
            raw = self._fernet.decrypt(padded.encode(), ttl=self.max_age)
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise TypeError
            return data, int(self._fernet.extract_timestamp(padded.encode()))
        except (InvalidToken, ValueError, TypeError):
            raise TokenError("invalid token") from None

    def make(self, address: str, scope: str = "global") -> str:
        return self.seal({"a": normalise(address), "s": normalise_scope(scope)})

    def read(self, token: str) -> Unsubscribe:
        data, issued = self.unseal(token)
        try:
            return Unsubscribe(normalise(data["a"]), normalise_scope(data.get("s") or "global"), issued)
        except (ValueError, KeyError, TypeError, AddressError):
            raise TokenError("invalid token") from None

    @staticmethod
    def key_of(token: str) -> str:
        """An idempotency key for a token (its hash: the token itself is never stored)."""
        return hashlib.sha256(token.strip().rstrip("=").encode()).hexdigest()[:32]


def unsubscribe_headers(codec: TokenCodec, base_url: str, address: str, scope: str = "global") -> list[tuple[str, str]]:
    """The RFC 2369 + RFC 8058 headers for one recipient: an https link with a sealed token."""
    return [("List-Unsubscribe", f"<{base_url.rstrip('/')}/u/{codec.make(address, scope)}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")]
