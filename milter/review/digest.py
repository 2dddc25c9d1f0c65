"""The daily digest (`outguard review digest`, from cron or a systemd timer): each local
sender gets one mail listing their held messages (age, recipient count, rule, finding ids
and counts; never a subject or a value) with signed links: release encrypted (only where
the message is held with an encryption route) or ask for a review. A link works once
(`UsedTokens`) and expires after `review.digest_link_days`."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from outguard.notify.marker import HEADER, Origin
from outguard.notify.notice import NoticePolicy, domain_of
from outguard.notify.submit import sendmail
from outguard.review.held import Item
from outguard.review.service import Review
from outguard.unsubscribe.tokens import TokenCodec

DIGEST_CONTEXT = b"outguard review digest link v1"
ACTIONS = ("release", "review")


@dataclass(frozen=True)
class Link:
    queue_id: str
    message_id: str
    sender: str
    action: str


def link_codec(review: Review) -> TokenCodec:
    return review.codec(DIGEST_CONTEXT, int(review.section.get("digest_link_days", 3)) * 86400)


def make_link(review: Review, item: Item, action: str) -> str:
    token = link_codec(review).seal({"q": item.queue_id, "m": item.held.message_id, "s": item.held.sender,
                                     "a": action})
    return f"{str(review.section.get('base_url') or '').rstrip('/')}/d/{token}"


def read_link(review: Review, token: str) -> Link:
    """The link a token stands for (TokenError if forged or expired)."""
    data, _ = link_codec(review).unseal(token)
    return Link(str(data["q"]), str(data["m"]), str(data["s"]), str(data["a"]))


def compose(review: Review, sender: str, items: list[Item]) -> EmailMessage:
    lines = [f"You have {len(items)} message(s) held by the mail gateway.", ""]
    for n, item in enumerate(items, 1):
        found = ", ".join(f"{fid} x{count}" for fid, count in item.findings) or "-"
        lines += [f"{n}. held {item.age} ago, to {len(item.held.recipients)} recipient(s), "
                  f"rule {', '.join(item.rules) or '-'}; found: {found}; incident {item.queue_id}"]
        if item.held.route:
            lines.append(f"   release it encrypted ({item.held.route}): {make_link(review, item, 'release')}")
        lines.append(f"   ask for a review: {make_link(review, item, 'review')}")
    lines += ["", f"The links work once and for {review.section.get('digest_link_days', 3)} day(s)."]
    msg = EmailMessage()
    from_address = str(review.config.section("notify").get("from") or "postmaster")
    if "@" not in from_address:
        from_address = f"{from_address}@{domain_of(sender)}"
    message_id = make_msgid(domain=domain_of(from_address) or None)
    msg["From"], msg["To"], msg["Subject"] = from_address, sender, f"Your held messages ({len(items)})"
    msg["Date"], msg["Message-ID"], msg["Auto-Submitted"] = formatdate(time.time(), localtime=True), message_id, \
        "auto-generated"
    msg[HEADER] = review.marker.make(Origin("notice", message_id, "digest"))
    msg.set_content("\n".join(lines) + "\n", cte="7bit")  # links unbroken (quoted-printable would fold them)
    return msg


def digests(review: Review) -> dict[str, EmailMessage]:
    """sender -> digest, for the senders a notice may go to (shadow copies are left out)."""
    policy = NoticePolicy.from_config(review.config.section("notify"), review.config.section("override"))
    by_sender: dict[str, list[Item]] = defaultdict(list)
    for item in review.items():
        sender = item.held.sender.strip().lower()
        if item.is_shadow or "@" not in sender or not policy.ours(sender):
            continue
        by_sender[sender].append(item)
    return {sender: compose(review, sender, items) for sender, items in sorted(by_sender.items())}


def send_digests(review: Review, dry_run: bool = False) -> dict[str, EmailMessage]:
    made = digests(review)
    for sender, msg in made.items():
        if not dry_run:
            sendmail(review.sendmail, msg.as_bytes(), "", [sender])
            review.record("digest", "digest-sent", None, sender=sender, held=msg.get_content().count("incident "))
    return made
