"""Recipient hygiene: one `recipient.*` finding per affected envelope recipient.

* `recipient.suppressed`  on the suppression list (detail: reason, scope, since when)
* `recipient.trap`        a suspected spam trap (store reason trap_suspect, or a `trap_domains` entry)
* `recipient.invalid`     the address's syntax is invalid
* `recipient.role`        a role account (RFC 2142 and common role local parts)
* `recipient.disposable`  a disposable-mail domain (matched on the registrable domain)
* `recipient.typo_domain` a likely typo of a large provider's domain (detail names the
                          suggested domain; the address is never rewritten)
and, once per message, `recipient.none_deliverable` (every recipient suppressed, trap or
invalid) and `recipient.none_deliverable_bulk` (the same, counting role and disposable).
Off by default:
* `recipient.no_mx`       the domain accepts no mail: null MX (RFC 7505), no MX and no
                          address, or no such domain (`mx_check: true`; cached, time-boxed DNS)
* `recipient.wireless_domain` the domain is on the FCC's wireless-domain list (CAN-SPAM:
                          no commercial mail without prior consent); `fcc_wireless_list:
                          PATH` names the file the admin keeps current; the detail says how old it is

All recipients are looked up in the store in one query. The store comes from the core as
`services["suppression"]`; when it cannot be reached the check raises (the core makes that
`error.recipients`, which the shipped rules tempfail), or, with `on_unavailable: finding`,
reports `recipient.store_unavailable` for the rules to decide. It never delivers silently.

Settings (`plugins.settings.recipients`): `role`, `disposable`, `typo` (booleans, default
true), `extra_role_local_parts`, `not_role_local_parts`, `disposable_allow`,
`disposable_extra`, `typo_domains` (more provider domains), `trap_domains`,
`on_unavailable` (`error` | `finding`), `mx_check`, `mx_budget_seconds` (all DNS of one
message, default 2), `mx_cache_seconds` (default 3600), `dns_servers` (["127.0.0.1:5353"];
default: the system's), `fcc_wireless_list`, `fcc_max_age_days` (default 31).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from disposable_email_domains import blocklist as disposable_blocklist
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from outguard.checks import (
    Finding,
    InspectContext,
    Message,
    ServiceUnavailable,
    StartupContext,
    hookimpl,
    try_normalise,
)
from outguard_plugins.helpers import psl, registrable, stop_if_late
from outguard_plugins.recipients.hygiene import edit_distance, mailbox_providers, role_local_parts

log = logging.getLogger("outguard.checks.recipients")

NAME = "recipients"
DROP_ALWAYS = ("recipient.suppressed", "recipient.trap", "recipient.invalid", "recipient.no_mx")
DROP_BULK = DROP_ALWAYS + ("recipient.role", "recipient.disposable", "recipient.wireless_domain")
REASON_TEXT = {
    "hard_bounce": "hard bounce", "soft_bounce_threshold": "repeated soft bounces", "complaint": "complaint",
    "unsubscribe": "unsubscribed", "manual": "suppressed by an administrator", "invalid": "known invalid",
    "trap_suspect": "suspected spam trap",
}


_LIST = {"type": "array", "items": {"type": "string"}}
SETTINGS_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "role": {"type": "boolean"}, "disposable": {"type": "boolean"}, "typo": {"type": "boolean"},
        "extra_role_local_parts": _LIST, "not_role_local_parts": _LIST, "disposable_allow": _LIST,
        "disposable_extra": _LIST, "typo_domains": _LIST, "trap_domains": _LIST,
        "on_unavailable": {"enum": ["error", "finding"]},
        "mx_check": {"type": "boolean"}, "mx_budget_seconds": {"type": "number", "exclusiveMinimum": 0},
        "mx_cache_seconds": {"type": "number", "minimum": 0}, "dns_servers": _LIST,
        "fcc_wireless_list": {"type": ["string", "null"]}, "fcc_max_age_days": {"type": "number", "minimum": 0},
    },
}


@dataclass
class Settings:
    role: bool = True
    disposable: bool = True
    typo: bool = True
    roles: dict[str, str] = field(default_factory=dict)
    disposable_domains: frozenset[str] = frozenset()
    disposable_allow: frozenset[str] = frozenset()
    providers: tuple[str, ...] = ()
    trap_domains: frozenset[str] = frozenset()
    on_unavailable: str = "error"
    store: Any = None
    mx: MxChecker | None = None
    wireless: frozenset[str] = frozenset()
    wireless_note: str = ""


class MxChecker:
    """Does a domain accept mail? Cached per process, every message's DNS within a budget."""

    def __init__(self, servers: list[str], budget: float, ttl: float) -> None:
        # dnspython only when MX checks are on: with its DoH/trio extras installed it costs
        # ~0.2 s to import, which every `outguard check` would pay
        import dns.exception
        import dns.resolver

        self._unknown: type[Exception] = dns.exception.DNSException
        self._nxdomain: type[Exception] = dns.resolver.NXDOMAIN
        self.resolver = dns.resolver.Resolver(configure=not servers)
        if servers:
            hosts, ports = zip(*(_host_port(x) for x in servers), strict=True)
            self.resolver.nameservers = list(hosts)
            self.resolver.port = ports[0]
        self.budget = budget
        self.ttl = ttl
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def problems(self, domains: list[str], until: float | None = None) -> dict[str, str]:
        """domain -> why it accepts no mail; domains that do (or could not be asked in time) are absent.
        Asks within `mx_budget_seconds`, and never past `until` (the host's deadline for the check)."""
        deadline = min(time.monotonic() + self.budget, until if until is not None else float("inf"))
        out: dict[str, str] = {}
        for domain in dict.fromkeys(domains):
            now = time.monotonic()
            with self._lock:
                hit = self._cache.get(domain)
            if hit and hit[0] > now:
                problem = hit[1]
            else:
                if now >= deadline:
                    continue  # out of time: unknown, never a finding
                try:
                    problem = self._ask(domain, deadline)
                except self._unknown:
                    continue  # timeout, SERVFAIL, no server: unknown; not cached
                with self._lock:
                    self._cache[domain] = (now + self.ttl, problem)
            if problem:
                out[domain] = problem
        return out

    def _ask(self, domain: str, deadline: float) -> str | None:
        def query(rdtype: str) -> Any:
            remaining = max(0.05, deadline - time.monotonic())
            return self.resolver.resolve(domain + ".", rdtype, lifetime=remaining, raise_on_no_answer=False,
                                         search=False)

        try:
            mx = query("MX")
        except self._nxdomain:
            return "domain does not exist"
        if mx.rrset:
            exchanges = [(r.preference, r.exchange.to_text()) for r in mx.rrset]
            if exchanges == [(0, ".")]:
                return "null MX (RFC 7505): the domain accepts no mail"
            return None
        for rdtype in ("A", "AAAA"):
            if query(rdtype).rrset:
                return None  # no MX, but an address: mail goes there (RFC 5321 implicit MX)
        return "domain publishes no MX and no address"


