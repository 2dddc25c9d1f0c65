"""Recipients' certificates and OpenPGP keys on disk (`encryption.keys_dir`).

Layout: `smime/<sha256>.pem` one certificate each, `smime/crl/<sha256>.pem` revocation
lists, `gnupg/` an OpenPGP home for python-gnupg. Only a key usable *now* counts: an
expired, not yet valid or revoked certificate (a CRL of its issuer lists it) and an
expired or revoked OpenPGP key are ignored at look-up and refused at import. The indexes
are rebuilt when the folders change (`keys import` needs no daemon reload).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

log = logging.getLogger("outguard.encryption")


class KeyRefused(Exception):
    """A certificate or key cannot be used (expired, revoked, unreadable, no address)."""


@dataclass(frozen=True)
class KeyInfo:
    """One certificate or key as `keys list` shows it (no key material)."""

    kind: str                 # smime | pgp
    fingerprint: str
    addresses: tuple[str, ...]
    not_after: dt.datetime | None
    problem: str | None       # None: usable now; else why not ("expired", "revoked", ...)

    def expires_within(self, days: int, now: dt.datetime | None = None) -> bool:
        now = now or dt.datetime.now(dt.UTC)
        return self.not_after is not None and self.not_after - now <= dt.timedelta(days=days)


def _bare(address: str) -> str:
    return address.strip().strip("<>").lower()


def cert_addresses(cert: x509.Certificate) -> tuple[str, ...]:
    """rfc822Name SANs, else the subject's emailAddress (old CAs)."""
    found: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        found += san.get_values_for_type(x509.RFC822Name)
    except x509.ExtensionNotFound:
        pass
    if not found:
        found += [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)]
    return tuple(dict.fromkeys(_bare(a) for a in found))


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """PEM (one or several) or DER."""
    if b"-----BEGIN CERTIFICATE-----" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    if b"-----BEGIN X509 CRL-----" in data:
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


