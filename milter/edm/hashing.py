"""Keyed hashes of record values: HMAC-SHA256 with the site's secret, cut to 128 bits.
Without the secret a stolen table cannot be tested against guessed MRNs or names (an
unkeyed hash of a 7-digit number is reversed by trying all ten million)."""

from __future__ import annotations

import hashlib
import hmac
import os

from outguard.core.secrets import read_secret

DIGEST_BYTES = 16


class EdmSecretError(Exception):
    """No usable EDM secret."""


def load_secret(secret_file: str | os.PathLike[str] | None) -> bytes:
    try:
        return read_secret(secret_file, "OUTGUARD_EDM_SECRET", "EDM", "edm.secret_file", EdmSecretError)
    except OSError as exc:
        raise EdmSecretError(f"edm.secret_file {secret_file}: {exc.strerror}") from None


class Hasher:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        # names the secret without revealing it: import refuses to mix hashes of two secrets
        self.key_id = hashlib.sha256(b"outguard-edm-key-id\0" + secret).hexdigest()[:16]

    def _digest(self, *parts: str) -> bytes:
        return hmac.digest(self._secret, "\0".join(parts).encode(), "sha256")[:DIGEST_BYTES]

    def primary(self, schema: str, column: str, value: str) -> bytes:
        """`value` in normal form (`normalise.identifier`)."""
        return self._digest("p", schema, column, value)

    def field(self, schema: str, column: str, value: str, field: str, field_value: str) -> bytes:
        """A corroborating value bound to its record's identifier: a name matches only the
        patient whose number it stands next to, never any patient of that name."""
        return self._digest("c", schema, column, value, field, field_value)
