"""The sender notice: who may get one, and what it says.

Only the authenticated or local sender of our own domains gets one (never `<>`, never a
forged outside address, never an auto-submitted message), at most `rate_limit.count` per
sender per window (a bulk run gets the first few). It says what was found by finding id
and count, the rule, what happens now, how to fix it and the incident id (the queue id);
never a value, an excerpt or even the original subject."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from outguard.core.decision import Decision
from outguard.core.message import Envelope
from outguard.core.ratelimit import RateLimit
from outguard.core.verdict import Verdict
from outguard.notify import templates
from outguard.notify.marker import HEADER, Origin, OriginMarker

NOTICE_VERDICTS = (Verdict.QUARANTINE, Verdict.REJECT, Verdict.ENCRYPT)


@dataclass
class NoticePolicy:
    sender_domains: tuple[str, ...]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    from_address: str
    language: str
    support: str
    secure_hint: str
    override_tag: str
    catalogue: dict[str, dict[str, templates.Template]]
    limit: RateLimit

    @classmethod
    def from_config(cls, notify: dict[str, Any], override: dict[str, Any]) -> NoticePolicy:
        rate = notify.get("rate_limit") or {}
        return cls(
            sender_domains=tuple(d.lower().lstrip(".") for d in notify.get("sender_domains") or ()),
            networks=tuple(ipaddress.ip_network(n, strict=False) for n in notify.get("trusted_networks") or ()),
            from_address=str(notify.get("from") or "postmaster"),
            language=str(notify.get("language") or "en"),
            support=str(notify.get("support") or "your compliance team"),
            secure_hint=str(notify.get("secure_hint") or "[secure] in the subject"),
            override_tag=str(override.get("subject_tag") or "override"),
            catalogue=templates.catalogue(notify.get("templates") or {}),
            limit=RateLimit(int(rate.get("count", 3)), float(rate.get("per_seconds", 3600))),
        )

    def ours(self, sender: str) -> bool:
        """Is `sender` of one of `notify.sender_domains` (or are there none)?"""
        domain = domain_of(sender)
        return not self.sender_domains or any(domain == d or domain.endswith("." + d) for d in self.sender_domains)

    def _trusted(self, envelope: Envelope) -> bool:
        if envelope.auth_user:
            return True
        try:
            address = ipaddress.ip_address((envelope.client_address or "").strip("[]").removeprefix("IPv6:"))
        except ValueError:
            return False
        return any(address in net for net in self.networks)

    def eligible(self, envelope: Envelope, headers: list[tuple[str, str]]) -> str | None:
        """Why this message's sender gets no notice (None: it does). Counts nothing."""
        sender = envelope.sender.strip().strip("<>")
        if not sender or "@" not in sender:
            return "null or local-only sender"
        if not self.ours(sender):
            return "sender outside notify.sender_domains"
        if not self._trusted(envelope):
            return "sender neither authenticated nor on a trusted network"
        auto = next((v for n, v in headers if n.lower() == "auto-submitted"), "no")
        if auto.strip().lower() != "no":
            return "auto-submitted message"
        return None

    def admit(self, sender: str) -> bool:
        """Count one notice for `sender`; False past the rate limit."""
        return self.limit.allow(sender.strip().strip("<>").lower())


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def language_of(headers: list[tuple[str, str]]) -> list[str]:
    value = next((v for n, v in headers if n.lower() == "content-language"), "")
    return [part.strip().split("-")[0].lower() for part in value.split(",") if part.strip()]


def compose(policy: NoticePolicy, decision: Decision, envelope: Envelope, headers: list[tuple[str, str]],
            marker: OriginMarker, now: float | None = None) -> EmailMessage:
    """The notice for one decided message (the caller checked `eligible` and `admit`)."""
    assert decision.notice is not None
    template_id, rule_id, override_kind = decision.notice
    lang, template = templates.choose(policy.catalogue, template_id, language_of(headers), policy.language)
    outcomes = templates.OUTCOMES.get(lang, templates.OUTCOMES["en"])
    outcome, what_now = outcomes.get(decision.verdict, outcomes["quarantine"])
    rule = next((m for m in decision.matches if m.rule_id == rule_id), None)
    by_id: dict[str, int] = {}
    for f in decision.findings:
        by_id[f.id] = by_id.get(f.id, 0) + f.count
    fields = {
        "rule_id": rule_id, "rule_description": rule.description if rule else "",
        "findings": "\n".join(f"  - {fid}: {count}" for fid, count in sorted(by_id.items())) or "  - (none)",
        "outcome": outcome, "what_now": what_now, "incident": envelope.queue_id or "-",
        "recipients": str(len(envelope.recipients)), "support": policy.support, "secure_hint": policy.secure_hint,
        "override_hint": templates.OVERRIDE_HINT.get(lang, templates.OVERRIDE_HINT["en"]).format(
            tag=policy.override_tag) if override_kind else "",
    }
    subject, body = templates.render(template, fields)
    sender = envelope.sender.strip().strip("<>")
    msg = EmailMessage()
    from_address = policy.from_address if "@" in policy.from_address else f"{policy.from_address}@{domain_of(sender)}"
    message_id = make_msgid(domain=domain_of(from_address) or None)
    msg["From"] = from_address
    msg["To"] = sender
    msg["Subject"] = subject
    msg["Date"] = formatdate(now, localtime=True)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["Content-Language"] = lang
    msg[HEADER] = marker.make(Origin("notice", message_id, rule_id))
    msg.set_content(body)
    return msg
