"""Delivery events and their classification: the effective status and the reason token
(`reasons`) together; the token decides the type through the store's policy."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from outguard.intake.reasons import bounce_reason, gave_up, phrase_reason, status_reason
from outguard.store.policy import Policy

EVENT_TYPES = ("hard", "soft", "policy", "complaint", "unsubscribe", "autoreply", "delivered")
REPORT_KINDS = ("dsn", "arf", "autoreply", "other")

STATUS_RE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
CODE_RE = re.compile(r"(?<!\d)([245]\d\d)(?:[ -]|$)")

# Diagnostic phrasing -> (enhanced status, reason). Checked in order; the first match wins.
# Statuses are the RFC 3463 ones the phrasing means, so the store's policy classifies them.
_PHRASES: list[tuple[str, str, str]] = [
    # policy / reputation: the receiver refuses the sender, not the address
    (r"\bspam\b|blacklist|blocklist|black list|\bblocked\b|reputation|spamhaus|\brbl\b|"
     r"not accepted for policy reasons|not accepting mail from", "5.7.1", "blocked"),
    # message too big (soft: the next message may fit)
    (r"exceeded the maximum (incoming )?message size|message (is )?too (big|large)|message size exceeds",
     "5.3.4", "message too big"),
    (r"mail(ing)? loop|looping|too many hops", "5.4.6", "mail loop"),
    # mailbox full (soft in practice even when the MTA says 5xx)
    (r"(mailbox|mailfolder|mail folder|inbox|mail ?box|folder) (is )?full|full mailbox|quota|disk space|"
     r"mailbox (is )?full|over ?quota|quota exceed|exceeded (the )?(storage|quota)|insufficient (disk|storage)|"
     r"mailbox size limit|disk quota|mail ?box has exceeded|too much mail|storage space", "4.2.2", "mailbox full"),
    # transient / delay warnings
    (r"\bdelayed\b|will (continue|keep) (to )?(try|retry)|will be retried|not yet been delivered|"
     r"still (trying|undelivered)|has not been delivered yet|temporar(y|ily)|try(ing)? again later|"
     r"warning: message|delivery (attempts will continue|is delayed)|could not be delivered for \d+ (hours|days)",
     "4.0.0", "delayed"),
    # host / domain unknown
    (r"host (name )?(not found|unknown)|unknown host|domain (name )?(not found|does not exist)|no such domain|"
     r"unrouteable|unroutable|no mx|name server|dns (error|failure)|host or domain name not found|"
     r"invalid domain|bad destination (system|host)|nonexistent domain|domain .{0,40}is not (valid|accepted)|"
     r"couldn't find any host", "5.1.2", "host unknown"),
    # connection failures
    (r"establish an smtp connection|connection (refused|timed out)|could not connect|unable to connect|"
     r"no route to host|network is unreachable", "4.4.1", "no connection"),
    # mailbox disabled
    # the message, not the address, was refused
    (r"field given|missing (header|field)|invalid header|message content|content rejected|virus", "5.6.0",
     "content rejected"),
    # the receiving system's own trouble
    (r"command died|internal (server )?error|system error|local configuration error|i/o error|"
     r"unable to (create|write)|file create failed", "5.3.0", "system error"),
    # an account that is gone (hard), then one that is disabled for now (soft)
    (r"discontinued|(account|mailbox|address) (has been |was |is )?(closed|deleted|terminated|removed|cancel+ed)|"
     r"no longer (active|in use|valid|available|exists)", "5.1.1", "mailbox gone"),
    (r"(account|mailbox|address) (has been |is )?(disabled|deactivated|inactive|suspended|expired|locked)|"
     r"is not active", "5.2.1", "mailbox disabled"),
    # user unknown
    (r"user unknown|unknown user|no such (user|mailbox|recipient|address|person|account)|"
     r"(user|recipient|mailbox|address|account|addressee)( name)? (is )?(unknown|not (found|known|listed|valid))|"
     r"does not exist|doesn'?t exist|not exist|doesn'?t have an? .{0,30}account|invalid (recipient|address|mailbox|user)|"
     r"unknown (recipient|address|local[- ]part|mailbox|account)|no mailbox|mailbox (unavailable|not available)|"
     r"not a valid (user|mailbox|recipient)|bad (address|recipient)|recipient rejected|unknown or illegal alias|"
     r"addressee unknown|unknown alias|undeliverable address|no account|not listed in|"
     r"not our customer|wrong|bad destination mailbox|invalid .{0,20}userid|invalid final delivery|did not (exactly )?match|"
     r"no matches|not recogni[sz]ed|"
     r"(account|mailbox) (has been |is )?closed|is not a known user|no such local user|unrecognized address|"
     r"invalid (e-?mail )?address|"
     r"address rejected",
     "5.1.1", "user unknown"),
]
_PHRASE_RES = [(re.compile(p, re.I), s, r) for p, s, r in _PHRASES]

REASON_OF_STATUS = {
    "1.1": "user unknown", "1.0": "bad address", "1.2": "host unknown", "1.3": "bad address", "1.6": "user moved",
    "1.10": "null MX", "2.1": "mailbox disabled", "2.2": "mailbox full", "2.3": "message too big",
    "2.0": "mailbox problem", "3.0": "system error", "3.1": "system full", "3.4": "message too big",
    "4.0": "network problem", "4.1": "no connection", "4.2": "connection dropped", "4.3": "routing error",
    "4.4": "host unknown", "4.6": "mail loop", "4.7": "expired", "5.0": "protocol error", "6.0": "content rejected",
    "7.0": "blocked", "7.1": "blocked", "7.26": "authentication failed",
}


# A readable reason for a token, when the status gives none ("5.7.17" that says "no mailbox").
READABLE_CAUSE = {"userunknown": "user unknown", "hostunknown": "host unknown", "notaccept": "null MX",
                  "hasmoved": "user moved", "mailboxfull": "mailbox full", "suspend": "mailbox disabled",
                  "networkerror": "network problem", "systemerror": "system error", "systemfull": "system full",
                  "ratelimited": "rate limited", "toomanyconn": "too many connections", "exceedlimit": "recipient limit",
                  "mailererror": "mailer error"}


def text_status(text: str | None) -> tuple[str, str] | None:
    """The (status, reason) the phrasing of a diagnostic means, if any."""
    if not text:
        return None
    for rx, status, reason in _PHRASE_RES:
        if rx.search(text):
            return status, reason
    return None


_TEXT_STATUS_RE = re.compile(r"(?<![\d.])([45])\.(\d{1,3})\.(\d{1,3})(?![\d.])")


def find_status(text: str | None) -> str | None:
    """The first enhanced status (4.x.x or 5.x.x) in free text."""
    m = _TEXT_STATUS_RE.search(text or "")
    return ".".join(m.groups()) if m else None


def find_code(text: str | None) -> str | None:
    m = CODE_RE.search(text or "")
    return m.group(1) if m else None


def _generic(status: str) -> bool:
    """x.0.0, or x.y.0 outside the policy subject: an MTA's catch-all that the text can refine."""
    _, subject, detail = status.split(".")
    return detail == "0" and subject != "7"


