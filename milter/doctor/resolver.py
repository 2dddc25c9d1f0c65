"""One DNS resolver for every doctor check: the system's, or a named server (IP[:PORT])."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dns.exception
import dns.resolver
import dns.reversename


class DNSFailure(Exception):
    """The resolver could not answer (timeout, SERVFAIL): the item cannot be judged."""


def parse_nameserver(spec: str) -> tuple[str, int]:
    """`192.0.2.53`, `127.0.0.1:5353`, `[::1]:5353`, `::1` -> (address, port)."""
    spec = spec.strip()
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        return host, int(rest.lstrip(":") or 53)
    if spec.count(":") == 1:
        host, port = spec.split(":")
        return host, int(port)
    return spec, 53


class Resolver:
    def __init__(self, nameserver: str | None = None, timeout: float = 3.0) -> None:
        if nameserver:
            host, port = parse_nameserver(nameserver)
            self.dns = dns.resolver.Resolver(configure=False)
            self.dns.nameservers = [host]
            self.dns.port = port
        else:
            self.dns = dns.resolver.Resolver()
        self.dns.lifetime = timeout
        self.dns.timeout = timeout

    def _answer(self, name: str, rdtype: str) -> list[object]:
        try:
            return list(self.dns.resolve(name, rdtype))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            raise DNSFailure(f"{rdtype} {name}: {type(exc).__name__}") from None

    def txt(self, name: str) -> list[str]:
        return [b"".join(r.strings).decode("utf-8", "replace") for r in self._answer(name, "TXT")]  # type: ignore[attr-defined]

    def addresses(self, name: str) -> list[str]:
        return [r.address for t in ("A", "AAAA") for r in self._answer(name, t)]  # type: ignore[attr-defined]

    def mx(self, name: str) -> list[tuple[int, str]]:
        return sorted((r.preference, r.exchange.to_text(omit_final_dot=True)) for r in self._answer(name, "MX"))  # type: ignore[attr-defined]

    def ptr(self, ip: str) -> list[str]:
        return [r.target.to_text(omit_final_dot=True) for r in self._answer(dns.reversename.from_address(ip).to_text(), "PTR")]  # type: ignore[attr-defined]

    def dkim_txt(self, name: bytes | str, timeout: int = 5) -> bytes | None:
        """dkimpy's `dnsfunc`: the TXT record of a selector name, as bytes."""
        text = name.decode() if isinstance(name, bytes) else name
        found = self.txt(text.rstrip("."))
        return found[0].encode() if found else None

    @contextlib.contextmanager
    def as_default(self) -> Iterator[None]:
        """pyspf resolves through dnspython's default resolver: make it this one for a while."""
        saved = dns.resolver.default_resolver
        dns.resolver.default_resolver = self.dns
        try:
            yield
        finally:
            dns.resolver.default_resolver = saved