class _Folder:
    """A folder whose parsed contents are cached until its mtime changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None

    def changed(self) -> bool:
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            stamp = (0, 0)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        return True


class SmimeStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._certs = _Folder(folder)
        self._crls = _Folder(folder / "crl")
        self._lock = threading.Lock()
        self._by_address: dict[str, list[x509.Certificate]] = {}
        self._revoked: dict[bytes, set[int]] = {}  # issuer DER -> revoked serials

    def _refresh(self) -> None:
        with self._lock:
            crls_changed = self._crls.changed()
            if crls_changed:
                self._revoked = {}
                for path in sorted((self.folder / "crl").glob("*.pem")):
                    try:
                        crl = load_crl(path.read_bytes())
                    except (OSError, ValueError) as exc:
                        log.warning("unreadable CRL %s: %s", path.name, type(exc).__name__)
                        continue
                    self._revoked.setdefault(crl.issuer.public_bytes(), set()).update(
                        r.serial_number for r in crl)
            if self._certs.changed() or crls_changed:
                index: dict[str, list[x509.Certificate]] = {}
                for path in sorted(self.folder.glob("*.pem")):
                    try:
                        [cert] = load_certificates(path.read_bytes())[:1]
                    except (OSError, ValueError) as exc:
                        log.warning("unreadable certificate %s: %s", path.name, type(exc).__name__)
                        continue
                    for address in cert_addresses(cert):
                        index.setdefault(address, []).append(cert)
                self._by_address = index

    def problem(self, cert: x509.Certificate, now: dt.datetime | None = None) -> str | None:
        """Why `cert` cannot be used now, or None."""
        now = now or dt.datetime.now(dt.UTC)
        if cert.not_valid_after_utc < now:
            return "expired"
        if cert.not_valid_before_utc > now:
            return "not yet valid"
        if cert.serial_number in self._revoked.get(cert.issuer.public_bytes(), set()):
            return "revoked"
        if not isinstance(cert.public_key(), rsa.RSAPublicKey):
            return "not an RSA key (S/MIME encryption here needs RSA)"
        try:
            usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
            if not usage.key_encipherment:
                return "key usage does not allow encryption"
        except x509.ExtensionNotFound:
            pass
        if not cert_addresses(cert):
            return "names no e-mail address"
        return None

    def certificate(self, address: str) -> x509.Certificate | None:
        """The usable certificate for `address` that stays valid longest, or None."""
        self._refresh()
        usable = [c for c in self._by_address.get(_bare(address), []) if self.problem(c) is None]
        return max(usable, key=lambda c: c.not_valid_after_utc, default=None)

    def infos(self) -> list[KeyInfo]:
        self._refresh()
        seen: dict[str, KeyInfo] = {}
        for certs in self._by_address.values():
            for cert in certs:
                fp = fingerprint(cert)
                seen.setdefault(fp, KeyInfo("smime", fp, cert_addresses(cert), cert.not_valid_after_utc,
                                            self.problem(cert)))
        return sorted(seen.values(), key=lambda k: (k.addresses, k.fingerprint))

    def add(self, data: bytes) -> list[KeyInfo]:
        """Import certificates and/or a CRL; refuse (KeyRefused) one that cannot be used."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o750)
        if b"-----BEGIN X509 CRL-----" in data or _looks_like_der_crl(data):
            crl = load_crl(data)
            (self.folder / "crl").mkdir(exist_ok=True, mode=0o750)
            digest = crl.fingerprint(hashes.SHA256()).hex()
            _write(self.folder / "crl" / f"{digest}.pem", crl.public_bytes(serialization.Encoding.PEM))
            self._refresh()
            return []
        self._refresh()
        added = []
        for cert in load_certificates(data):
            problem = self.problem(cert)
            if problem:
                raise KeyRefused(f"certificate {fingerprint(cert)[:16]}: {problem}; not imported")
            _write(self.folder / f"{fingerprint(cert)}.pem", cert.public_bytes(serialization.Encoding.PEM))
            added.append(KeyInfo("smime", fingerprint(cert), cert_addresses(cert), cert.not_valid_after_utc, None))
        self._refresh()
        return added

    def remove(self, which: str) -> list[str]:
        """Remove certificates by address or fingerprint (prefix); return the fingerprints."""
        self._refresh()
        gone = [i.fingerprint for i in self.infos()
                if _bare(which) in i.addresses or (len(which) >= 8 and i.fingerprint.startswith(which.lower()))]
        for fp in gone:
            (self.folder / f"{fp}.pem").unlink(missing_ok=True)
        self._refresh()
        return gone


def _looks_like_der_crl(data: bytes) -> bool:
    if data.startswith(b"-----") or not data.startswith(b"\x30"):
        return False
    try:
        load_crl(data)
    except ValueError:
        return False
    return True


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    # the folder's mtime changes with the rename: readers re-index


