"""The checks behind `outguard doctor`. Each returns Items; none raises for a DNS problem
(the item says what could not be looked up)."""

from __future__ import annotations

import email
import email.policy
import smtplib
import ssl
from collections.abc import Callable
from email.message import Message
from email.utils import getaddresses, parseaddr
from typing import Any

from .items import OK, OPEN, SKIPPED, Item
from .resolver import DNSFailure, Resolver

SPF_FIX = "publish one TXT record `v=spf1 ip4:<egress IP> ... -all` (or ~all) at the domain"
DKIM_FIX = "sign with DKIM (2048-bit RSA key) and publish the key at <selector>._domainkey.<domain>"
DMARC_FIX = "publish `v=DMARC1; p=none; rua=mailto:dmarc@<domain>` at _dmarc.<domain>, then move to quarantine/reject"
BULK_LU_FIX = ("add `List-Unsubscribe: <https://...>` and `List-Unsubscribe-Post: List-Unsubscribe=One-Click` "
               "(RFC 8058), signed by DKIM (outguard's add_unsubscribe can add them)")


def org_domain(domain: str) -> str:
    """The registrable domain (relaxed DMARC alignment compares these)."""
    from checkdmarc.utils import get_base_domain

    return str(get_base_domain(domain.lower().rstrip(".")))


def aligned(a: str | None, b: str | None, strict: bool) -> bool:
    if not a or not b:
        return False
    a, b = a.lower().rstrip("."), b.lower().rstrip(".")
    return a == b if strict else org_domain(a) == org_domain(b)


def _guard(item_id: str, fn: Callable[[], list[Item]]) -> list[Item]:
    try:
        return fn()
    except DNSFailure as exc:
        return [Item(item_id, OPEN, f"DNS lookup failed: {exc}", "receivers that cannot look it up treat it as missing",
                     "check the zone's name servers")]


# ---------------------------------------------------------------- SPF

def spf_items(resolver: Resolver, domain: str, ip: str | None) -> list[Item]:
    def run() -> list[Item]:
        records = [t for t in resolver.txt(domain) if t.lower().startswith("v=spf1")]
        if not records:
            return [Item("spf.record", OPEN, f"no SPF record at {domain}",
                         "Gmail and Yahoo require SPF (or DKIM) of all senders and both for bulk senders", SPF_FIX),
                    Item("spf.permits_ip", SKIPPED if not ip else OPEN, "no SPF record to permit the IP")]
        if len(records) > 1:
            return [Item("spf.record", OPEN, f"{len(records)} SPF records at {domain} (permerror)",
                         "receivers treat several records as an error: SPF fails", "merge them into one record")]
        record = records[0]
        items = [Item("spf.record", OK if not record.rstrip().endswith("+all") else OPEN, record,
                      "+all lets anyone send as the domain", "end the record with -all or ~all")]
        items.append(_spf_ip(resolver, domain, ip))
        return items
    return _guard("spf.record", run)


def spf_result(resolver: Resolver, ip: str, domain: str) -> tuple[str, str]:
    """pyspf's verdict (pass, fail, softfail, neutral, none, permerror, temperror) and why."""
    import spf

    with resolver.as_default():
        result, explanation = spf.check2(i=ip, s=f"postmaster@{domain}", h=domain, timeout=5)
    return str(result), str(explanation)


def dkim_verifies(resolver: Resolver, raw: bytes) -> bool:
    import dkim

    try:
        return bool(dkim.verify(raw, dnsfunc=resolver.dkim_txt, minkey=1024))
    except DNSFailure:
        return False


def _spf_ip(resolver: Resolver, domain: str, ip: str | None) -> Item:
    if not ip:
        return Item("spf.permits_ip", SKIPPED, "no --ip given", fix="give the egress IP with --ip")
    result, explanation = spf_result(resolver, ip, domain)
    if result == "pass":
        return Item("spf.permits_ip", OK, f"SPF passes for {ip}")
    return Item("spf.permits_ip", OPEN, f"SPF {result} for {ip} ({explanation})",
                "mail from this IP fails SPF: rejected or sent to spam, and DMARC must rely on DKIM alone",
                f"add ip4:{ip} (or an include: of the relay) to the SPF record")


# ---------------------------------------------------------------- DKIM

