"""Test keys: self-signed S/MIME certificates and throw-away OpenPGP keyrings, and the rule that uses them."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

AUTO_RULES = """
rules:
  - id: chart-auto
    description: charts leave encrypted, fitted to the recipient
    status: experimental
    when: {header: Subject, matches: chart}
    then: {encrypt: auto}
"""


def smime_identity(address: str, days: int = 365, start_days_ago: int = 1,
                   serial: int | None = None) -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM) for `address`; negative `days` makes it expired."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, address)])
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(days=start_days_ago)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(serial or x509.random_serial_number())
            .not_valid_before(start).not_valid_after(max(now + dt.timedelta(days=days), start + dt.timedelta(seconds=1)))
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(address)]), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def revocation_list(cert_pem: bytes, key_pem: bytes) -> bytes:
    """A CRL, signed by the (self-signed) certificate's own key, that revokes it."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    key = serialization.load_pem_private_key(key_pem, None)
    assert isinstance(key, rsa.RSAPrivateKey)
    now = dt.datetime.now(dt.UTC)
    revoked = x509.RevokedCertificateBuilder().serial_number(cert.serial_number).revocation_date(now).build()
    crl = (x509.CertificateRevocationListBuilder().issuer_name(cert.issuer).last_update(now)
           .next_update(now + dt.timedelta(days=7)).add_revoked_certificate(revoked).sign(key, hashes.SHA256()))
    return crl.public_bytes(serialization.Encoding.PEM)


def gpg(home: Path, *args: str, data: bytes | None = None) -> bytes:
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return subprocess.run(["gpg", "--homedir", str(home), "--batch", "--yes", "--pinentry-mode", "loopback",
                           "--passphrase", "", *args], input=data, capture_output=True, check=True, timeout=60).stdout


def pgp_identity(home: Path, address: str, expire: str = "never") -> bytes:
    """Make a key pair for `address` in the keyring `home`; return the armored public key."""
    gpg(home, "--quick-gen-key", f"<{address}>", "default", "default", expire)
    return gpg(home, "--armor", "--export", address)
