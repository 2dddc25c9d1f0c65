"""S/MIME enveloped-data (RFC 8551) with the `cryptography` package's PKCS#7 builder:
AES-CBC content encryption, RSA key transport, one RecipientInfo per certificate."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7

from outguard.core.decision import InlineContent

CIPHERS: dict[str, type[algorithms.AES128] | type[algorithms.AES256]] = {
    "aes128": algorithms.AES128, "aes256": algorithms.AES256}


def encrypt(entity: bytes, certificates: Sequence[x509.Certificate], cipher: str = "aes256") -> InlineContent:
    """`entity` is the inner MIME entity (content headers, blank line, body; CRLF lines)."""
    builder = pkcs7.PKCS7EnvelopeBuilder().set_data(entity)
    for cert in certificates:
        builder = builder.add_recipient(cert)
    der = builder.set_content_encryption_algorithm(CIPHERS[cipher]).encrypt(
        serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    b64 = base64.b64encode(der)
    body = b"\r\n".join(b64[i:i + 76] for i in range(0, len(b64), 76)) + b"\r\n"
    return InlineContent(headers=(
        ("Content-Type", 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"'),
        ("Content-Transfer-Encoding", "base64"),
        ("Content-Disposition", 'attachment; filename="smime.p7m"'),
        ("Content-Description", "S/MIME Encrypted Message"),
    ), body=body)
