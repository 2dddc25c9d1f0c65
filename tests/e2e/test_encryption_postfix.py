"""`encrypt: auto` through a real Postfix: S/MIME and PGP/MIME bodies reach the sink and
decrypt with the recipient's own key; a recipient with neither goes over the TLS route;
no clear-text copy stays in outguard's spool or audit trail."""

from __future__ import annotations

import email
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import OutguardDaemon
from edm_synth import SCHEMA_YAML, patients, unused_numbers, write_csv
from keys import AUTO_RULES, gpg, pgp_identity, smime_identity
from outguard.core.config import load_config
from outguard.edm import Hasher, import_csv, load_schema
from outguard.encryption import Keystore
from outguard.ops import snippets
from outguard.sandbox.postfix import PostfixInstance
from outguard.store import resolve

pytestmark = pytest.mark.postfix
SENDER = "alice@clinic.example"
SECRET = "MRN 4821937, metoprolol 50 mg"


@pytest.fixture(scope="module")
def setup(shared_dir: Path) -> Iterator[tuple[PostfixInstance, OutguardDaemon, Path]]:
    base = shared_dir / "crypto"
    base.mkdir()
    base.chmod(0o755)
    keys, spool = base / "keys", base / "spool"
    spool.mkdir()
    cert, key = smime_identity("bob@partner.example")
    (base / "bob.pem").write_bytes(cert)
    (base / "bob.key").write_bytes(key)
    store = Keystore(keys)
    store.add(cert)
    store.add(pgp_identity(base / "carol-gpg", "carol@partner.example"))
    (base / "edm.key").write_text("e" * 48)
    (base / "patients.yaml").write_text(SCHEMA_YAML)
    import_csv(resolve(str(base / "store.sqlite3")), write_csv(base / "patients.csv", patients(1000)),
               load_schema(base / "patients.yaml"), Hasher(b"e" * 48))
    daemon = OutguardDaemon(base, AUTO_RULES, workers=1, extra_config=(
        f"  spool_bytes: 0\n  spool_dir: '{spool}'\n"
        f"encryption: {{keys_dir: '{keys}', neutral_subject: Encrypted message}}\n"
        f"edm: {{secret_file: '{base / 'edm.key'}'}}\nstore: {{url: '{base / 'store.sqlite3'}'}}\n"
        "plugins: {disabled: [spam, bulk, documents, phi]}\n"))
    daemon.start()
    try:
        with PostfixInstance(shared_dir / "crypto-postfix", milter=daemon.spec) as pf:
            yield pf, daemon, base
    finally:
        daemon.stop()