def _tags(text: str) -> dict[bytes, bytes]:
    """A DKIM tag list (signature or key record), parsed by dkimpy; {} when malformed."""
    import dkim.util

    try:
        return dict(dkim.util.parse_tag_value(" ".join(text.split()).encode()))
    except Exception:
        return {}


def _signature(msg: Message) -> dict[bytes, bytes] | None:
    value = msg.get("DKIM-Signature")
    return None if value is None else _tags(str(value))


def dkim_items(resolver: Resolver, domain: str, raw: bytes | None, selectors: list[str]) -> list[Item]:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32) if raw is not None else None
    sig = _signature(msg) if msg is not None else None
    if sig:
        selectors = [sig.get(b"s", b"").decode()] + [s for s in selectors if s != sig.get(b"s", b"").decode()]
    key_domain = sig.get(b"d", b"").decode() if sig else domain

    def selector_items() -> list[Item]:
        if not selectors:
            return [Item("dkim.selector", SKIPPED, "no selector known", fix="give --selector NAME or a signed --sample")]
        for sel in selectors:
            name = f"{sel}._domainkey.{key_domain}"
            keys = [_tags(t).get(b"p") for t in resolver.txt(name)]
            if not any(keys):
                revoked = " (revoked: empty p=)" if keys else ""
                return [Item("dkim.selector", OPEN, f"no usable DKIM key at {name}{revoked}",
                             "signatures with this selector fail: DKIM and DMARC fail", DKIM_FIX)]
        return [Item("dkim.selector", OK, f"key published for selector(s) {', '.join(selectors)} of {key_domain}")]

    items = _guard("dkim.selector", selector_items)
    if raw is None:
        items.append(Item("dkim.signature", SKIPPED, "no --sample given", fix="give a message the relay sent (--sample)"))
        return items
    if sig is None:
        items.append(Item("dkim.signature", OPEN, "the sample has no DKIM-Signature",
                          "unsigned bulk mail is rejected by Gmail and Yahoo", DKIM_FIX))
        return items
    good = dkim_verifies(resolver, raw)
    d = key_domain
    from_domain = from_domain_of(msg)
    if not good:
        items.append(Item("dkim.signature", OPEN, f"the sample's signature (d={d}) does not verify",
                          "DKIM fails at every receiver", "sign after the last change to the message (run outguard before "
                                                          "the signing milter) and check the published key"))
    elif not aligned(d, from_domain, strict=False):
        items.append(Item("dkim.signature", OPEN, f"signature verifies but d={d} is not aligned with From {from_domain}",
                          "DMARC does not count an unaligned signature", f"sign with d={from_domain} (or its organisation)"))
    else:
        items.append(Item("dkim.signature", OK, f"signature by d={d} verifies and is aligned with From {from_domain}"))
    signed = {h.strip().lower() for h in sig.get(b"h", b"").decode().split(":")}
    missing = [h for h in ("list-unsubscribe", "list-unsubscribe-post") if msg is not None and msg.get(h) is not None
               and h not in signed]
    absent = [h for h in ("List-Unsubscribe", "List-Unsubscribe-Post") if msg is not None and msg.get(h) is None]
    if absent:
        items.append(Item("dkim.covers_unsubscribe", OPEN, f"the sample has no {' and no '.join(absent)}",
                          "Gmail and Yahoo require one-click unsubscribe of bulk senders", BULK_LU_FIX))
    elif missing:
        items.append(Item("dkim.covers_unsubscribe", OPEN, f"the signature does not cover {', '.join(missing)}",
                          "RFC 8058 requires the one-click headers to be signed; receivers ignore them otherwise",
                          "add List-Unsubscribe and List-Unsubscribe-Post to the signed headers (h=)"))
    else:
        items.append(Item("dkim.covers_unsubscribe", OK, "List-Unsubscribe and List-Unsubscribe-Post are signed"))
    return items


def from_domain_of(msg: Message | None) -> str | None:
    if msg is None:
        return None
    addr = parseaddr(str(msg.get("From", "")))[1]
    return addr.rsplit("@", 1)[1].lower() if "@" in addr else None


# ---------------------------------------------------------------- DMARC

