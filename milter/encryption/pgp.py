"""PGP/MIME (RFC 3156) through python-gnupg over Debian's gpg. The keys were imported on
purpose by the site (`outguard keys import`), so gpg is told to trust them as they are
(`always_trust`): the web of trust is not how a clinic decides whom it writes to."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from outguard.core.decision import InlineContent
from outguard.encryption.keystore import PgpStore


class PgpFailed(Exception):
    """gpg refused or failed; the message goes over the TLS route instead."""


def encrypt(entity: bytes, fingerprints: Sequence[str], store: PgpStore) -> InlineContent:
    result = store.gpg.encrypt(entity, list(fingerprints), always_trust=True, armor=True)
    if not result.ok:
        raise PgpFailed(str(result.status or "gpg failed"))
    armored = bytes(result.data).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    boundary = f"og-pgp-{secrets.token_hex(12)}"
    b = boundary.encode()
    body = (b"This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n"
            b"--" + b + b"\r\nContent-Type: application/pgp-encrypted\r\n"
            b"Content-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n\r\n"
            b"--" + b + b"\r\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\r\n"
            b"Content-Description: OpenPGP encrypted message\r\n"
            b"Content-Disposition: inline; filename=\"encrypted.asc\"\r\n\r\n"
            + armored + (b"" if armored.endswith(b"\r\n") else b"\r\n") +
            b"--" + b + b"--\r\n")
    return InlineContent(headers=(
        ("Content-Type", f'multipart/encrypted; protocol="application/pgp-encrypted"; boundary="{boundary}"'),
        ("Content-Transfer-Encoding", "7bit"),
    ), body=body)
