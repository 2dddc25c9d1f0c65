"""Verdict resolution: the strongest verdict wins, modifiers add up unless refused, monitor changes nothing."""

from __future__ import annotations

from outguard.checks.spec import hookimpl
from outguard.core.findings import Finding

RULES = """
rules:
  - id: enc
    description: encrypt phi
    status: experimental
    when: {finding: "phi.*", min_confidence: 0.8}
    then:
      encrypt: tls-required
      tag: {header: X-PHI, value: "{finding_ids}"}
      subject_prefix: "[secure]"
  - id: hold-many
    description: hold many
    status: experimental
    when: {finding: "phi.*", min_count: 3}
    then: {quarantine: too many identifiers}
  - id: refuse-evil
    description: refuse mail to evil
    status: experimental
    when: {recipient_domain: "evil.example"}
    then:
      reject: {code: 554, status: 5.7.1, text: "Policy forbids mail to {rule_id}"}
  - id: drop-bad
    description: drop suppressed
    status: experimental
    when: {finding: recipient.suppressed}
    then: {drop_recipients: true, notify: audit@example.org}
  - id: watch
    description: monitor only
    status: experimental
    mode: monitor
    when: {header: Subject, matches: "^invoice"}
    then: {discard: true}
"""


class Fixed:
    """A plugin reporting whatever findings the test put in the message's X-Test header."""

    @hookimpl
    def outguard_inspect(self, message, context):
        out = []
        for item in (message.header("X-Test") or "").split():
            fid, conf, count, *rcpt = item.split(",")
            out.append(Finding(fid, confidence=float(conf), count=int(count), recipient=rcpt[0] if rcpt else None))
        return out


def run(harness, test_header: str, rcpts=("a@ok.example", "b@ok.example"), subject="hello"):
    return harness.check(f"Subject: {subject}\nX-Test: {test_header}\n\nbody\n", sender="s@example.org", rcpts=rcpts)


def make(outguard_harness, **kw):
    return outguard_harness(plugins={"fixed": Fixed()}, rules=RULES, defaults=False, **kw)


def test_encrypt_with_tags_and_prefix(outguard_harness) -> None:
    d = run(make(outguard_harness), "phi.ssn,0.9,1").decision
    assert d.verdict == "encrypt" and d.route == "tls-required"
    assert d.add_headers == [("X-PHI", "phi.ssn")] and d.subject_prefix == "[secure]"


def test_low_confidence_does_not_match(outguard_harness) -> None:
    d = run(make(outguard_harness), "phi.ssn,0.5,1").decision
    assert d.verdict == "deliver" and d.matches == []


def test_stronger_verdict_wins_and_route_is_kept_for_release(outguard_harness) -> None:
    d = run(make(outguard_harness), "phi.ssn,0.9,2 phi.mrn,0.9,1").decision
    assert d.verdict == "quarantine" and d.deciding_rule == "hold-many"
    assert d.route == "tls-required", "a held message released later must still leave encrypted"
    assert d.quarantine_reason == "too many identifiers"
    assert {m.rule_id for m in d.matches} == {"enc", "hold-many"}


def test_reject_drops_modifiers_and_renders_text(outguard_harness) -> None:
    d = run(make(outguard_harness), "phi.ssn,0.9,5", rcpts=("x@evil.example",)).decision
    assert d.verdict == "reject" and d.reply.code == "554"
    assert d.reply.text == "Policy forbids mail to refuse-evil"
    assert [a["action"] for a in d.actions()] == ["reject"]


def test_drop_only_the_named_recipients_and_notify(outguard_harness) -> None:
    d = run(make(outguard_harness), "recipient.suppressed,1,1,b@ok.example").decision
    assert d.verdict == "deliver" and d.drop_recipients == ["b@ok.example"] and d.notify == ["audit@example.org"]


def test_dropping_every_recipient_rejects(outguard_harness) -> None:
    d = run(make(outguard_harness), "recipient.suppressed,1,1,a@ok.example recipient.suppressed,1,1,b@ok.example").decision
    assert d.verdict == "reject" and d.reply.code == "550"


def test_monitor_rule_records_what_it_would_do_and_changes_nothing(outguard_harness) -> None:
    d = run(make(outguard_harness), "", subject="invoice 42").decision
    assert d.verdict == "deliver" and d.monitored == [("watch", "discard")]
    assert d.actions() == [{"action": "monitor", "rule": "watch", "would": "discard"}]


def test_global_monitor_mode_turns_every_rule_into_monitor(outguard_harness) -> None:
    harness = make(outguard_harness, config={"mode": "monitor"})
    d = run(harness, "phi.ssn,0.9,5", rcpts=("x@evil.example",)).decision
    assert d.verdict == "deliver" and not d.add_headers
    assert dict(d.monitored) == {"enc": "encrypt", "hold-many": "quarantine", "refuse-evil": "reject"}


def test_envelope_and_header_conditions(outguard_harness) -> None:
    harness = outguard_harness(defaults=False, rules="""
        rules:
          - id: r
            description: internal, authenticated, from the clinic network, small, with a List-Id
            status: experimental
            when:
              all:
                - sender_domain: "*.clinic.example"
                - authenticated: true
                - client_address: ["10.1.0.0/16", "2001:db8::/32"]
                - size_under: 10000
                - header: List-Id
                - not: {recipient_domain: gmail.com}
            then: {quarantine: true}
        """)
    msg = "Subject: s\nList-Id: <news.clinic.example>\n\nhi\n"
    base = dict(sender="a@mail.clinic.example", rcpts=["x@partner.example"], auth_user="alice", client_address="10.1.2.3")
    assert harness.check(msg, **base).decision.verdict == "quarantine"
    for change in ({"auth_user": None}, {"client_address": "192.0.2.1"}, {"rcpts": ["x@gmail.com"]},
                   {"sender": "a@clinic.example.evil"}):
        assert harness.check(msg, **{**base, **change}).decision.verdict == "deliver", change
    assert harness.check(msg.replace("List-Id", "X-Other"), **base).decision.verdict == "deliver"


def test_drop_recipients_by_domain_drops_only_those(outguard_harness) -> None:
    harness = outguard_harness(defaults=False, rules="""
        rules:
          - id: no-mail-to-rivals
            description: never mail the competitor
            status: experimental
            when: {recipient_domain: "*rival.example"}
            then: {drop_recipients: true}
        """)
    d = harness.check("Subject: s\n\nhi\n", rcpts=["a@ok.example", "b@rival.example", "c@sub.rival.example"]).decision
    assert d.verdict == "deliver" and d.drop_recipients == ["b@rival.example", "c@sub.rival.example"]
    assert harness.check("Subject: s\n\nhi\n", rcpts=["b@rival.example"]).decision.verdict == "reject"