def send(pf: PostfixInstance, rcpt: str, subject: str = "chart for you", body: str = SECRET) -> str:
    marker = f"crypto-{time.time_ns()}"
    raw = (f"From: {SENDER}\r\nTo: {rcpt}\r\nSubject: {subject}\r\nMessage-ID: <{marker}@clinic.example>\r\n"
           f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()
    code, text = pf.send(raw, SENDER, [rcpt])
    assert code == 250, text
    return marker


def test_smime_arrives_encrypted_and_decrypts_with_openssl(setup) -> None:
    pf, daemon, base = setup
    marker = send(pf, "bob@partner.example")
    [got] = pf.sink.wait_for_match(marker.encode())
    msg = email.message_from_bytes(got.raw)
    assert msg["X-Outguard-Encrypted"] == "smime" and msg["Subject"] == "Encrypted message"
    assert msg.get_content_type() == "application/pkcs7-mime" and b"4821937" not in got.raw
    clear = subprocess.run(["openssl", "cms", "-decrypt", "-recip", str(base / "bob.pem"),
                            "-inkey", str(base / "bob.key")], input=got.raw, capture_output=True, check=True).stdout
    inner = email.message_from_bytes(clear)
    assert SECRET in inner.get_payload() and inner["Subject"] == "chart for you"
    assert not list((base / "spool").iterdir()), "the spool file is gone"
    assert "4821937" not in daemon.audit_path.read_text() and "4821937" not in daemon.log_text()


def test_pgp_arrives_encrypted_and_decrypts_with_gpg(setup) -> None:
    pf, _, base = setup
    marker = send(pf, "carol@partner.example")
    [got] = pf.sink.wait_for_match(marker.encode())
    msg = email.message_from_bytes(got.raw)
    assert msg["X-Outguard-Encrypted"] == "pgp" and msg.get_content_type() == "multipart/encrypted"
    armored = msg.get_payload()[1].get_payload().encode()
    assert SECRET in gpg(base / "carol-gpg", "--decrypt", data=armored).decode()


def test_recipient_without_key_goes_over_the_tls_route(setup) -> None:
    pf, _, _ = setup
    marker = send(pf, "dave@partner.example")
    [got] = pf.tls_sink.wait_for_match(marker.encode())
    msg = email.message_from_bytes(got.raw)
    assert msg["X-Outguard-Route"] == "tls-required" and msg["X-Outguard-Encrypted"] is None
    assert not pf.sink.find(marker.encode())


def test_edm_fires_on_a_planted_patient_and_not_on_a_lookalike_number(setup) -> None:
    """The shipped rule edm-record-encrypt: a real patient (number + name) leaves encrypted
    (no key for dave: the TLS route); a number of the same shape that is nobody's does not."""
    pf, daemon, _ = setup
    patient = patients(1000)[17]
    [nobody] = unused_numbers(patients(1000), 1)
    real = send(pf, "dave@partner.example", "follow-up", f"Re {patient.first_name} {patient.last_name}, MRN {patient.mrn}")
    fake = send(pf, "dave@partner.example", "follow-up", f"Re {patient.first_name} {patient.last_name}, MRN {nobody}")
    [got] = pf.tls_sink.wait_for_match(real.encode())
    msg = email.message_from_bytes(got.raw)
    assert msg["X-Outguard-Verdict"] == "encrypt; rules=edm-record-encrypt" and msg["X-Outguard-PHI"] == "phi.edm.patients"
    [other] = pf.sink.wait_for_match(fake.encode())
    assert email.message_from_bytes(other.raw)["X-Outguard-Verdict"] == "deliver; rules=none"
    assert patient.mrn[3:] not in daemon.log_text() and patient.mrn[3:] not in daemon.audit_path.read_text()


def generated_tls_transport(portal: str) -> str:
    """The -o lines `outguard postfix-snippets` writes for a tls-relay route whose fallback is
    a portal at `portal` (plain SMTP, like the sink)."""
    config = load_config(Path("/dev/null"), {"routes": {
        "tls-required": {"kind": "tls-relay", "transport": "outguard-tls", "nexthop": "", "tls": "encrypt",
                         "fallback": "portal"},
        "portal": {"kind": "portal", "transport": "outguard-portal", "nexthop": portal, "tls": "none"}}})
    master = snippets.render(config)[snippets.MASTER_CF]
    block = master.split("\noutguard-tls ", 1)[1].split("\n#", 1)[0]
    return "".join(line + "\n" for line in block.splitlines()[1:] if line.startswith("  -o ")
                   and "syslog_name" not in line)


class TlsFallbackPostfix(PostfixInstance):
    """outguard-tls exactly as postfix-snippets writes it for a tls-relay route with a portal
    fallback (here the plain sink)."""

    def master_cf_text(self) -> str:
        return super().master_cf_text().replace("  -o smtp_tls_security_level=none\n",
                                                generated_tls_transport(self.sink.nexthop))


def test_tls_route_falls_back_to_the_portal_when_the_mx_cannot_do_tls(shared_dir: Path) -> None:
    """The TLS sink offers no STARTTLS: Postfix must not send in clear to it, and hands the
    message to the fallback relay (the portal) instead."""
    with TlsFallbackPostfix(shared_dir / "fallback-postfix") as pf:
        assert "smtp_fallback_relay" in pf.master_cf_text()
        pf.postconf(default_transport=f"outguard-tls:{pf.tls_sink.nexthop}",
                    relay_transport=f"outguard-tls:{pf.tls_sink.nexthop}")
        marker = f"fallback-{time.time_ns()}"
        raw = f"From: {SENDER}\r\nTo: x@nomx.example\r\nSubject: t\r\nMessage-ID: <{marker}@c>\r\n\r\nhi\r\n".encode()
        assert pf.send(raw, SENDER, ["x@nomx.example"])[0] == 250
        pf.sink.wait_for_match(marker.encode(), timeout=30)
        assert not pf.tls_sink.find(marker.encode())
        assert "TLS is required, but was not offered" in pf.log_text()
