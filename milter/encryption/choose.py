"""`encrypt: auto`: the strongest method every recipient of the message can read.

One milter transaction is one message with one body: the milter can replace the body once
for everyone, but cannot hand different bodies to different recipients (no milter
operation splits a message). So a mixed recipient set gets the first method in the
configured preference order that ALL of them support; TLS (with the portal behind it)
always qualifies. The reason names counts, never addresses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from outguard.encryption.keystore import Keystore

INLINE_METHODS = ("smime", "pgp")
_WHAT = {"smime": "a certificate", "pgp": "an OpenPGP key"}


@dataclass(frozen=True)
class Choice:
    method: str                 # smime | pgp | tls
    reason: str
    keys: tuple[Any, ...] = ()  # the certificates or key fingerprints, in recipient order


def choose(recipients: Sequence[str], keystore: Keystore, methods: Sequence[str], tls_route: str) -> Choice:
    total = len(recipients)
    have: dict[str, int] = {}
    for method in methods:
        if method == "tls":
            break
        keys = _keys(method, recipients, keystore)
        if keys is not None and total:
            lacking = [f"{total - have[m]} of {total} lack {_WHAT[m]}" for m in have]
            extra = f" ({'; '.join(lacking)})" if lacking else ""
            return Choice(method, f"encrypt: {method}, every recipient has {_WHAT[method]}{extra}", tuple(keys))
        have[method] = sum(1 for r in recipients if _keys(method, [r], keystore) is not None)
    shares = ", ".join(f"{n} of {total} have {_WHAT[m]}" for m, n in have.items())
    why = f"not every recipient has {' or '.join(_WHAT[m] for m in have)}" if have else "inline methods not configured"
    return Choice("tls", f"encrypt: tls over route {tls_route}, {why}" + (f" ({shares})" if shares else ""))


def _keys(method: str, recipients: Sequence[str], keystore: Keystore) -> list[Any] | None:
    if method == "smime":
        return keystore.certificates(recipients)
    if not keystore.pgp.home.exists():
        return None
    return keystore.pgp_keys(recipients)