# Reasons a "gave up" text does not override: the receiver's verdict on the message itself.
POLICY_FIRST = ("spamdetected", "virusdetected", "blocked", "mesgtoobig", "policyviolation", "securityerror")


class Verdict(NamedTuple):
    """What one failure means: the store type, the effective status, a readable reason and
    the taxonomy token (`reasons.REASONS`) that decides the type."""

    kind: str
    status: str | None
    reason: str
    cause: str


def assess(status: str | None, code: str | None, diagnostic: str | None, policy: Policy | None = None,
           final: bool = True) -> Verdict:
    """The status code and the phrasing together. The effective status: a missing or generic
    one (x.0.0, 5.3.0 "addressee unknown") is made precise by the diagnostic's own enhanced
    code, then by its phrasing. The type follows the reason token (`reasons.bounce_reason`)
    through the policy: a 5xx about the message or the sender is `policy`, never `hard`.
    `final` False (a DSN's Action: delayed, a "will retry" warning) is never hard."""
    policy = policy or Policy()
    diag = diagnostic or ""
    m = STATUS_RE.match((status or "").strip())  # "4.4.1 (Persistent transient failure ...)": its code
    status = m.group(0) if m else None
    inner = find_status(diag)
    if (not status or _generic(status)) and inner and (not status or inner[0] == status[0]):
        if not status or not _generic(inner) or inner.split(".")[1] != "0":
            status = inner
    reported = status
    phrase = text_status(diag)
    cls = status[0] if status else ("4" if (code or "").startswith("4") or not final else "5")
    if phrase and (status is None or _generic(status)):
        p_status = phrase[0]
        if p_status[0] == "4" or cls == "5":
            status = p_status
        if cls == "4" and status and status[0] == "5":
            status = "4" + status[1:]
    if not final:
        status = "4" + (status or "4.0.0")[1:]
    cause = bounce_reason(reported, code, diag)
    if cause == "undefined" and reported is None and status is not None and phrase:
        cause = status_reason(status) or cause
    if cause == "expired" and not final:  # a delay has not expired yet: why it is delayed
        cause = phrase_reason(diag, skip=("expired",)) or status_reason(reported) or "undefined"
    elif final and (reported or "").startswith("4") and cause not in POLICY_FIRST and gave_up(diag):
        cause = "expired"  # retried on a temporary failure until it gave up, whatever the failure was
    temporary = not final or (status or "").startswith("4") or (not status and (code or "").startswith("4"))
    kind = policy.classify_bounce(status, code, diag, cause, temporary=temporary)
    if status is None:
        reason = "blocked" if kind == "policy" else "failed"
    else:
        sub = status.split(".", 1)[1]
        if phrase and (phrase[0].split(".", 1)[1] == sub or _generic(status)):
            reason = phrase[1]
        else:
            reason = REASON_OF_STATUS.get(sub, "delayed" if not final else "failed")
    if kind == "policy":
        reason = "spam detected" if re.search(r"\bspam\b", diag, re.I) else "blocked"
    elif reason == "failed":  # the status said nothing readable: the token does
        reason = READABLE_CAUSE.get(cause, reason)
    return Verdict(kind, status, reason, cause)


def classify(status: str | None, code: str | None, diagnostic: str | None, policy: Policy | None = None,
             final: bool = True) -> tuple[str, str | None, str]:
    """(type hard|soft|policy, effective status, readable reason): `assess` without the token."""
    v = assess(status, code, diagnostic, policy, final)
    return v.kind, v.status, v.reason


@dataclass
class DeliveryEvent:
    """One thing a report says about one recipient."""

    recipient: str
    type: str
    status: str | None = None
    code: str | None = None
    reason: str | None = None
    remote_mta: str | None = None
    diagnostic: str | None = None
    feedback_type: str | None = None
    original_message_id: str | None = None
    original_sender: str | None = None
    at: int | None = None  # when it happened (the log line's time); None: now
    cause: str | None = None  # the reason token (reasons.REASONS): userunknown, spamdetected, feedback, ...

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "at"}


@dataclass
class Report:
    """What one message says: its kind and its events (none for auto-replies and others)."""

    kind: str = "other"
    events: list[DeliveryEvent] = field(default_factory=list)
    original_message_id: str | None = None
    original_sender: str | None = None
    problems: list[str] = field(default_factory=list)
    detail: str | None = None  # which recogniser (dsn, qmail, ...)
