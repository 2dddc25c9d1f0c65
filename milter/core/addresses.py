"""Address normalisation: the one key the store, the checks and the CLI agree on.

* Surrounding whitespace and angle brackets go.
* The domain is lower-cased and IDNA-encoded (`exämple.org` and `xn--exmple-cua.org` are one).
* The local part is lower-cased too. RFC 5321 lets a server treat `John` and `john` as two
  mailboxes, but no mailbox provider does, and for a suppression list a false match (not
  mailing `John@` because `john@` bounced) is harmless while a miss mails someone who
  complained. Dots and `+tags` are kept: their meaning is provider-specific, and a
  `+tag` often is a separate subscription.
"""

from __future__ import annotations


class AddressError(ValueError):
    """Not something the store can key on."""


def split(address: str) -> tuple[str, str]:
    addr = address.strip().strip("<>").strip()
    if "@" not in addr:
        raise AddressError("no @")
    local, domain = addr.rsplit("@", 1)
    if not local or not domain:
        raise AddressError("empty local part or domain")
    return local, domain


def ascii_domain(domain: str) -> str:
    domain = domain.strip().rstrip(".").lower()
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise AddressError("domain cannot be IDNA-encoded") from exc


def normalise(address: str) -> str:
    local, domain = split(address)
    if len(local) > 64 * 4 or len(domain) > 255:
        raise AddressError("too long")
    return f"{local.lower()}@{ascii_domain(domain)}"


def try_normalise(address: str) -> str | None:
    try:
        return normalise(address)
    except AddressError:
        return None


def normalise_scope(scope: str | None) -> str:
    """`global` (or empty), `list:<List-Id>` or `domain:<sender domain>`; lower-case."""
    s = (scope or "").strip()
    if not s or s.lower() in ("global", "*"):
        return "global"
    kind, sep, value = s.partition(":")
    kind = kind.lower()
    if not sep or kind not in ("list", "domain") or not value.strip():
        raise AddressError(f"scope {scope!r}: use global, list:<List-Id> or domain:<sender domain>")
    value = value.strip().strip("<>").strip().lower()
    return f"{kind}:{ascii_domain(value) if kind == 'domain' else value}"