def dmarc_items(resolver: Resolver, domain: str, raw: bytes | None, ip: str | None = None) -> list[Item]:
    from checkdmarc.dmarc import get_dmarc_record

    try:
        found: dict[str, Any] = dict(get_dmarc_record(domain, resolver=resolver.dns, timeout=resolver.dns.lifetime))
    except Exception as exc:   # checkdmarc says what is wrong in its exception's type and text
        text = str(exc) or type(exc).__name__
        return [Item("dmarc.record", OPEN, f"DMARC: {text}"[:300],
                     "Gmail and Yahoo reject bulk mail from a domain without DMARC", DMARC_FIX),
                Item("dmarc.policy", SKIPPED, "no usable DMARC record"),
                Item("dmarc.alignment", SKIPPED, "no usable DMARC record")]
    tags = found["parsed"]["tags"]
    policy = str(tags.get("p", {}).get("value", "none"))
    items = [Item("dmarc.record", OK, f"{found['record']} (at {found['location']})")]
    if policy in ("quarantine", "reject"):
        items.append(Item("dmarc.policy", OK, f"p={policy}"))
    else:
        items.append(Item("dmarc.policy", OPEN, "p=none: meets the bulk-sender minimum, but protects nothing",
                          "mail that fails DMARC (spoofed mail) is still delivered",
                          "after reading the aggregate reports, move to p=quarantine, then p=reject"))
    strict_dkim = str(tags.get("adkim", {}).get("value", "r")) == "s"
    strict_spf = str(tags.get("aspf", {}).get("value", "r")) == "s"
    if raw is None:
        items.append(Item("dmarc.alignment", SKIPPED, "no --sample given", fix="give a message the relay sent (--sample)"))
        return items
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    from_domain = from_domain_of(msg)
    sig = _signature(msg) or {}
    dkim_d = sig.get(b"d", b"").decode() or None
    rp = parseaddr(str(msg.get("Return-Path", "")))[1]
    rp_domain = rp.rsplit("@", 1)[1].lower() if "@" in rp else None
    # DMARC counts a mechanism that passes and is aligned: a verified signature, SPF passing
    # for the egress IP at the Return-Path domain (unknown without --ip).
    dkim_ok = aligned(dkim_d, from_domain, strict_dkim) and dkim_verifies(resolver, raw)
    spf_ok = bool(ip and rp_domain and aligned(rp_domain, from_domain, strict_spf)
                  and spf_result(resolver, ip, rp_domain)[0] == "pass")
    by = [n for n, ok in (("DKIM", dkim_ok), ("SPF", spf_ok)) if ok]
    if by:
        items.append(Item("dmarc.alignment", OK, f"From {from_domain} aligned by {' and '.join(by)}"))
    else:
        items.append(Item("dmarc.alignment", OPEN, f"From {from_domain}: no passing, aligned DKIM (d={dkim_d}) or "
                                                   f"SPF (Return-Path {rp_domain}{'' if ip else ', not tried: no --ip'})",
                          "DMARC fails: with p=quarantine/reject the mail is lost; bulk mail is rejected",
                          "sign with the From domain, or send with a Return-Path in the From domain"))
    return items


# ---------------------------------------------------------------- reverse DNS, MX, TLS

def ptr_items(resolver: Resolver, ip: str | None) -> list[Item]:
    if not ip:
        return [Item("ptr.fcrdns", SKIPPED, "no --ip given", fix="give the egress IP with --ip")]

    def run() -> list[Item]:
        names = resolver.ptr(ip)
        if not names:
            return [Item("ptr.fcrdns", OPEN, f"no PTR record for {ip}",
                         "Gmail and Yahoo require forward-confirmed reverse DNS; mail is rejected or rate-limited",
                         "ask the IP's owner (hosting provider) to set a PTR to the relay's host name")]
        confirmed = [n for n in names if ip in resolver.addresses(n)]
        if not confirmed:
            return [Item("ptr.fcrdns", OPEN, f"{ip} has PTR {', '.join(names)}, which does not resolve back to it",
                         "reverse DNS is not forward-confirmed: receivers treat the relay as unidentified",
                         f"publish an A/AAAA record {names[0]} -> {ip}")]
        return [Item("ptr.fcrdns", OK, f"{ip} -> {confirmed[0]} -> {ip}")]
    return _guard("ptr.fcrdns", run)


