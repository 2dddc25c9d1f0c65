"""Bounce reasons (`intake.reasons`) and complaint types on small messages written here: the
token and the class each failure gets, that a policy/content 5xx never suppresses, and
the labelled corpora (skipped when ../shared is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from label_sources import SOURCES
from test_intake import store  # noqa: F401  (the store fixture)

from helpers import CORPORA, dsn, eml
from outguard.intake import parse_message
from outguard.intake.ingest import Ingestor, report_key
from outguard.intake.postfix_log import parse_line
from outguard.intake.reasons import FITTED_TO, ORDER, PHRASES, REASONS, STRONG_ADDRESS, VENDOR_PHRASES, bounce_reason, use_tables
from outguard.store import SuppressionStore
from outguard.store.policy import DEFAULT_POLICY_REASONS


def one(raw: bytes) -> tuple[str, str | None]:
    events = parse_message(raw).events
    assert len(events) == 1, events
    return events[0].type, events[0].cause


@pytest.mark.parametrize(("status", "diag", "want"), [
    ("5.1.1", "550 5.1.1 <reader@partner.example>: Recipient address rejected: User unknown in virtual mailbox table",
     ("hard", "userunknown")),
    ("5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
     ("hard", "userunknown")),
    ("5.0.0", "User reader (reader@partner.example) not listed in Domino Directory", ("hard", "userunknown")),
    ("5.1.2", "Host or domain name not found. Name service error for name=partner.example", ("hard", "hostunknown")),
    ("5.2.2", "552 5.2.2 mailbox full", ("soft", "mailboxfull")),
    ("5.7.1", "550-5.7.1 [192.0.2.1] Our system has detected that this message is likely unsolicited mail. "
              "To reduce the amount of spam sent to Gmail, this message has been blocked.", ("policy", "spamdetected")),
    ("5.7.708", "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.",
     ("policy", "blocked")),
    ("5.7.1", "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
     ("policy", "blocked")),
    # the issue: a 5.1.x about the message, not the address
    ("5.1.1", "550 5.1.1 Message rejected as spam by Content Filtering", ("policy", "spamdetected")),
    ("5.0.0", "552 Message size exceeds fixed maximum message size", ("policy", "mesgtoobig")),
    ("5.7.26", "550 5.7.26 This message does not pass authentication checks (SPF and DKIM both do not pass)",
     ("policy", "securityerror")),
    ("5.7.1", "554 5.7.1 <reader@partner.example>: Relay access denied", ("policy", "norelaying")),
    ("4.4.7", "Delivery time expired", ("policy", "expired")),
    ("5.0.0", "421 4.7.0 Try again later, closing connection. (ratelimit) Our system has detected an unusual rate "
              "of unsolicited mail", ("policy", "spamdetected")),
    ("5.2.1", "550 5.2.1 The email account that you tried to reach is disabled.", ("soft", "suspend")),
    (None, "550 Requested action not taken: mailbox unavailable", ("hard", "userunknown")),
])
def test_reason_and_class(status: str | None, diag: str, want: tuple[str, str]) -> None:
    assert one(dsn(status, diag)) == want


def test_a_delay_is_soft_and_never_expired() -> None:
    raw = dsn("4.4.1", "Persistent transient failure: no answer from host; message delayed for 12 hours",
              action="delayed")
    assert one(raw) == ("soft", "networkerror")
    assert one(dsn("5.1.1", "550 5.1.1 User unknown", action="delayed")) == ("soft", "userunknown")


def test_status_field_with_its_comment() -> None:
    assert one(dsn("4.4.1 (Persistent transient failure - routing/network: no answer from host)", "",
                   action="delayed")) == ("soft", "networkerror")


def test_reason_function_keeps_5_7_as_policy_unless_the_address_is_stated_dead() -> None:
    # 5.7.x is the receiver's policy, unless the text says outright that the address does
    # not exist and nothing about the sender (Gmail's old "550 5.7.1 No such user")
    assert bounce_reason("5.7.1", "550", "550 5.7.1 No such user c18si2365148hub") == "userunknown"
    assert bounce_reason("5.7.1", "554", "Recipient address rejected: Nonexistent user") == "userunknown"
    assert bounce_reason("5.7.1", "550", "user unknown; blocked using zen.spamhaus.org") == "blocked"
    assert bounce_reason("5.7.1", "554", "<reader@partner.example>: Recipient address rejected: Access denied") \
        != "userunknown"
    assert bounce_reason("5.7.1", "550", "Requested action not taken: mailbox unavailable") == "blocked"
    assert bounce_reason(None, "550", "Recipient address rejected: user unknown") == "userunknown"
    assert bounce_reason(None, "451", "") == "undefined"
    qmail = parse_message(dsn("5.0.0", "550 sorry, no mailbox here by that name. (#5.7.17)")).events[0]
    assert (qmail.type, qmail.status, qmail.cause, qmail.reason) == ("hard", "5.7.17", "userunknown", "user unknown")


def test_a_precise_status_beats_smtp_boilerplate() -> None:
    # "mailbox unavailable" is RFC 5321's default 550 text; 5.2.1 says the mailbox is disabled
    assert bounce_reason("5.2.1", "550", "550 5.2.1 Mailbox not available") == "suspend"
    assert bounce_reason(None, "550", "550 Requested action not taken: mailbox unavailable") == "userunknown"


# The vendors' documented texts (reasons.VENDOR_PHRASES), written here, not from a corpus.
@pytest.mark.parametrize(("status", "diag", "want"), [
    ("5.2.1", "550-5.2.1 The email account that you tried to reach is inactive.", ("soft", "suspend")),
    ("5.1.1", "550-5.1.1 The email account that you tried to reach does not exist.", ("hard", "userunknown")),
    ("5.5.0", "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)", ("hard", "userunknown")),
    ("5.7.1", "550 5.7.1 Delivery not authorized, message refused", ("policy", "filtered")),
    ("5.4.14", "554 5.4.14 Hop count exceeded - possible mail loop ATTR34", ("soft", "networkerror")),
    (None, "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to user complaints",
     ("policy", "blocked")),
    (None, "554 (RTR:BL) http://postmaster.info.aol.com/errors/554rtrbl.html", ("policy", "blocked")),
    (None, "550 SC-001 (BAY0-MC1-F21) Unfortunately, messages from 192.0.2.1 weren't sent.", ("policy", "blocked")),
    ("5.4.5", "550-5.4.5 Daily user sending quota exceeded.", ("soft", "ratelimited")),
    ("5.3.4", "552-5.3.4 Your message exceeded Google's message size limits.", ("policy", "mesgtoobig")),
    # the sender's address, not the recipient's: never a dead recipient
    ("5.1.8", "553 5.1.8 <news@sender.example>: Sender address rejected: Domain not found", ("policy", "rejected")),
    (None, "553 5.1.8 Domain of sender address news@sender.example does not exist", ("policy", "rejected")),
    ("5.0.0", "Cannot send message for 5 days", ("policy", "expired")),
])
def test_vendor_texts(status: str | None, diag: str, want: tuple[str, str]) -> None:
    assert one(dsn(status, diag)) == want


def test_tables_are_consistent() -> None:
    assert set(ORDER) == set(PHRASES) and set(ORDER) <= set(REASONS)
    assert set(DEFAULT_POLICY_REASONS) <= set(REASONS)
    assert {r for r, _, _ in VENDOR_PHRASES} <= set(REASONS)
    tables = {p for ps in PHRASES.values() for p in ps} | set(STRONG_ADDRESS)
    for source, phrases in FITTED_TO.items():  # each fitted phrase is one the tables use
        assert set(phrases) <= tables, source
    assert set(FITTED_TO) <= {s.name for s in SOURCES}


def test_leave_one_source_out_tables_drop_only_that_source() -> None:
    text = "550 sorry, no mailbox here by that name (#5.7.17)"  # bounce_email's qmail text
    assert bounce_reason("5.7.17", "550", text) == "userunknown"
    use_tables(without="bounce_email")
    try:
        assert bounce_reason("5.7.17", "550", text) != "userunknown"
        assert bounce_reason("5.2.2", "552", "552 5.2.2 mailbox full") == "mailboxfull"
    finally:
        use_tables()
    assert bounce_reason("5.7.17", "550", text) == "userunknown"


def test_x_failed_recipients_names_the_recipient() -> None:
    exim = eml("""
        From: Mail Delivery System <Mailer-Daemon@mx.sender.example>
        To: news@sender.example
        Subject: Mail delivery failed: returning message to sender
        X-Failed-Recipients: reader@partner.example

        This message was created automatically by mail delivery software.

        A message that you sent could not be delivered to one or more of its
        recipients. This is a permanent error. The following address(es) failed:

          reader@partner.example
            (ultimately generated from alias@partner.example)
            SMTP error from remote mail server after RCPT TO:<reader@partner.example>:
            550 5.1.1 User unknown
          someone.else@partner.example
            some other text that mentions an address
        """)
    events = parse_message(exim).events
    assert [(e.recipient, e.type, e.cause) for e in events] == [("alias@partner.example", "hard", "userunknown")]


def test_nonstandard_bounces() -> None:
    qmail = eml("""
        From: MAILER-DAEMON@mx.partner.example
        To: news@sender.example
        Subject: failure notice

        Hi. This is the qmail-send program at mx.partner.example.
        I'm afraid I wasn't able to deliver your message to the following addresses.
        This is a permanent error; I've given up. Sorry it didn't work out.

        <reader@partner.example>:
        192.0.2.7 does not like recipient.
        Remote host said: 554 5.7.1 Message rejected because it contains a virus: Eicar-Test-Signature
        Giving up on 192.0.2.7.
        """)
    assert one(qmail) == ("policy", "virusdetected")
    opensmtpd = eml("""
        From: MAILER-DAEMON@relay.sender.example
        To: news@sender.example
        Subject: Delivery status notification: error

        Hi!

        This is the MAILER-DAEMON, please DO NOT REPLY to this email.

        An error has occurred while attempting to deliver a message for
        the following list of recipients:

        reader@partner.example: 550 No such user here
        """)
    assert one(opensmtpd) == ("hard", "userunknown")


def test_postfix_log_line_carries_the_reason() -> None:
    line = ("Mar  1 10:00:00 mx postfix/smtp[123]: 4ABC123: to=<reader@partner.example>, relay=mx.partner.example"
            "[192.0.2.9]:25, delay=1, delays=0/0/0/1, dsn=5.7.1, status=bounced (host mx.partner.example[192.0.2.9] "
            "said: 550 5.7.1 Message rejected as spam (in reply to end of DATA command))")
    parsed = parse_line(line)
    assert parsed is not None and (parsed.event.type, parsed.event.cause) == ("policy", "spamdetected")


def arf(ftype: str, rcpt_field: str = "Original-Rcpt-To: <reader@isp.example>", to: str = "reader@isp.example",
        extra: str = "") -> bytes:
    return eml(f"""
        From: fbl@isp.example
        To: abuse@sender.example
        Subject: Feedback report
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=feedback-report; boundary="F"

        --F
        Content-Type: text/plain

        A feedback report.

        --F
        Content-Type: message/feedback-report

        Feedback-Type: {ftype}
        User-Agent: Test/1.0
        Version: 1
        {rcpt_field}

        --F
        Content-Type: text/rfc822-headers

        From: news@sender.example
        To: {to}
        {extra}Subject: News
        Message-ID: <n-2@sender.example>

        --F--
        """)


@pytest.mark.parametrize(("ftype", "want"), [
    ("abuse", "complaint"), ("fraud", "complaint"), ("virus", "complaint"), ("other", "complaint"),
    ("x-provider-specific", "complaint"), ("opt-out", "unsubscribe"), ("not-spam", None), ("auth-failure", None),
])
def test_every_feedback_type(ftype: str, want: str | None) -> None:
    r = parse_message(arf(ftype))
    assert r.kind == "arf"
    got = [(e.recipient, e.type, e.cause, e.feedback_type) for e in r.events]
    assert got == ([("reader@isp.example", want, "feedback", ftype)] if want else [])


def test_redacted_complainer_comes_from_the_returned_headers() -> None:
    raw = arf("abuse", "Original-Rcpt-To: undisclosed recipient <redacted@isp.example>", to="redacted@isp.example",
              extra="X-Original-To: reader@isp.example\n        ")
    assert [e.recipient for e in parse_message(raw).events] == ["reader@isp.example"]
    nobody = arf("abuse", "Original-Rcpt-To: <redacted@isp.example>", to="redacted@isp.example")
    assert parse_message(nobody).events == []  # a placeholder is nobody's address


def test_hotmail_junk_mail_report() -> None:
    raw = eml("""
        From: staff@hotmail.com
        To: fbl@sender.example
        Subject: complaint about message from 192.0.2.1
        MIME-Version: 1.0
        Content-Type: multipart/mixed; boundary="J"

        --J
        Content-Type: message/rfc822
        Content-Disposition: inline

        X-HmXmrOriginalRecipient: reader@hotmail.com
        From: news@sender.example
        To: "Reader" <reader@hotmail.com>
        Subject: News
        Message-ID: <n-3@sender.example>

        Hello.
        --J--
        """)
    r = parse_message(raw)
    assert r.kind == "arf" and [(e.recipient, e.type, e.cause) for e in r.events] == [
        ("reader@hotmail.com", "complaint", "feedback")]
    assert r.original_message_id == "<n-3@sender.example>"


def test_a_policy_5xx_never_suppresses(store: SuppressionStore) -> None:  # noqa: F811
    ing = Ingestor(store)
    for n, diag in enumerate(("550 5.1.1 Message rejected as spam by Content Filtering",
                              "554 5.7.1 Client host blocked using zen.spamhaus.org",
                              "552 5.3.4 Message size exceeds fixed limit") * 3):
        raw = dsn("5.1.1" if n % 3 == 0 else None, diag) + f"\n{n}\n".encode()
        ing.ingest(parse_message(raw), report_key(raw))
    rec = store.get("reader@partner.example")[0]
    assert not rec.active and rec.reason is None and rec.count == 9 and rec.soft_days == ()
    assert {e.reason for e in store.history("reader@partner.example")} == {"spamdetected", "blocked", "mesgtoobig"}
    raw = dsn("5.1.1", "550 5.1.1 User unknown")
    ing.ingest(parse_message(raw), report_key(raw))
    assert store.get("reader@partner.example")[0].reason == "hard_bounce"
    before = [(r.address, r.active, r.reason) for r in store.records(in_force_only=False)]
    store.rebuild()  # the token is in the event log: the fold gives the same records
    assert [(r.address, r.active, r.reason) for r in store.records(in_force_only=False)] == before


def test_ingest_json_and_sender_side_alert(tmp_path: Path, capsys) -> None:
    from outguard.cli.main import main
    (tmp_path / "spam.eml").write_bytes(dsn("5.1.1", "550 5.1.1 Message rejected as spam"))
    (tmp_path / "gone.eml").write_bytes(dsn("5.1.1", "550 5.1.1 User unknown", rcpt="gone@partner.example"))
    code = main(["ingest", "--config", "/dev/null", "--store", str(tmp_path / "s.sqlite3"), "--json",
                 str(tmp_path)])
    out, err = capsys.readouterr()
    rows = {Path(r["file"]).name: r for r in map(json.loads, out.splitlines())}
    assert code == 0 and rows["spam.eml"]["reasons"] == {"reader@partner.example": "spamdetected"}
    assert rows["gone.eml"]["reasons"] == {"gone@partner.example": "userunknown"}
    assert "sender-side rejections" in err and "spamdetected 1" in err
    assert "reader@partner.example" not in err and "rejected as spam" not in err  # no address, no report text
    code = main(["suppress", "--config", "/dev/null", "--store", str(tmp_path / "s.sqlite3"), "show",
                 "reader@partner.example"])
    out, _ = capsys.readouterr()
    assert code == 0 and "not suppressed" in out and "reason=spamdetected" in out  # the evidence says why


def test_synthetic_complaints_give_their_labelled_events() -> None:
    # every ARF feedback type and the provider variants (tests/data/intake/complaints/)
    source = next(s for s in SOURCES if s.mark == "synthetic")
    labels = source.labels()
    assert len(labels) >= 15
    for name, want in labels.items():
        raw = (source.path(CORPORA) / name).read_bytes()
        assert raw.startswith(b"X-Outguard-Fixture: synthetic")
        report = parse_message(raw)
        assert report.kind == "arf", name
        got = {e.recipient.lower(): (e.type, e.cause) for e in report.events}
        assert got == {r.lower(): v for r, v in want.items()}, name


def test_labelled_corpora_never_suppress_a_policy_rejection() -> None:
    if not CORPORA.is_dir():
        pytest.skip(f"shared corpora not found at {CORPORA} (they live beside the project checkout)")
    for source in SOURCES:
        folder = source.path(CORPORA)
        for name, want in source.labels().items():
            assert (folder / name).is_file(), f"{source.name}: labelled {name} is not in the corpus"
            got = {e.recipient.lower(): e.type for e in parse_message((folder / name).read_bytes()).events}
            for rcpt, (_, why) in want.items():
                if why in DEFAULT_POLICY_REASONS:
                    assert got.get(rcpt.lower()) != "hard", f"{source.name}/{name}: a {why} rejection suppresses"
