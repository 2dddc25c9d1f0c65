"""`encrypt: auto`: the method fitted to the recipients, inline S/MIME and PGP/MIME bodies
that decrypt with the recipient's key, and the TLS route whenever inline cannot be done."""

from __future__ import annotations

import email
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from keys import AUTO_RULES, gpg, pgp_identity, revocation_list, smime_identity
from outguard.cli.main import main
from outguard.core.config import ConfigError, load_config
from outguard.core.headers import HeaderNames
from outguard.core.message import Envelope
from outguard.core.verdict import Verdict
from outguard.daemon.ops import apply_decision
from outguard.encryption import KeyRefused, Keystore
from outguard.encryption.choose import choose
from outguard.pipeline import Inspector

RULES = AUTO_RULES + """
  - id: hold-export
    description: exports are held
    status: experimental
    when: {header: Subject, matches: export}
    then: {quarantine: export}
"""
MESSAGE = (b"From: a@clinic.example\r\nTo: bob@partner.example\r\nSubject: chart for Bob\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n\r\nMRN 4821937, metoprolol 50 mg\r\n")


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


def inspector(tmp_path: Path, keys_dir: Path, **encryption: object) -> Inspector:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    config = load_config(Path("/dev/null"), {"rules": {"local": [], "override": []},
                                             "encryption": {"keys_dir": str(keys_dir), **encryption}})
    return Inspector.create(config, [rules], include_defaults=False, extra_plugins={}, services={})


def test_choice_is_the_strongest_method_every_recipient_shares(tmp_path: Path, keys_dir: Path) -> None:
    store = Keystore(keys_dir)
    store.add(smime_identity("bob@partner.example")[0])
    store.add(smime_identity("Carol@Partner.example")[0])
    methods = ("smime", "pgp", "tls")
    both = choose(["bob@partner.example", "carol@partner.example"], store, methods, "tls-required")
    assert (both.method, both.reason) == ("smime", "encrypt: smime, every recipient has a certificate")
    home = tmp_path / "alice-gpg"
    store.add(pgp_identity(home, "bob@partner.example"))
    store.add(pgp_identity(home, "dan@other.example"))
    mixed = choose(["bob@partner.example", "dan@other.example"], store, methods, "tls-required")
    assert (mixed.method, mixed.reason) == ("pgp", "encrypt: pgp, every recipient has an OpenPGP key "
                                                   "(1 of 2 lack a certificate)")
    none = choose(["bob@partner.example", "eve@nowhere.example"], store, methods, "tls-required")
    assert none.method == "tls"
    assert none.reason == ("encrypt: tls over route tls-required, not every recipient has a certificate or an "
                           "OpenPGP key (1 of 2 have a certificate, 1 of 2 have an OpenPGP key)")
    assert choose(["bob@partner.example"], store, ("pgp", "smime", "tls"), "tls-required").method == "pgp"


def test_expired_and_revoked_certificates_are_refused(keys_dir: Path) -> None:
    store = Keystore(keys_dir)
    expired, _ = smime_identity("old@partner.example", days=-1, start_days_ago=30)
    with pytest.raises(KeyRefused, match="expired"):
        store.add(expired)
    cert, key = smime_identity("bob@partner.example")
    store.add(cert)
    assert store.smime.certificate("bob@partner.example") is not None
    store.add(revocation_list(cert, key))
    assert store.smime.certificate("bob@partner.example") is None
    [info] = store.smime.infos()
    assert info.problem == "revoked"


def test_revoked_pgp_key_is_refused(tmp_path: Path, keys_dir: Path) -> None:
    home = tmp_path / "g"
    public = pgp_identity(home, "bob@partner.example")
    fpr = gpg(home, "--list-keys", "--with-colons").decode().split("fpr:::::::::")[1].split(":")[0]
    revocation = (home / "openpgp-revocs.d" / f"{fpr}.rev").read_bytes().replace(b":-----BEGIN", b"-----BEGIN")
    gpg(home, "--import", data=revocation)
    with pytest.raises(KeyRefused, match="revoked"):
        Keystore(keys_dir).add(gpg(home, "--armor", "--export", "bob@partner.example"))
    store = Keystore(keys_dir)
    store.add(public)
    assert store.pgp.key("bob@partner.example") == fpr


def test_smime_body_decrypts_with_the_recipients_key(tmp_path: Path, keys_dir: Path) -> None:
    cert, key = smime_identity("bob@partner.example")
    Keystore(keys_dir).add(cert)
    result = inspector(tmp_path, keys_dir, neutral_subject="Encrypted message").inspect(
        MESSAGE, Envelope("a@clinic.example", ("bob@partner.example",)))
    enc = result.decision.encryption
    assert enc is not None and enc.method == "smime" and enc.content is not None
    assert result.decision.route is None and b"4821937" not in enc.content.body
    ops = Recorder()
    names = HeaderNames.from_config(load_config(Path("/dev/null")).headers)
    seen = [("From", "a@clinic.example"), ("Subject", "chart for Bob"), ("Content-Type", "text/plain; charset=utf-8")]
    apply_decision(ops, result.decision, names, seen, ["<bob@partner.example>"])
    assert ("chgheader", "Content-Type", 1, None) in ops.calls
    assert ("addheader", "X-Outguard-Encrypted", "smime") in ops.calls
    assert ("chgheader", "Subject", 1, "Encrypted message") in ops.calls
    added = dict(c[1:3] for c in ops.calls if c[0] == "addheader")
    assert added["Content-Type"].startswith("application/pkcs7-mime; smime-type=enveloped-data")
    wire = "".join(f"{h}: {v}\r\n" for h, v in added.items()).encode() + b"\r\n" + ops.body
    private = serialization.load_pem_private_key(key, None)
    inner = pkcs7.pkcs7_decrypt_smime(wire, x509.load_pem_x509_certificate(cert), private, [])
    part = email.message_from_bytes(inner)
    assert part["Subject"] == "chart for Bob" and part.get_content_type() == "text/plain"
    assert "MRN 4821937" in part.get_payload()


