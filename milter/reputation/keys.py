"""Which stream a message belongs to.

One function for the milter (which has the raw headers) and the check (which has the
parsed message), so a bounce, the record of an accepted recipient and a pause name a
stream alike: `list:<list-id>` for List-Id (the suppression store's scope spelling),
`stream:<value>` for another configured header, and `domain:<sender domain>` for mail
that has neither. Each accepted recipient counts under exactly one stream, so a pause
is lifted by one `resume` and one list's bounces never hold another list's mail.
"""

from __future__ import annotations

from collections.abc import Callable

from outguard.core.addresses import AddressError, ascii_domain


def sender_domain(sender: str | None) -> str | None:
    addr = (sender or "").strip().strip("<>")
    if "@" not in addr:
        return None   # the null sender (bounces, auto-replies) is nobody's stream
    try:
        return ascii_domain(addr.rsplit("@", 1)[1]) or None
    except AddressError:
        return None


def stream_key(value: str | None, header: str = "List-Id") -> str | None:
    """`list:<id>` from a List-Id (`"Shop news" <news.shop.example>` gives news.shop.example),
    `stream:<value>` from another header; None when the header is absent or empty."""
    raw = (value or "").strip()
    if "<" in raw:
        raw = raw.rsplit("<", 1)[-1].split(">", 1)[0]
    raw = " ".join(raw.split()).lower()[:280]
    if not raw:
        return None
    return f"list:{raw}" if header.lower() == "list-id" else f"stream:{raw}"


def parse_key(text: str) -> str:
    """What a person types (`resume news.shop.example`, `list:news.shop.example`,
    `domain:shop.example`) as a stored key. A bare name is a List-Id."""
    text = text.strip()
    kind, sep, value = text.partition(":")
    if sep and kind.lower() in ("list", "stream", "domain", "ip"):
        value = value.strip().strip("<>").strip().lower()
        return f"{kind.lower()}:{ascii_domain(value) if kind.lower() == 'domain' else value}"
    return f"list:{text.strip('<>').strip().lower()}"


def message_stream(sender: str | None, header: Callable[[str], str | None], stream_header: str) -> str | None:
    """The message's stream: its List-Id (or configured header), else `domain:<sender domain>`;
    None for the null sender."""
    stream = stream_key(header(stream_header), stream_header)
    if stream:
        return stream
    domain = sender_domain(sender)
    return f"domain:{domain}" if domain else None
