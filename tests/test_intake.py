"""Bounce and complaint parsers (`outguard.intake`): DSN, ARF, non-standard bounces,
auto-replies, Postfix log lines, and what the intake does with bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from outguard.intake import classify, parse_message
from outguard.intake.ingest import Ingestor, report_key
from outguard.intake.postfix_log import FileFollower, parse_line
from outguard.store import SuppressionStore, resolve

DATA = Path(__file__).parent / "data" / "intake"


def parse(name: str):
    return parse_message((DATA / name).read_bytes())


def by_rcpt(report) -> dict[str, tuple[str, str | None, str | None]]:
    return {e.recipient.lower(): (e.type, e.status, e.reason) for e in report.events}


def test_dsn_per_recipient_blocks() -> None:
    r = parse("dsn_multi.eml")
    assert r.kind == "dsn" and r.original_message_id == "<news-1@sender.example>"
    assert r.original_sender == "news@sender.example"
    assert by_rcpt(r) == {
        "gone@partner.example": ("hard", "5.1.1", "user unknown"),
        "full@partner.example": ("soft", "5.2.2", "mailbox full"),
        "later@partner.example": ("soft", "4.4.1", "no connection"),
        "refused@partner.example": ("policy", "5.7.1", "spam detected"),
        # a generic 5.0.0 is made precise by the diagnostic's phrasing
        "vague@partner.example": ("hard", "5.1.1", "user unknown"),
    }
    gone = next(e for e in r.events if e.recipient.lower() == "gone@partner.example")
    assert gone.recipient == "Gone@Partner.Example"  # Original-Recipient: the address we sent to
    assert gone.code == "550" and gone.remote_mta == "mx.partner.example"


def test_arf_complaint_and_opt_out() -> None:
    r = parse("arf_abuse.eml")
    assert r.kind == "arf"
    assert [(e.recipient, e.type, e.feedback_type) for e in r.events] == [("angry@isp.example", "complaint", "abuse")]
    assert r.original_message_id == "<offer-1@sender.example>"
    r = parse("arf_redacted.eml")  # Original-Rcpt-To redacted: the original's single To: names the reader
    assert [(e.recipient, e.type) for e in r.events] == [("reader@isp.example", "unsubscribe")]


def test_autoreply_is_ignored() -> None:
    r = parse("vacation.eml")
    assert r.kind == "autoreply" and r.events == []


def test_qmail_and_original_fallback() -> None:
    r = parse("qmail.eml")
    assert by_rcpt(r) == {"nobody@partner.example": ("hard", "5.1.1", "user unknown"),
                          "stuffed@partner.example": ("soft", "5.2.2", "mailbox full")}
    r = parse("original_only.eml")  # the text names nobody: the returned original's To: does
    assert by_rcpt(r) == {"missing@partner.example": ("hard", "5.1.1", "user unknown")}


@pytest.mark.parametrize(("status", "code", "diag", "final", "want"), [
    ("5.1.1", "550", "", True, ("hard", "5.1.1")),
    ("5.7.1", "550", "access denied", True, ("policy", "5.7.1")),  # 5.7.x: the receiver's policy
    ("5.7.1", "550", "user unknown", True, ("hard", "5.7.1")),  # ... unless the address is stated dead
    ("5.0.0", "550", "mailbox full", True, ("soft", "4.2.2")),
    (None, "550", "Recipient address rejected: user unknown", True, ("hard", "5.1.1")),
    (None, "554", "blocked using Spamhaus", True, ("policy", "5.7.1")),
    ("5.1.1", "550", "", False, ("soft", "4.1.1")),  # a delay is never hard
    (None, None, "", True, ("hard", None)),  # final, nothing telling: permanent by the store's policy
])
def test_classification(status, code, diag, final, want) -> None:
    kind, eff, _ = classify(status, code, diag, final=final)
    assert (kind, eff) == want


def test_malformed_and_huge_reports_never_crash() -> None:
    for raw in (b"", b"\x00\xff garbage", b"Content-Type: multipart/report; report-type=delivery-status\n\n--x",
                b"From: MAILER-DAEMON@x.example\nSubject: failure notice\n\nno address here at all\n",
                (DATA / "dsn_multi.eml").read_bytes()[:700]):
        r = parse_message(raw)
        assert r.kind in ("dsn", "arf", "autoreply", "other")
        assert all("@" in e.recipient for e in r.events)
    # a big returned attachment: only the start is read, the report part comes first
    big = (DATA / "dsn_multi.eml").read_bytes().replace(b"--B1--", b"--B1\nContent-Type: application/octet-stream\n"
                                                         b"Content-Transfer-Encoding: base64\n\n"
                                                         + b"QUFB" * 19 + b"\n" * 0 + (b"QUFBQUFB\n" * 400_000)
                                                         + b"--B1--")
    r = parse_message(big, max_bytes=1 << 20)
    assert any("only the first" in p for p in r.problems)
    assert "gone@partner.example" in by_rcpt(r)


def test_non_bounce_names_nobody() -> None:
    raw = b"From: friend@partner.example\nTo: news@sender.example\nSubject: lunch?\n\nuser unknown@partner.example no\n"
    r = parse_message(raw)
    assert r.kind == "other" and r.events == []


# -- into the store ---------------------------------------------------------------------------

@pytest.fixture
def store(tmp_path: Path):
    s = SuppressionStore(resolve(str(tmp_path / "s.sqlite3")), create=True)
    yield s
    s.close()


def test_ingest_through_policy_and_idempotent(store: SuppressionStore) -> None:
    raw = (DATA / "dsn_multi.eml").read_bytes()
    ing = Ingestor(store)
    first = ing.ingest(parse_message(raw), report_key(raw))
    assert first.summary()["newly_suppressed"] == 2
    recs = {r.address: r for r in store.records()}
    assert set(recs) == {"gone@partner.example", "vague@partner.example"}
    assert recs["gone@partner.example"].source == "dsn" and recs["gone@partner.example"].status == "5.1.1"
    events_before = sum(len(store.history(a)) for a in ("gone@partner.example", "full@partner.example",
                                                        "refused@partner.example"))
    again = ing.ingest(parse_message(raw), report_key(raw))
    assert again.changes == [] and again.duplicates == 5
    assert sum(len(store.history(a)) for a in ("gone@partner.example", "full@partner.example",
                                               "refused@partner.example")) == events_before
    full = store.get("full@partner.example")[0]
    assert not full.active and len(full.soft_days) == 1  # counted, not suppressed
    assert not store.get("refused@partner.example")[0].active  # policy rejection never suppresses


def test_complaint_and_not_ours(store: SuppressionStore) -> None:
    raw = (DATA / "arf_abuse.eml").read_bytes()
    Ingestor(store).ingest(parse_message(raw), report_key(raw))
    assert store.get("angry@isp.example")[0].reason == "complaint"
    raw = (DATA / "not_ours.eml").read_bytes()
    out = Ingestor(store, sender_domains=["sender.example"]).ingest(parse_message(raw), report_key(raw))
    assert out.changes == [] and out.skipped
    assert store.get("victim@partner.example") == []


def test_dry_run_changes_nothing(store: SuppressionStore) -> None:
    raw = (DATA / "dsn_multi.eml").read_bytes()
    out = Ingestor(store, dry_run=True).ingest(parse_message(raw), report_key(raw))
    assert out.summary()["newly_suppressed"] == 2
    assert list(store.records(in_force_only=False)) == []


# -- Postfix's log ----------------------------------------------------------------------------

BOUNCED = ("Nov 27 10:00:00 mx postfix/smtp[123]: 4AbC12: to=<gone@partner.example>, relay=mx.partner.example"
           "[192.0.2.9]:25, delay=0.2, delays=0.1/0/0.1/0, dsn=5.1.1, status=bounced (host mx.partner.example"
           "[192.0.2.9] said: 550 5.1.1 <gone@partner.example>: User unknown (in reply to RCPT TO command))")
DEFERRED = ("2026-11-27T10:00:00.123456+00:00 mx postfix/smtp[124]: 4AbC13: to=<busy@partner.example>, "
            "relay=mx.partner.example[192.0.2.9]:25, delay=1, delays=0/0/0/1, dsn=4.2.2, status=deferred "
            "(host mx.partner.example[192.0.2.9] said: 452 4.2.2 Mailbox full (in reply to RCPT TO command))")
SENT = ("Nov 27 10:05:00 mx postfix/smtp[125]: 4AbC14: to=<busy@partner.example>, relay=mx.partner.example"
        "[192.0.2.9]:25, delay=0.3, delays=0/0/0/0.3, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 99)")


def test_log_lines() -> None:
    b = parse_line(BOUNCED)
    assert b is not None and b.queue_id == "4AbC12"
    assert (b.event.recipient, b.event.type, b.event.status, b.event.code) == ("gone@partner.example", "hard",
                                                                                "5.1.1", "550")
    d = parse_line(DEFERRED)
    assert d is not None and (d.event.type, d.event.status, d.event.at) == ("soft", "4.2.2", 1795773600)
    s = parse_line(SENT)
    assert s is not None and s.event.type == "delivered"
    assert parse_line("Nov 27 10:00:00 mx postfix/qmgr[1]: 4AbC12: removed") is None
    assert parse_line("Nov 27 10:00:00 mx postfix/smtpd[1]: connect from x[192.0.2.1]") is None


def test_sent_resets_soft_count(store: SuppressionStore) -> None:
    ing = Ingestor(store)
    for line in (DEFERRED, SENT):
        ev = parse_line(line)
        assert ev is not None
        ing.ingest(type("R", (), {"events": [ev.event], "original_sender": None, "kind": "log"})(),  # type: ignore
                   report_key(line.encode()), source="postfix-log")
    rec = store.get("busy@partner.example")[0]
    assert rec.soft_days == () and not rec.active


def test_file_follower_resumes_and_survives_rotation(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    state = tmp_path / "state.json"
    log.write_text("one\ntwo\npart")
    f = FileFollower(log, state, from_start=True)
    assert list(f.read_available()) == ["one", "two"]
    f.save()
    with log.open("a") as fh:
        fh.write("ial\nthree\n")
    f2 = FileFollower(log, state)  # a restart resumes where it stopped
    assert list(f2.read_available()) == ["partial", "three"]
    with log.open("a") as fh:
        fh.write("four\n")
    log.rename(tmp_path / "mail.log.1")
    log.write_text("five\n")
    assert list(f2.read_available()) == ["four", "five"]
    f2.save()
    assert json.loads(state.read_text())["offset"] == len("five\n")