def mx_items(resolver: Resolver, domain: str, try_tls: bool, tls_port: int = 25) -> list[Item]:
    def run() -> list[Item]:
        hosts = resolver.mx(domain)
        if not hosts:
            return [Item("mx.record", OPEN, f"no MX record for {domain}",
                         "replies, bounces and complaints to the domain cannot arrive; some receivers refuse such senders",
                         "publish an MX for the domain")]
        items = [Item("mx.record", OK, "MX " + ", ".join(f"{p} {h}" for p, h in hosts))]
        if not try_tls:
            items.append(Item("mx.tls", SKIPPED, "not tried (outgoing connections need --tls)",
                              fix="run with --tls where connections to port 25 are allowed"))
            return items
        items.append(_starttls(resolver, hosts[0][1], tls_port))
        return items
    return _guard("mx.record", run)


def _starttls(resolver: Resolver, host: str, port: int) -> Item:
    addresses = resolver.addresses(host)
    if not addresses:
        return Item("mx.tls", OPEN, f"{host} has no address", "mail to the domain cannot be delivered", "fix the MX host")
    try:
        with smtplib.SMTP(addresses[0], port, timeout=10, local_hostname="doctor.outguard.invalid") as smtp:
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                return Item("mx.tls", OPEN, f"{host} offers no STARTTLS", "mail to the domain travels in clear text",
                            "enable STARTTLS on the MX")
            smtp.starttls(context=ssl._create_unverified_context())
            return Item("mx.tls", OK, f"{host} ({addresses[0]}:{port}) offers STARTTLS")
    except (TimeoutError, OSError, smtplib.SMTPException) as exc:
        return Item("mx.tls", OPEN, f"{host} ({addresses[0]}:{port}) not reachable: {type(exc).__name__}",
                    "the MX cannot be reached from here", "check that port 25 is open towards the MX")


# ---------------------------------------------------------------- bulk-sender checklist

def bulk_items(raw: bytes | None, complaint_rate: float | None) -> list[Item]:
    items = []
    if raw is None:
        items.append(Item("bulk.one_click", SKIPPED, "no --sample given", fix="give a bulk message the relay sent"))
    else:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        lu = str(msg.get("List-Unsubscribe", ""))
        post = str(msg.get("List-Unsubscribe-Post", "")).replace(" ", "").lower()
        https = any(u.strip().lower().startswith("https:") for _, u in getaddresses([lu.replace("<", " <")]))
        if "<https:" in lu.lower().replace(" ", ""):
            https = True
        if https and post == "list-unsubscribe=one-click":
            items.append(Item("bulk.one_click", OK, "List-Unsubscribe (https) with List-Unsubscribe-Post one-click"))
        else:
            items.append(Item("bulk.one_click", OPEN, "no one-click unsubscribe (RFC 8058) on the sample",
                              "Gmail and Yahoo require one-click unsubscribe of bulk senders", BULK_LU_FIX))
    if complaint_rate is None:
        items.append(Item("bulk.complaint_rate", SKIPPED, "no complaint figures (no store, or under the minimum volume)",
                          fix="run `outguard ingest` on the feedback loops; see `outguard reputation status`"))
    elif complaint_rate < 0.003:
        items.append(Item("bulk.complaint_rate", OK, f"complaint rate {complaint_rate:.3%} (Gmail/Yahoo: under 0.3 %)"))
    else:
        items.append(Item("bulk.complaint_rate", OPEN, f"complaint rate {complaint_rate:.3%} (Gmail/Yahoo: under 0.3 %)",
                          "over 0.3 % Gmail and Yahoo reject or junk the domain's mail",
                          "send only to people who asked, honour unsubscribes at once, clean the lists"))
    return items


def diagnose(domain: str, resolver: Resolver, ip: str | None = None, sample: bytes | None = None,
             selectors: list[str] | None = None, try_tls: bool = False, tls_port: int = 25,
             complaint_rate: float | None = None) -> list[Item]:
    domain = domain.lower().rstrip(".")
    return (spf_items(resolver, domain, ip) + dkim_items(resolver, domain, sample, list(selectors or []))
            + dmarc_items(resolver, domain, sample, ip) + ptr_items(resolver, ip) + mx_items(resolver, domain, try_tls, tls_port)
            + bulk_items(sample, complaint_rate))
