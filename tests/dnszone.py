"""A DNS server on loopback serving a zone given as text (dnslib's server), for tests that
must never touch the outside network."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

from dnslib.server import DNSLogger, DNSServer
from dnslib.zoneresolver import ZoneResolver


@contextmanager
def dns_server(zone: str) -> Iterator[str]:
    """Serve `zone` (master-file text) over UDP on 127.0.0.1; yield "127.0.0.1:PORT"."""
    server = DNSServer(ZoneResolver(textwrap.dedent(zone)), address="127.0.0.1", port=0,
                       logger=DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data"))
    server.start_thread()
    try:
        yield f"127.0.0.1:{server.server.server_address[1]}"
    finally:
        server.stop()
        server.server.server_close()