def _host_port(spec: str) -> tuple[str, int]:
    if spec.startswith("[") and "]:" in spec:
        host, port = spec[1:].split("]:", 1)
        return host, int(port)
    if spec.count(":") == 1:
        host, port = spec.split(":")
        return host, int(port)
    return spec, 53


def load_wireless_list(path: str) -> tuple[frozenset[str], float]:
    """The FCC wireless-domain list (one domain a line; '#' comments, CSV columns after the
    first ignored) and its age in days (from the file's modification time)."""
    p = Path(path)
    domains = set()
    for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
        value = line.split("#", 1)[0].strip().split(",", 1)[0].strip().strip('"').lower().rstrip(".")
        if "." in value and " " not in value:
            domains.add(value)
    return frozenset(domains), (time.time() - p.stat().st_mtime) / 86400



def _lower_set(values: Any) -> frozenset[str]:
    return frozenset(str(v).strip().lower() for v in (values or []) if str(v).strip())


def make_settings(context: StartupContext) -> Settings:
    s = context.settings
    roles = dict(role_local_parts())
    roles.update({k: "site" for k in _lower_set(s.get("extra_role_local_parts"))})
    for k in _lower_set(s.get("not_role_local_parts")):
        roles.pop(k, None)
    on_unavailable = str(s.get("on_unavailable", "error"))
    state = Settings(
        role=bool(s.get("role", True)),
        disposable=bool(s.get("disposable", True)),
        typo=bool(s.get("typo", True)),
        roles=roles,
        disposable_domains=frozenset(disposable_blocklist) | _lower_set(s.get("disposable_extra")),
        disposable_allow=_lower_set(s.get("disposable_allow")),
        providers=tuple(dict.fromkeys(mailbox_providers() + tuple(_lower_set(s.get("typo_domains"))))),
        trap_domains=_lower_set(s.get("trap_domains")),
        on_unavailable=on_unavailable,
        store=context.services.get("suppression"),
    )
    if s.get("mx_check"):
        state.mx = MxChecker([str(x) for x in s.get("dns_servers") or []], float(s.get("mx_budget_seconds", 2.0)),
                              float(s.get("mx_cache_seconds", 3600)))
    if s.get("fcc_wireless_list"):
        domains, age = load_wireless_list(str(s["fcc_wireless_list"]))  # missing file: refuse to start
        max_age = float(s.get("fcc_max_age_days", 31))
        state.wireless = domains
        state.wireless_note = f"list {age:.0f} days old" + (f", older than {max_age:g}: update it" if age > max_age else "")
        (log.warning if age > max_age else log.info)("FCC wireless-domain list %s: %d domains, %s",
                                                    s["fcc_wireless_list"], len(domains), state.wireless_note)
    if state.store is None:
        log.warning("no suppression store service: recipient.suppressed is not checked")
    elif hasattr(state.store, "prepare"):
        state.store.prepare()
    return state


