"""Off-by-default recipient checks: domains that accept no mail (against a DNS server the test
runs on loopback) and the FCC wireless-domain list."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from outguard.checks.spec import hookimpl
from outguard.core.findings import Finding

NOTE = """\
From: News <news@clinic.example>
Subject: Saturday opening

The lab is open on Saturday.
"""
ZONE = {
    ("mail.example.org", "MX"): ["10 mx1.mail.example.org."],
    ("nullmx.example.org", "MX"): ["0 ."],
    ("bare.example.org", "A"): ["192.0.2.25"],           # no MX, but an address: implicit MX
    ("nothing.example.org", "TXT"): ['"v=spf1 -all"'],    # exists, no MX, no address
}
EXISTS = {name for name, _ in ZONE}


class LoopbackDNS:
    """A tiny authoritative server on 127.0.0.1 answering from ZONE; counts queries."""

    def __init__(self, delay_for: str | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.queries: list[tuple[str, str]] = []
        self.delay_for = delay_for
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns.message.from_wire(data)
            q = query.question[0]
            name, rdtype = q.name.to_text().rstrip(".").lower(), dns.rdatatype.to_text(q.rdtype)
            self.queries.append((name, rdtype))
            if name == self.delay_for:
                continue  # never answers: the client must give up within its budget
            reply = dns.message.make_response(query)
            reply.flags |= dns.flags.AA
            if name not in EXISTS:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            elif (name, rdtype) in ZONE:
                reply.answer.append(dns.rrset.from_text_list(q.name, 300, "IN", rdtype, ZONE[(name, rdtype)]))
            self.sock.sendto(reply.to_wire(), peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def dns_server() -> Iterator[LoopbackDNS]:
    server = LoopbackDNS(delay_for="slow.example.org")
    yield server
    server.close()


class BulkDetector:
    @hookimpl
    def outguard_inspect(self, message, context):
        return [Finding("bulk.detected", confidence=0.9, detail="test")]


def ids_by_recipient(result) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in result.findings:
        if f.recipient:
            out.setdefault(f.recipient, set()).add(f.id)
    return out


def test_domains_that_accept_no_mail_are_found_and_dropped(outguard_harness, dns_server, tmp_path: Path) -> None:
    from outguard.store import SuppressionStore, resolve

    url = f"sqlite:///{tmp_path / 's.sqlite3'}"
    SuppressionStore(resolve(url), create=True).migrate()
    settings = {"mx_check": True, "dns_servers": [f"127.0.0.1:{dns_server.port}"], "mx_budget_seconds": 1.0}
    harness = outguard_harness(enabled=["recipients"], config={
        "store": {"url": url}, "plugins": {"settings": {"recipients": settings}}})
    rcpts = ["a@mail.example.org", "b@nullmx.example.org", "c@bare.example.org", "d@nothing.example.org",
             "e@nxdomain.example.org"]
    result = harness.check(NOTE, rcpts=rcpts)
    assert sorted(result.decision.drop_recipients) == ["b@nullmx.example.org", "d@nothing.example.org",
                                                       "e@nxdomain.example.org"]
    details = {f.recipient: f.detail for f in result.findings if f.id == "recipient.no_mx"}
    assert details == {"b@nullmx.example.org": "null MX (RFC 7505): the domain accepts no mail",
                       "d@nothing.example.org": "domain publishes no MX and no address",
                       "e@nxdomain.example.org": "domain does not exist"}


def test_mx_answers_are_cached_and_time_boxed(outguard_harness, dns_server, tmp_path: Path) -> None:
    from outguard.store import SuppressionStore, resolve

    url = f"sqlite:///{tmp_path / 's.sqlite3'}"
    SuppressionStore(resolve(url), create=True).migrate()
    settings = {"mx_check": True, "dns_servers": [f"127.0.0.1:{dns_server.port}"], "mx_budget_seconds": 0.5}
    harness = outguard_harness(enabled=["recipients"], config={
        "store": {"url": url}, "plugins": {"settings": {"recipients": settings}}})
    first = harness.check(NOTE, rcpts=["a@nullmx.example.org", "b@mail.example.org"])
    assert first.decision.drop_recipients == ["a@nullmx.example.org"] and first.decision.verdict == "deliver"
    asked = len(dns_server.queries)
    harness.check(NOTE, rcpts=["x@nullmx.example.org", "y@mail.example.org"])
    assert len(dns_server.queries) == asked  # the same domains again: from the cache
    started = time.monotonic()
    slow = harness.check(NOTE, rcpts=["a@slow.example.org", "b@mail.example.org"])
    assert time.monotonic() - started < 2.0
    assert slow.decision.verdict == "deliver" and slow.decision.drop_recipients == []  # unknown is never a finding


def test_fcc_wireless_domains_are_dropped_from_bulk_mail(outguard_harness, tmp_path: Path) -> None:
    listing = tmp_path / "fcc-wireless.txt"
    listing.write_text("# FCC wireless domain names\nvtext.com\nmms.att.net\ntxt.example.net\n")
    old = time.time() - 40 * 86400
    os.utime(listing, (old, old))
    settings = {"fcc_wireless_list": str(listing), "fcc_max_age_days": 31}
    url = str(tmp_path / "s.sqlite3")
    from outguard.store import SuppressionStore, resolve

    SuppressionStore(resolve(url), create=True).migrate()
    harness = outguard_harness(plugins={"fakebulk": BulkDetector()}, enabled=["recipients"],
                               config={"store": {"url": url}, "plugins": {"settings": {"recipients": settings}}})
    result = harness.check(NOTE, rcpts=["5551234567@vtext.com", "5551234567@mms.att.net", "ann@partner.example"])
    finding = next(f for f in result.findings if f.id == "recipient.wireless_domain")
    assert finding.detail == "domain on the FCC wireless-domain list (list 40 days old, older than 31: update it)"
    assert sorted(result.decision.drop_recipients) == ["5551234567@mms.att.net", "5551234567@vtext.com"]
    assert ids_by_recipient(result).get("ann@partner.example") is None


def test_a_configured_fcc_list_that_is_missing_refuses_to_start(outguard_harness, tmp_path: Path) -> None:
    from outguard.checks.host import PluginError

    with pytest.raises(PluginError, match="recipients"):
        outguard_harness(enabled=["recipients"], config={
            "store": {"url": str(tmp_path / "s.sqlite3")},
            "plugins": {"settings": {"recipients": {"fcc_wireless_list": str(tmp_path / "missing.txt")}}}})
