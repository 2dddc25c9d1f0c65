"""`outguard doctor` against a DNS server on loopback: a good setup (every item OK) and a
broken one (each item OPEN, saying why), with signed sample messages."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dnszone import dns_server

from outguard.cli.main import main


@pytest.fixture(scope="module")
def key() -> tuple[bytes, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    der = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, base64.b64encode(der).decode()


def zone(public: str) -> str:
    return f"""
        good.example.                 300 IN TXT "v=spf1 ip4:192.0.2.10 -all"
        good.example.                 300 IN MX  10 mx.good.example.
        mx.good.example.              300 IN A   127.0.0.1
        s1._domainkey.good.example.   300 IN TXT "v=DKIM1; k=rsa; p={public}"
        _dmarc.good.example.          300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@good.example"
        10.2.0.192.in-addr.arpa.      300 IN PTR relay.good.example.
        relay.good.example.           300 IN A   192.0.2.10
        broken.example.               300 IN TXT "v=spf1 ip4:198.51.100.1 -all"
        _dmarc.broken.example.        300 IN TXT "v=DMARC1; p=none"
        20.2.0.192.in-addr.arpa.      300 IN PTR relay.elsewhere.example.
        """


def signed(pem: bytes, sender_domain: str, headers: str, sign_as: str = "good.example",
           include: tuple[str, ...] = ("from", "to", "subject", "list-unsubscribe", "list-unsubscribe-post")) -> bytes:
    body = (f"From: News <news@{sender_domain}>\r\nTo: ann@partner.example\r\nSubject: News\r\n"
            f"Return-Path: <bounces@{sender_domain}>\r\n{headers}\r\nThis week's news.\r\n").encode()
    sig = dkim.sign(body, b"s1", sign_as.encode(), pem, include_headers=[h.encode() for h in include])
    return sig + body


def doctor(capsys, *args: str) -> tuple[int, dict[str, dict[str, str]]]:  # type: ignore[no-untyped-def]
    code = main(["doctor", "--config", "/dev/null", "--json", *args])
    return code, {i["id"]: i for i in json.loads(capsys.readouterr().out)}


def test_good_setup_every_item_ok(tmp_path: Path, key: tuple[bytes, str], capsys) -> None:  # type: ignore[no-untyped-def]
    pem, public = key
    sample = tmp_path / "good.eml"
    sample.write_bytes(signed(pem, "good.example", "List-Unsubscribe: <https://good.example/u/1>\r\n"
                                                   "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"))
    with dns_server(zone(public)) as ns:
        code, items = doctor(capsys, "good.example", "--ip", "192.0.2.10", "--sample", str(sample), "--nameserver", ns)
    status = {k: v["status"] for k, v in items.items()}
    assert status == {"spf.record": "OK", "spf.permits_ip": "OK", "dkim.selector": "OK", "dkim.signature": "OK",
                      "dkim.covers_unsubscribe": "OK", "dmarc.record": "OK", "dmarc.policy": "OK",
                      "dmarc.alignment": "OK", "ptr.fcrdns": "OK", "mx.record": "OK", "mx.tls": "SKIPPED",
                      "bulk.one_click": "OK", "bulk.complaint_rate": "SKIPPED"}, items
    assert code == 0
    assert "192.0.2.10 -> relay.good.example -> 192.0.2.10" in items["ptr.fcrdns"]["summary"]


def test_broken_setup_each_item_open_with_impact_and_fix(tmp_path: Path, key: tuple[bytes, str], capsys) -> None:  # type: ignore[no-untyped-def]
    pem, public = key
    sample = tmp_path / "broken.eml"
    # signed by another domain, without covering List-Unsubscribe, no one-click header
    sample.write_bytes(signed(pem, "broken.example", "List-Unsubscribe: <mailto:leave@broken.example>\r\n",
                              include=("from", "to", "subject")))
    with dns_server(zone(public)) as ns:
        code, items = doctor(capsys, "broken.example", "--ip", "192.0.2.20", "--sample", str(sample),
                             "--selector", "s1", "--nameserver", ns)
    assert code == 1
    expect_open = ["spf.permits_ip", "dkim.signature", "dkim.covers_unsubscribe", "dmarc.policy", "dmarc.alignment",
                   "ptr.fcrdns", "mx.record", "bulk.one_click"]
    for item in expect_open:
        assert items[item]["status"] == "OPEN", items[item]
        assert items[item]["impact"] and items[item]["fix"], item
    assert items["spf.record"]["status"] == "OK"      # a record exists; it just does not permit the IP
    assert "fail" in items["spf.permits_ip"]["summary"]
    assert "not aligned" in items["dkim.signature"]["summary"]
    assert "List-Unsubscribe-Post" in items["dkim.covers_unsubscribe"]["summary"]
    assert "does not resolve back" in items["ptr.fcrdns"]["summary"]
    assert items["dmarc.record"]["status"] == "OK" and "p=none" in items["dmarc.policy"]["summary"]


def test_missing_records_and_text_output(tmp_path: Path, key: tuple[bytes, str], capsys) -> None:  # type: ignore[no-untyped-def]
    _, public = key
    with dns_server(zone(public)) as ns:
        code, items = doctor(capsys, "nothing.example", "--selector", "s1", "--nameserver", ns)
        assert code == 1
        assert items["spf.record"]["status"] == "OPEN" and "no SPF record" in items["spf.record"]["summary"]
        assert items["dkim.selector"]["status"] == "OPEN"
        assert items["dmarc.record"]["status"] == "OPEN"
        assert items["ptr.fcrdns"]["status"] == "SKIPPED"
        assert main(["doctor", "--config", "/dev/null", "nothing.example", "--nameserver", ns]) == 1
    text = capsys.readouterr().out
    assert "OPEN    spf.record" in text and "impact: " in text and "fix: " in text


class FakeMX:
    """A one-connection-at-a-time SMTP listener on loopback: greets, answers EHLO (with or
    without STARTTLS) and, when offered, switches to TLS with a self-signed certificate."""

    def __init__(self, tmp: Path, starttls: bool) -> None:
        import datetime as dt
        import socket
        import ssl
        import threading

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.x509.oid import NameOID

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mx.good.example")])
        now = dt.datetime.now(dt.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
        (tmp / "mx.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(tmp / "mx.pem")
        self.starttls = starttls
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            f = conn.makefile("rwb")
            f.write(b"220 mx.good.example ESMTP\r\n")
            f.flush()
            for line in f:
                verb = line[:4].upper()
                if verb == b"EHLO":
                    f.write(b"250-mx.good.example\r\n" + (b"250-STARTTLS\r\n" if self.starttls else b"") + b"250 SIZE 1000\r\n")
                elif verb == b"STAR":
                    f.write(b"220 go ahead\r\n")
                    f.flush()
                    with self.context.wrap_socket(conn, server_side=True) as tls:
                        tls.recv(1024)
                    return
                else:
                    f.write(b"221 bye\r\n")
                    f.flush()
                    return
                f.flush()

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("starttls", [True, False])
def test_mx_starttls(tmp_path: Path, key: tuple[bytes, str], capsys, starttls: bool) -> None:  # type: ignore[no-untyped-def]
    mx = FakeMX(tmp_path, starttls)
    try:
        with dns_server(zone(key[1])) as ns:
            _, items = doctor(capsys, "good.example", "--nameserver", ns, "--tls", "--tls-port", str(mx.port))
    finally:
        mx.close()
    if starttls:
        assert items["mx.tls"]["status"] == "OK" and "offers STARTTLS" in items["mx.tls"]["summary"]
    else:
        assert items["mx.tls"]["status"] == "OPEN" and "no STARTTLS" in items["mx.tls"]["summary"]
        assert items["mx.tls"]["fix"]


def test_unreachable_mx_is_open(tmp_path: Path, key: tuple[bytes, str], capsys) -> None:  # type: ignore[no-untyped-def]
    import socket

    with socket.create_server(("127.0.0.1", 0)) as s:
        closed = s.getsockname()[1]   # nothing listens once this block ends
    with dns_server(zone(key[1])) as ns:
        _, items = doctor(capsys, "good.example", "--nameserver", ns, "--tls", "--tls-port", str(closed))
    assert items["mx.tls"]["status"] == "OPEN" and "not reachable" in items["mx.tls"]["summary"]


def test_complaint_rate_from_the_store(tmp_path: Path, key: tuple[bytes, str], capsys) -> None:  # type: ignore[no-untyped-def]
    import time

    from outguard.reputation.store import ReputationStore
    from outguard.store import Event, resolve

    db = tmp_path / "store.sqlite3"
    store = ReputationStore(resolve(str(db)), create=True)
    now = int(time.time())
    store.add_accepted([{"at": now - 60, "address": f"r{i}@partner.example", "sender_domain": "good.example",
                         "stream": "list:news.good.example" if i % 2 else None, "egress": None} for i in range(300)])
    store.record([Event("r1@partner.example", "complaint", now, source="arf"),
                  Event("r2@partner.example", "complaint", now, source="arf")])   # 2 of 300: 0.67 %
    store.close()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps({"store": {"url": str(db)}}))
    with dns_server(zone(key[1])) as ns:
        main(["doctor", "--config", str(cfg), "--json", "good.example", "--nameserver", ns])
    items = {i["id"]: i for i in json.loads(capsys.readouterr().out)}
    assert items["bulk.complaint_rate"]["status"] == "OPEN"
    assert "0.667%" in items["bulk.complaint_rate"]["summary"]