def test_pgp_body_decrypts_with_gpg(tmp_path: Path, keys_dir: Path) -> None:
    bob = tmp_path / "bob-gpg"
    Keystore(keys_dir).add(pgp_identity(bob, "bob@partner.example"))
    result = inspector(tmp_path, keys_dir).inspect(MESSAGE, Envelope("a@clinic.example", ("bob@partner.example",)))
    enc = result.decision.encryption
    assert enc is not None and enc.method == "pgp" and enc.content is not None
    headers = dict(enc.content.headers)
    assert headers["Content-Type"].startswith('multipart/encrypted; protocol="application/pgp-encrypted"')
    outer = email.message_from_bytes(b"".join(f"{h}: {v}\r\n".encode() for h, v in headers.items()) + b"\r\n"
                                     + enc.content.body)
    [version, armored] = outer.get_payload()
    assert version.get_payload().strip() == "Version: 1"
    inner = email.message_from_bytes(gpg(bob, "--decrypt", data=armored.get_payload().encode()))
    assert "MRN 4821937" in inner.get_payload()


def test_no_key_failure_and_held_mail_go_over_the_tls_route(tmp_path: Path, keys_dir: Path) -> None:
    envelope = Envelope("a@clinic.example", ("nobody@partner.example",))
    plain = inspector(tmp_path, keys_dir).inspect(MESSAGE, envelope).decision
    assert plain.route == "tls-required" and plain.encryption is not None and plain.encryption.content is None
    Keystore(keys_dir).add(pgp_identity(tmp_path / "g", "nobody@partner.example"))
    refusing = tmp_path / "gpg-that-cannot-encrypt"   # lists keys, fails to encrypt
    refusing.write_text('#!/bin/sh\nfor a in "$@"; do [ "$a" = --encrypt ] && exit 2; done\nexec gpg "$@"\n')
    refusing.chmod(0o755)
    for gpg_binary, why in ((refusing, "pgp encryption failed"), (tmp_path / "no-gpg", "key look-up failed")):
        broken = inspector(tmp_path, keys_dir, gpg_binary=str(gpg_binary), methods=["pgp", "tls"])
        failed = broken.inspect(MESSAGE, envelope).decision
        assert failed.verdict == Verdict.ENCRYPT and failed.route == "tls-required"
        assert failed.encryption is not None and failed.encryption.content is None
        assert why in failed.encryption.reason
    held = inspector(tmp_path, keys_dir).inspect(MESSAGE.replace(b"chart for Bob", b"chart export"), envelope).decision
    assert held.verdict == Verdict.QUARANTINE and held.route == "tls-required"


def test_check_json_shows_the_method_and_why(tmp_path: Path, keys_dir: Path, capsys) -> None:
    Keystore(keys_dir).add(smime_identity("bob@partner.example")[0])
    (tmp_path / "rules.yaml").write_text(RULES)
    config = tmp_path / "outguard.yaml"
    config.write_text(f"rules: {{local: [], override: []}}\nencryption: {{keys_dir: '{keys_dir}'}}\n")
    msg = tmp_path / "m.eml"
    msg.write_bytes(MESSAGE)
    assert main(["check", "--config", str(config), "--no-defaults", "--rules", str(tmp_path / "rules.yaml"),
                 "--json", "--rcpt", "bob@partner.example", str(msg)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "encrypt"
    [act] = [a for a in doc["actions"] if a["action"] == "encrypt"]
    assert act == {"action": "encrypt", "route": None, "method": "smime", "inline": False,
                   "reason": "encrypt: smime, every recipient has a certificate"}
    assert main(["check", "--config", str(config), "--no-defaults", "--rules", str(tmp_path / "rules.yaml"),
                 "--explain", "--rcpt", "bob@partner.example", str(msg)]) == 0
    assert "Encryption: encrypt: smime, every recipient has a certificate" in capsys.readouterr().out


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.body = b""

    def addheader(self, field, value, idx=-1):
        self.calls.append(("addheader", field, value))

    def chgheader(self, field, idx, value):
        self.calls.append(("chgheader", field, idx, value))

    def replacebody(self, chunk):
        self.body += chunk

    def addrcpt(self, rcpt, params=None): ...
    def delrcpt(self, rcpt): ...
    def quarantine(self, reason): ...
    def setreply(self, rcode, xcode=None, msg=None): ...


def test_a_tls_route_that_is_no_route_stops_the_start(tmp_path: Path, keys_dir: Path) -> None:
    with pytest.raises(ConfigError, match="encryption.tls_route 'nope'"):
        inspector(tmp_path, keys_dir, tls_route="nope")