def _valid(address: str) -> bool:
    try:
        validate_email(address, check_deliverability=False, allow_smtputf8=True, allow_quoted_local=True,
                       allow_domain_literal=True, allow_empty_local=False)
        return True
    except EmailNotValidError:
        return False


# Pure functions of an address or domain, asked again for every message to the same people:
# remembered per process (bounded; thread-safe), so a recipient seen before costs a dict look-up.
SEEN = 4096


@lru_cache(maxsize=SEEN)
def _syntax_problem(address: str) -> str | None:
    """None when the address is valid; else which part is wrong (never the address itself)."""
    if _valid(address):
        return None
    local, at, domain = address.rpartition("@")
    if not at:
        return "no @-sign"
    labels = domain.lower().rstrip(".").split(".")
    special_use = any(".".join(labels[i:]) in SPECIAL_USE_DOMAIN_NAMES for i in range(len(labels)))
    # localhost, *.test, *.local...: not deliverable on the Internet, but not a syntax error
    if not special_use and not _valid(f"postmaster@{domain}"):
        return "domain part invalid"
    if not local or not _valid(f"{local}@example.com"):
        return "local part invalid"
    return None


def _split_domain(domain: str) -> tuple[str, str]:
    """(label left of the public suffix, public suffix): ("gmail", "com"), ("yahoo", "co.uk")."""
    suffix = psl().publicsuffix(domain) or domain.rsplit(".", 1)[-1]
    head = domain[: -len(suffix)].rstrip(".") if domain.endswith(suffix) and domain != suffix else domain
    return head.rsplit(".", 1)[-1], suffix


@lru_cache(maxsize=SEEN)
def typo_suggestion(domain: str, providers: tuple[str, ...] = ()) -> str | None:
    """The provider domain `domain` most likely mistypes, or None."""
    providers = providers or mailbox_providers()
    if domain in providers or registrable(domain) in providers:
        return None
    label, suffix = _split_domain(domain)
    flat = domain.replace(".", "")
    best: tuple[int, str] | None = None
    for p in providers:
        p_label, p_suffix = _split_domain(p)
        if flat == p.replace(".", ""):
            dist = 1  # a dot left out or put in: gmailcom, g.mail.com
        elif label == p_label and suffix != p_suffix:
            # right name, wrong ending: gmail.con, hotmail.co; but never another real ending of
            # the same provider (yahoo.fr is not a typo of yahoo.com)
            dist = edit_distance(suffix, p_suffix, 1)
            if dist > 1 or (psl().is_public(suffix) and len(suffix) >= 2
                            and suffix not in ("co", "cm", "om", "con", "cmo", "ocm", "nte", "ent", "comm", "coom")):
                continue
        elif suffix == p_suffix and len(p_label) >= 5:
            dist = edit_distance(label, p_label, 2)
            if dist > (2 if len(p_label) >= 8 else 1):
                continue
        else:
            continue
        if best is None or dist < best[0]:
            best = (dist, p)
    return best[1] if best else None


def _scopes(message: Message) -> list[str]:
    scopes = ["global"]
    list_id = message.header("List-Id")
    if list_id:
        value = list_id.rsplit("<", 1)[-1].split(">", 1)[0].strip().lower() if "<" in list_id else list_id.strip().lower()
        if value:
            scopes.append(f"list:{value}")
    sender = message.envelope.sender or ""
    if "@" in sender:
        scopes.append(f"domain:{sender.rsplit('@', 1)[1].strip('<> ').lower()}")
    return scopes


