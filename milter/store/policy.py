"""When an event suppresses an address: the policy, and the fold that derives a record
from the events of one (address, scope).

The same `fold` serves the incremental update made with each new event and the full
`rebuild()` from the event log, so a record is always what its events say under the
policy in force.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any

DAY = 86400

# What can happen to an address. `bounce` carries a status code and is classified by the
# policy into hard / soft / policy rejection; the others say what they are.
EVENT_KINDS = ("bounce", "delivered", "complaint", "unsubscribe", "manual", "invalid", "trap", "remove")

# Why an address is suppressed (a record's `reason`).
HARD_BOUNCE = "hard_bounce"
SOFT_BOUNCE = "soft_bounce_threshold"
COMPLAINT = "complaint"
UNSUBSCRIBE = "unsubscribe"
MANUAL = "manual"
INVALID = "invalid"
TRAP = "trap_suspect"
REASONS = (HARD_BOUNCE, SOFT_BOUNCE, COMPLAINT, UNSUBSCRIBE, MANUAL, INVALID, TRAP)
REASON_OF_KIND = {"complaint": COMPLAINT, "unsubscribe": UNSUBSCRIBE, "manual": MANUAL, "invalid": INVALID,
                  "trap": TRAP}
# A stronger reason is never replaced by a weaker one while it is in force.
STRENGTH = {SOFT_BOUNCE: 1, MANUAL: 2, UNSUBSCRIBE: 3, INVALID: 3, HARD_BOUNCE: 4, TRAP: 4, COMPLAINT: 5}
# Reasons only an administrator lifts (`suppress remove --force`); no event lifts them.
ADMIN_ONLY = (COMPLAINT,)

BOUNCE_HARD, BOUNCE_SOFT, BOUNCE_POLICY = "hard", "soft", "policy"

# What each bounce reason token (intake.reasons) does. The address is gone: suppress at once
# (only a permanent failure; a 4xx "user unknown" is counted). The receiver refused the
# message or the sender: never suppress, the sender has something to fix. Every other token
# (mailboxfull, systemerror, ratelimited, ...) is soft: counted up to the threshold. The
# token `undefined` (nothing telling) leaves the decision to the status code, as before.
DEFAULT_HARD_REASONS = ("userunknown", "hostunknown", "notaccept", "hasmoved")
DEFAULT_POLICY_REASONS = ("filtered", "blocked", "spamdetected", "policyviolation", "securityerror", "expired",
                          "mesgtoobig", "contenterror", "virusdetected", "rejected", "norelaying", "syntaxerror",
                          "onhold")
UNDEFINED_REASON = "undefined"

DEFAULT_POLICY_KEYWORDS = ("blocked", "blacklist", "blocklist", "spam", "reputation", "policy", "denied by",
                           "rejected due to", "spamhaus", "not accepted for policy reasons")


@dataclass(frozen=True)
class Policy:
    """Defaults follow the big senders' practice (see README)."""

    hard_bounce_status: tuple[str, ...] = ("5.1.*",)
    policy_status: tuple[str, ...] = ("5.7.*",)
    policy_keywords: tuple[str, ...] = DEFAULT_POLICY_KEYWORDS
    hard_reasons: tuple[str, ...] = DEFAULT_HARD_REASONS
    policy_reasons: tuple[str, ...] = DEFAULT_POLICY_REASONS
    soft_bounce_threshold: int = 5
    soft_bounce_window_days: int = 14
    soft_bounce_expiry_days: int = 30

    @classmethod
    def from_config(cls, cfg: dict[str, Any] | None) -> Policy:
        cfg = dict(cfg or {})
        base = cls()
        kw: dict[str, Any] = {}
        for key in ("hard_bounce_status", "policy_status", "policy_keywords", "hard_reasons", "policy_reasons"):
            if key in cfg:
                kw[key] = tuple(str(v).lower() for v in cfg[key])
        for key in ("soft_bounce_threshold", "soft_bounce_window_days", "soft_bounce_expiry_days"):
            if key in cfg:
                kw[key] = int(cfg[key])
        return replace(base, **kw)

    def classify_bounce(self, status: str | None, smtp_code: str | None, diagnostic: str | None,
                        reason: str | None = None, temporary: bool | None = None) -> str:
        """hard, soft, or policy (a rejection of the sender, never of the recipient). A bounce
        reason token decides when there is one: receivers answer 5.1.x for spam too, so the
        status alone cannot. `temporary` (default: a 4.x.x status or 4xx code) is never hard."""
        status = (status or "").strip()
        if reason and reason != UNDEFINED_REASON:
            if temporary is None:
                temporary = status.startswith("4") or (not status and (smtp_code or "").startswith("4"))
            if reason in self.policy_reasons:
                return BOUNCE_POLICY
            if reason in self.hard_reasons and not temporary:
                return BOUNCE_HARD
            return BOUNCE_SOFT
        diag = (diagnostic or "").lower()
        if not status:
            # No enhanced status: an ESP's bounce export (its permanent failures) or a bare
            # SMTP reply. 4xx is soft; otherwise permanent unless it reads like a block.
            if (smtp_code or "").startswith("4"):
                return BOUNCE_SOFT
            return BOUNCE_POLICY if any(k in diag for k in self.policy_keywords) else BOUNCE_HARD
        if any(fnmatchcase(status, g) for g in self.policy_status):
            return BOUNCE_POLICY
        if status.startswith("5") and any(k in diag for k in self.policy_keywords):
            return BOUNCE_POLICY
        if any(fnmatchcase(status, g) for g in self.hard_bounce_status):
            return BOUNCE_HARD
        return BOUNCE_SOFT


