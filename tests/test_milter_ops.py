"""Decision -> milter operations, checked against a recording stand-in for pymilter's context."""

from __future__ import annotations

from pathlib import Path

from outguard.core.config import load_config
from outguard.core.decision import Decision, Match, Reply
from outguard.core.headers import HeaderNames
from outguard.core.verdict import Verdict
from outguard.daemon.ops import apply_decision


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def addheader(self, field, value, idx=-1):
        self.calls.append(("addheader", field, value))

    def chgheader(self, field, idx, value):
        self.calls.append(("chgheader", field, idx, value))

    def addrcpt(self, rcpt, params=None):
        self.calls.append(("addrcpt", rcpt))

    def delrcpt(self, rcpt):
        self.calls.append(("delrcpt", rcpt))

    def quarantine(self, reason):
        self.calls.append(("quarantine", reason))

    def setreply(self, rcode, xcode=None, msg=None):
        self.calls.append(("setreply", rcode, xcode, msg))


NAMES = HeaderNames.from_config(load_config(Path("/dev/null")).headers)
HEADERS = [("Received", "from x"), ("X-Outguard-Route", "tls-required"), ("Subject", "Lab results"),
           ("x-outguard-verdict", "deliver"), ("X-Outguard-Route", "encryption-gateway")]
RCPTS = ["<Ann@Example.net>", "<bob@example.net>"]


def apply(decision: Decision) -> tuple[str, list[tuple]]:
    ops = Recorder()
    return apply_decision(ops, decision, NAMES, HEADERS, RCPTS), ops.calls


def test_encrypt_quarantine_tags_recipients_and_lookalike_stripping() -> None:
    decision = Decision(verdict="quarantine", matches=[Match("enc", Verdict.ENCRYPT, False),
                                                   Match("hold", Verdict.QUARANTINE, False)],
                    route="tls-required", quarantine_reason="bulk export", add_headers=(("X-PHI", "phi.mrn"),),
                    subject_prefix="[secure]",
                drop_recipients=("ann@example.net",), notify=("audit@example.org",))
    verdict, calls = apply(decision)
    assert verdict == "quarantine"
    assert calls == [
        ("chgheader", "X-Outguard-Route", 2, None),   # the sender's own, last first
        ("chgheader", "x-outguard-verdict", 1, None),
        ("chgheader", "X-Outguard-Route", 1, None),
        ("addheader", "X-Outguard-Verdict", "quarantine; rules=enc,hold"),
        ("addheader", "X-Outguard-Route", "tls-required"),
        ("addheader", "X-PHI", "phi.mrn"),
        ("chgheader", "Subject", 1, "[secure] Lab results"),
        ("delrcpt", "<Ann@Example.net>"),              # exactly as RCPT TO gave it
        ("addrcpt", "<audit@example.org>"),
        ("addheader", "X-Outguard-Quarantine", "bulk export"),
        ("quarantine", "bulk export"),
    ]


def test_reject_only_sets_the_reply_and_escapes_percent() -> None:
    verdict, calls = apply(Decision(verdict="reject", reply=Reply("554", "5.7.1", "100% not allowed\r\nX-Injected: 1"),
                                add_headers=(("X-A", "b"),)))
    assert verdict == "reject"
    assert calls == [("setreply", "554", "5.7.1", "100%% not allowed X-Injected: 1")]


def test_deliver_still_carries_the_verdict_header_and_monitor_notes() -> None:
    verdict, calls = apply(Decision(verdict="deliver", monitored=(("watch", "discard"),)))
    assert verdict == "deliver"
    assert ("addheader", "X-Outguard-Verdict", "deliver; rules=none") in calls
    assert ("addheader", "X-Outguard-Monitor", "watch=discard") in calls


def test_discard_does_nothing_else() -> None:
    assert apply(Decision(verdict="discard", add_headers=(("X-A", "b"),))) == ("discard", [])
