"""The names of the headers outguard writes, from one place: the milter writes them and
`quarantine list` reads them back, so renaming one in the config (`headers:`) changes both."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Every header outguard writes starts so; a sender's own look-alikes are stripped on the way out.
OUR_HEADER_PREFIX = "x-outguard-"


@dataclass(frozen=True)
class HeaderNames:
    verdict: str
    route: str
    monitor: str
    quarantine: str
    encrypted: str = "X-Outguard-Encrypted"

    @classmethod
    def from_config(cls, headers: dict[str, Any]) -> HeaderNames:
        """From the config's `headers` section (the embedded defaults name every one)."""
        return cls(**{name: str(headers[name]) for name in ("verdict", "route", "monitor", "quarantine", "encrypted")
                      if name in headers})