@dataclass(frozen=True)
class Event:
    """One thing that happened to one address (normalised) in one scope."""

    address: str
    kind: str
    at: int
    scope: str = "global"
    source: str = "manual"
    status: str | None = None
    smtp_code: str | None = None
    diagnostic: str | None = None
    remote_mta: str | None = None
    feedback_type: str | None = None
    reason: str | None = None  # a bounce's reason token (intake.reasons): userunknown, mailboxfull, ...
    expires: int | None = None
    actor: str | None = None
    note: str | None = None
    id: int = 0


@dataclass(frozen=True)
class Record:
    """The derived state of one (address, scope)."""

    address: str
    scope: str
    active: bool = False
    reason: str | None = None
    source: str | None = None
    status: str | None = None
    smtp_code: str | None = None
    diagnostic: str | None = None
    remote_mta: str | None = None
    feedback_type: str | None = None
    created: int = 0
    last_event: int = 0
    count: int = 0
    expires: int | None = None
    soft_days: tuple[int, ...] = field(default=())
    last_event_id: int = 0

    def in_force(self, now: int) -> bool:
        return self.active and (self.expires is None or self.expires > now)

    def as_row(self) -> dict[str, Any]:
        row = {k: getattr(self, k) for k in ("address", "scope", "active", "reason", "source", "status", "smtp_code",
                                             "diagnostic", "remote_mta", "feedback_type", "created", "last_event",
                                             "count", "expires", "last_event_id")}
        row["soft_days"] = ",".join(str(d) for d in self.soft_days) or None
        return row

    @classmethod
    def from_row(cls, row: Any) -> Record:
        m = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
        days = tuple(int(d) for d in (m.pop("soft_days", None) or "").split(",") if d)
        return cls(soft_days=days, **{k: v for k, v in m.items() if k in cls.__dataclass_fields__})


def bounce_reason_of(event: Event) -> str | None:
    """A bounce event's reason token: its `reason`, or for a bounce written before schema v3
    (or by a relay not yet upgraded) `feedback_type`, where the token rode until then. One
    place, so a live bounce, `rebuild()` and `suppress show` read old and new rows alike."""
    if event.kind != "bounce":
        return None
    return event.reason or event.feedback_type


_STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")


def valid_status(status: str | None) -> bool:
    return status is None or bool(_STATUS.match(status))


def fold(record: Record | None, event: Event, policy: Policy) -> Record:
    """The record after `event`. Pure: no I/O, no clock."""
    rec = record or Record(event.address, event.scope, created=event.at)
    rec = replace(rec, count=rec.count + 1, last_event=max(rec.last_event, event.at), last_event_id=event.id)
    evidence: dict[str, Any] = dict(source=event.source, status=event.status, smtp_code=event.smtp_code,
                                    diagnostic=event.diagnostic, remote_mta=event.remote_mta,
                                    feedback_type=event.feedback_type)
    in_force = rec.in_force(event.at)

    def suppress(reason: str, expires: int | None) -> Record:
        if in_force and rec.reason and STRENGTH.get(rec.reason, 0) > STRENGTH[reason]:
            return rec  # a stronger reason stays; the event still counts
        return replace(rec, active=True, reason=reason, expires=expires, **evidence)

    if event.kind == "bounce":
        kind = policy.classify_bounce(event.status, event.smtp_code, event.diagnostic, bounce_reason_of(event))
        if kind == BOUNCE_HARD:
            return suppress(HARD_BOUNCE, None)
        if kind == BOUNCE_POLICY:
            return rec  # the receiver refused the sender, not the address: never suppress
        day = event.at // DAY
        window_start = day - policy.soft_bounce_window_days + 1
        days = tuple(d for d in rec.soft_days if d >= window_start)
        if day not in days:
            days = tuple(sorted(days + (day,)))[-policy.soft_bounce_threshold:]
        rec = replace(rec, soft_days=days)
        if len(days) >= policy.soft_bounce_threshold:
            return suppress(SOFT_BOUNCE, event.at + policy.soft_bounce_expiry_days * DAY)
        return rec
    if event.kind == "delivered":
        rec = replace(rec, soft_days=())
        if rec.reason == SOFT_BOUNCE:
            rec = replace(rec, active=False, reason=None, expires=None)
        return rec
    if event.kind == "remove":
        return replace(rec, active=False, reason=None, expires=None, soft_days=(), **evidence)
    if event.kind in REASON_OF_KIND:
        return suppress(REASON_OF_KIND[event.kind], event.expires)
    raise ValueError(f"unknown event kind {event.kind!r}")