def _since(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


def _suppressed_finding(rcpt: str, records: list[Any]) -> Finding:
    rec = max(records, key=lambda r: (r.reason == "complaint", r.reason == "hard_bounce", r.last_event))
    what = REASON_TEXT.get(rec.reason, rec.reason or "suppressed")
    if rec.status:
        what += f" ({rec.status})"
    scope = "all mail" if rec.scope == "global" else rec.scope
    detail = f"{what}; scope {scope}; since {_since(rec.created)}"
    if rec.expires:
        detail += f"; until {_since(rec.expires)}"
    if len(records) > 1:
        detail += f"; {len(records)} records"
    fid = "recipient.trap" if rec.reason == "trap_suspect" else "recipient.suppressed"
    return Finding(fid, confidence=1.0, where=("envelope",), recipient=rcpt, detail=detail)


class RecipientsCheck:
    """Recipient hygiene against the suppression store and the reference lists."""

    emits = ("recipient.suppressed", "recipient.trap", "recipient.invalid", "recipient.role", "recipient.disposable",
             "recipient.typo_domain", "recipient.no_mx", "recipient.wireless_domain", "recipient.store_unavailable",
             "recipient.none_deliverable", "recipient.none_deliverable_bulk")
    settings_schema = SETTINGS_SCHEMA

    def __init__(self) -> None:
        self.state = Settings()

    @hookimpl
    def outguard_startup(self, context: StartupContext) -> None:
        self.state = make_settings(context)

    @hookimpl
    def outguard_shutdown(self) -> None:
        self.state.store = None

    @hookimpl
    def outguard_inspect(self, message: Message, context: InspectContext) -> list[Finding]:
        return inspect(self.state, message, context)


def inspect(state: Settings, message: Message, context: InspectContext) -> list[Finding]:
    recipients = list(dict.fromkeys(message.envelope.recipients))
    if not recipients:
        return []
    findings: list[Finding] = []
    by_rcpt: dict[str, set[str]] = {r: set() for r in recipients}

    def add(f: Finding) -> None:
        findings.append(f)
        if f.recipient is not None:
            by_rcpt[f.recipient].add(f.id)

    keys: dict[str, str] = {}
    deadline = context.deadline
    for n, rcpt in enumerate(recipients):
        if n % 50 == 49:
            stop_if_late(deadline, "recipients")   # typo distances for a thousand recipients add up
        problem = _syntax_problem(rcpt.strip().strip("<>"))
        key = try_normalise(rcpt)
        if problem or key is None:
            add(Finding("recipient.invalid", where=("envelope",), recipient=rcpt,
                        detail=f"address syntax: {problem or 'unusable'}"))
            continue
        keys[rcpt] = key
        local, domain = key.rsplit("@", 1)
        if domain in state.trap_domains or registrable(domain) in state.trap_domains:
            add(Finding("recipient.trap", where=("envelope",), recipient=rcpt, detail="domain listed in trap_domains"))
        if state.role:
            base = local.split("+", 1)[0]
            category = state.roles.get(base)
            if category:
                add(Finding("recipient.role", confidence=0.9 if category in ("rfc2142", "site") else 0.75,
                            where=("envelope",), recipient=rcpt, detail=f"role account ({category})"))
        reg = registrable(domain)
        if state.disposable and not ({domain, reg} & state.disposable_allow) \
                and ({domain, reg} & state.disposable_domains):
            add(Finding("recipient.disposable", confidence=0.95, where=("envelope",), recipient=rcpt,
                        detail="disposable-mail domain"))
        if state.wireless and any(".".join(domain.split(".")[i:]) in state.wireless
                                   for i in range(domain.count(".") + 1)):
            add(Finding("recipient.wireless_domain", confidence=1.0, where=("envelope",), recipient=rcpt,
                        detail=f"domain on the FCC wireless-domain list ({state.wireless_note})"))
        if state.typo:
            suggestion = typo_suggestion(domain, state.providers)
            if suggestion:
                add(Finding("recipient.typo_domain", confidence=0.8, where=("envelope",), recipient=rcpt,
                            detail=f"domain looks like a typo of {suggestion}"))

    if state.mx is not None and keys:
        problems = state.mx.problems([k.rsplit("@", 1)[1] for k in keys.values()
                                       if not k.rsplit("@", 1)[1].startswith("[")], deadline)
        for rcpt, key in keys.items():
            problem = problems.get(key.rsplit("@", 1)[1])
            if problem:
                add(Finding("recipient.no_mx", confidence=0.95, where=("envelope",), recipient=rcpt, detail=problem))

    store = context.services.get("suppression", state.store)
    if keys and store is not None:
        try:
            found = store.lookup(list(dict.fromkeys(keys.values())), _scopes(message))
        except ServiceUnavailable:
            if state.on_unavailable != "finding":
                raise
            findings.append(Finding("recipient.store_unavailable", where=("envelope",),
                                    detail="suppression store unreachable; recipients not checked against it"))
            return findings
        for rcpt, key in keys.items():
            if key in found:
                add(_suppressed_finding(rcpt, found[key]))

    for fid, kinds in (("recipient.none_deliverable", DROP_ALWAYS), ("recipient.none_deliverable_bulk", DROP_BULK)):
        refused = [r for r, ids in by_rcpt.items() if ids & set(kinds)]
        if len(refused) == len(recipients):
            counts: dict[str, int] = {}
            for r in refused:
                for i in sorted(by_rcpt[r] & set(kinds)):
                    counts[i] = counts.get(i, 0) + 1
            detail = f"{len(refused)} of {len(recipients)} recipients refused: " + ", ".join(
                f"{n} {i.split('.', 1)[1]}" for i, n in sorted(counts.items()))
            findings.append(Finding(fid, where=("envelope",), detail=detail))
    return findings