class PgpStore:
    """An OpenPGP keyring through python-gnupg (Debian's gpg does the work)."""

    def __init__(self, home: Path, binary: str = "gpg") -> None:
        self.home = home
        self.binary = binary
        self._folder = _Folder(home)
        self._lock = threading.Lock()
        self._keys: list[dict[str, Any]] = []
        self._gpg: Any = None

    @property
    def gpg(self) -> Any:
        if self._gpg is None:
            import gnupg

            self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._gpg = gnupg.GPG(gpgbinary=self.binary, gnupghome=str(self.home))
            self._gpg.encoding = "utf-8"
        return self._gpg

    def _refresh(self) -> None:
        with self._lock:
            if self._folder.changed() or not self._keys:
                self._keys = list(self.gpg.list_keys()) if self.home.exists() else []

    @staticmethod
    def _addresses(key: dict[str, Any]) -> tuple[str, ...]:
        from email.utils import parseaddr

        return tuple(dict.fromkeys(_bare(parseaddr(uid)[1]) for uid in key.get("uids", []) if parseaddr(uid)[1]))

    @staticmethod
    def _problem(key: dict[str, Any], now: float | None = None) -> str | None:
        import time

        validity = key.get("trust", "")  # gpg's validity field: r revoked, e expired, d disabled
        if validity == "r":
            return "revoked"
        if validity == "e" or (key.get("expires") and float(key["expires"]) < (now or time.time())):
            return "expired"
        if validity == "d":
            return "disabled"
        if "e" not in key.get("cap", "").lower():
            return "cannot encrypt"
        return None

    def _info(self, key: dict[str, Any]) -> KeyInfo:
        expires = dt.datetime.fromtimestamp(float(key["expires"]), dt.UTC) if key.get("expires") else None
        return KeyInfo("pgp", str(key["fingerprint"]), self._addresses(key), expires, self._problem(key))

    def key(self, address: str) -> str | None:
        """The fingerprint of a usable key for `address`, or None."""
        self._refresh()
        for key in self._keys:
            if _bare(address) in self._addresses(key) and self._problem(key) is None:
                return str(key["fingerprint"])
        return None

    def infos(self) -> list[KeyInfo]:
        self._refresh()
        return sorted((self._info(k) for k in self._keys), key=lambda k: (k.addresses, k.fingerprint))

    def add(self, data: bytes) -> list[KeyInfo]:
        result = self.gpg.import_keys(data.decode("utf-8", "replace"))
        if not result.fingerprints:
            raise KeyRefused("no OpenPGP key found in the file")
        self._keys = []
        self._refresh()
        imported = [i for i in self.infos() if i.fingerprint in set(result.fingerprints)]
        bad = [i for i in imported if i.problem]
        if bad:  # refused: take it out again, so nobody's mail is encrypted to it
            self.gpg.delete_keys([i.fingerprint for i in bad], expect_passphrase=False)
            self._keys = []
            raise KeyRefused("; ".join(f"key {i.fingerprint[-16:]}: {i.problem}; not imported" for i in bad))
        return imported

    def remove(self, which: str) -> list[str]:
        gone = [i.fingerprint for i in self.infos()
                if _bare(which) in i.addresses or (len(which) >= 8 and i.fingerprint.lower().endswith(which.lower()))]
        if gone:
            self.gpg.delete_keys(gone, expect_passphrase=False)
            self._keys = []
        return gone


class Keystore:
    """Both kinds, under one folder."""

    def __init__(self, folder: Path, gpg_binary: str = "gpg") -> None:
        self.folder = folder
        self.smime = SmimeStore(folder / "smime")
        self.pgp = PgpStore(folder / "gnupg", gpg_binary)

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Keystore:
        return cls(Path(settings.get("keys_dir") or "/var/lib/outguard/keys"), str(settings.get("gpg_binary") or "gpg"))

    def certificates(self, addresses: Iterable[str]) -> list[x509.Certificate] | None:
        """One usable certificate per address, or None if any address has none."""
        certs = [self.smime.certificate(a) for a in addresses]
        return None if any(c is None for c in certs) else [c for c in certs if c is not None]

    def pgp_keys(self, addresses: Iterable[str]) -> list[str] | None:
        keys = [self.pgp.key(a) for a in addresses]
        return None if any(k is None for k in keys) else [k for k in keys if k is not None]

    def infos(self) -> list[KeyInfo]:
        return self.smime.infos() + (self.pgp.infos() if self.pgp.home.exists() else [])

    def add(self, data: bytes) -> list[KeyInfo]:
        """A certificate (PEM/DER), a CRL, or an OpenPGP key (armored or binary)."""
        if b"-----BEGIN PGP" in data:
            return self.pgp.add(data)
        try:
            return self.smime.add(data)
        except ValueError:
            pass
        return self.pgp.add(data)

    def remove(self, which: str) -> list[str]:
        return self.smime.remove(which) + (self.pgp.remove(which) if self.pgp.home.exists() else [])

