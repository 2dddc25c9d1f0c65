"""The sender-loop rule keys (shadow, allow_override, notify_sender), their lint, the notice
and the marker on outguard's own submissions."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from outguard.core.config import load_config
from outguard.core.decision import Decision, Match
from outguard.core.message import Envelope
from outguard.core.verdict import Verdict
from outguard.notify.loop import SenderLoop, own_decision
from outguard.notify.marker import HEADER, Origin, OriginMarker
from outguard.notify.notice import NoticePolicy, compose
from outguard.ops.audit import AuditLog, record_of, search
from outguard.ops.metrics import Metrics
from outguard.rules.explain import explain
from outguard.rules.lint import lint
from outguard.rules.loader import load_rules

RULES = """
patterns:
  - id: phi.mrn.t
    regex: '\\bMRN-\\d{6}\\b'
rules:
  - id: hold-mrn
    description: record numbers are held
    status: experimental
    allow_override: justification
    when: {finding: phi.mrn.t}
    then: {quarantine: true, notify_sender: true}
  - id: refuse-secret
    description: classified mail is refused
    status: experimental
    when: {header: Subject, matches: "top secret"}
    then: {reject: "classified", notify_sender: true}
  - id: ack-export
    description: exports need an acknowledgement
    status: experimental
    allow_override: acknowledge
    when: {header: Subject, matches: "export"}
    then: {quarantine: true}
  - id: trial-ssn
    description: trial of a stricter SSN rule
    status: experimental
    shadow: true
    when: {body: x, header: Subject, matches: "trial"}
    then: {reject: "would refuse"}
"""
RULES = RULES.replace("{body: x, ", "{")
SECRET = b"s" * 40
PLANTED = {"ssn": "219-09-9989", "mrn": "MRN-739201", "name": "Philippa Quennell-Abernathy", "dob": "03/17/1958",
           "mbi": "1EG4-TE5-MK73"}


@pytest.fixture
def harness(outguard_harness):
    return outguard_harness(rules=RULES, defaults=False, enabled=["custom_patterns"])


def msg(subject: str, body: str = "hello") -> str:
    return f"From: a@clinic.example\nTo: b@partner.example\nSubject: {subject}\nMessage-ID: <m1@clinic.example>\n\n{body}\n"


def test_shadow_rule_changes_nothing_but_is_listed(harness) -> None:
    result = harness.check(msg("trial run"), rcpts=["b@partner.example"])
    assert result.decision.verdict == Verdict.DELIVER
    assert result.decision.shadowed == [("trial-ssn", Verdict.REJECT)]
    assert {"action": "shadow", "rule": "trial-ssn", "would": "reject"} in result.decision.actions()
    assert "* trial-ssn [experimental] shadow: would reject" in explain("m", result)


def test_rule_without_allow_override_is_never_bypassed(harness) -> None:
    result = harness.check(msg("top secret [override: the partner asked for it]"), rcpts=["b@partner.example"])
    assert result.decision.verdict == Verdict.REJECT and result.decision.overrides == []


def test_justification_override_needs_a_reason_and_is_stored_redacted(harness) -> None:
    body = "chart MRN-482193"
    held = harness.check(msg("results [override]", body), rcpts=["b@partner.example"])
    assert held.decision.verdict == Verdict.QUARANTINE, "justification rules need a reason, not the bare tag"
    short = harness.check(msg("results [override: ok]", body), rcpts=["b@partner.example"])
    assert short.decision.verdict == Verdict.QUARANTINE
    passed = harness.check(msg("results [override: patient 219-09-9989 asked by phone]", body), rcpts=["b@x.example"])
    assert passed.decision.verdict == Verdict.DELIVER
    assert passed.decision.overrides == [("hold-mrn", "justification")]
    assert passed.decision.justification == "patient [redacted] asked by phone"
    assert "* hold-mrn [experimental] overridden by the sender, would quarantine" in explain("m", passed)
    record = record_of(passed.decision, "Q1", "<m1@clinic.example>", "a@clinic.example", 1, "test")
    assert record["override"] == [{"rule": "hold-mrn", "kind": "justification"}]
    assert "219-09-9989" not in str(record)


def test_acknowledge_needs_the_marker_only_and_header_marker_works(harness) -> None:
    assert harness.check(msg("export list"), rcpts=["b@x.example"]).decision.verdict == Verdict.QUARANTINE
    assert harness.check(msg("export list [Override]"), rcpts=["b@x.example"]).decision.verdict == Verdict.DELIVER
    raw = msg("export list").replace("Subject:", "X-Outguard-Override-Reason: agreed with the DPO\nSubject:")
    decision = harness.check(raw, rcpts=["b@x.example"]).decision
    assert decision.verdict == Verdict.DELIVER and decision.justification == "agreed with the DPO"


def test_audit_search_override_lists_only_overrides(harness, tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl", fsync="never")
    for subject in ("export list [override]", "export list", "hello"):
        d = harness.check(msg(subject), rcpts=["b@x.example"]).decision
        log.write(record_of(d, subject, None, "a@clinic.example", 1, "test"))
    found = list(search([tmp_path / "a.jsonl"], override=True))
    assert [r["queue_id"] for r in found] == ["export list [override]"]
    assert found[0]["override"] == [{"rule": "ack-export", "kind": "acknowledge"}]


def test_lint_knows_the_three_keys(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(textwrap.dedent("""
        rules:
          - id: tag-notice
            description: x
            status: experimental
            when: {header: Subject, matches: a}
            then: {tag: {header: X-A, value: b}, notify_sender: missing-template}
          - id: shadow-monitor
            description: x
            status: experimental
            mode: monitor
            shadow: true
            allow_override: acknowledge
            when: {header: Subject, matches: a}
            then: {quarantine: true}
          - id: fine
            description: x
            status: experimental
            shadow: true
            when: {header: Subject, matches: a}
            then: {quarantine: true, notify_sender: true}
        """))
    config = load_config(Path("/dev/null"), {"rules": {"site": None, "local": [], "override": []}})
    ruleset = load_rules(config, [path], include_defaults=False)
    issues = [str(i) for i in lint(ruleset, None, {"default"})]
    assert any("error: rule tag-notice: notify_sender template 'missing-template' is not defined" in i for i in issues)
    assert any("warning: rule tag-notice: notify_sender on a rule that gives deliver" in i for i in issues)
    assert any("rule shadow-monitor: shadow and mode: monitor" in i for i in issues)
    assert any("rule shadow-monitor: allow_override on a shadow rule" in i for i in issues)
    assert not any("rule fine" in i for i in issues)
    bad = tmp_path / "bad.yaml"
    bad.write_text(path.read_text().replace("allow_override: acknowledge", "allow_override: always"))
    with pytest.raises(Exception, match="allow_override"):
        load_rules(config, [bad], include_defaults=False)


def notice_policy(**notify) -> NoticePolicy:
    return NoticePolicy.from_config({"trusted_networks": ["127.0.0.0/8"], "sender_domains": ["clinic.example"],
                                     "rate_limit": {"count": 2, "per_seconds": 3600}, **notify}, {})


def test_notice_says_what_rule_and_incident_without_any_planted_value(harness) -> None:
    body = ", ".join(PLANTED.values())
    result = harness.check(msg(f"results for {PLANTED['name']}", body), sender="a@clinic.example",
                           rcpts=["b@partner.example"])
    decision = result.decision
    assert decision.verdict == Verdict.QUARANTINE and decision.notice == ("default", "hold-mrn", "justification")
    envelope = Envelope("a@clinic.example", ("b@partner.example",), client_address="127.0.0.1", queue_id="4XyZ1")
    notice = compose(notice_policy(), decision, envelope, [], OriginMarker(SECRET))
    text = notice.as_string()
    assert "phi.mrn.t: 1" in text and "hold-mrn" in text and "4XyZ1" in text and "held for review" in text
    assert "[override: your reason]" in text, "the rule allows an override: the notice says how"
    assert notice["To"] == "a@clinic.example" and notice["Auto-Submitted"] == "auto-generated"
    for kind, value in PLANTED.items():
        assert value not in text, kind
    assert "Quennell" not in text and "results for" not in text, "not even the original subject"
    german = compose(notice_policy(), decision, envelope, [("Content-Language", "de-DE")], OriginMarker(SECRET))
    assert german["Subject"].startswith("Ihre Nachricht wurde zurückgehalten")


def test_notice_only_to_local_or_authenticated_senders_of_our_domains_and_rate_limited() -> None:
    policy = notice_policy()
    local = Envelope("a@clinic.example", ("b@x.example",), client_address="127.0.0.1")
    assert policy.eligible(local, []) is None
    assert policy.eligible(Envelope("", ("b@x.example",), client_address="127.0.0.1"), []) == "null or local-only sender"
    forged = Envelope("ceo@bank.example", ("b@x.example",), client_address="127.0.0.1")
    assert policy.eligible(forged, []) == "sender outside notify.sender_domains"
    outside = Envelope("a@clinic.example", ("b@x.example",), client_address="203.0.113.9")
    assert policy.eligible(outside, []) == "sender neither authenticated nor on a trusted network"
    authed = Envelope("a@clinic.example", ("b@x.example",), client_address="203.0.113.9", auth_user="a")
    assert policy.eligible(authed, []) is None
    assert policy.eligible(local, [("Auto-Submitted", "auto-replied")]) == "auto-submitted message"
    assert [policy.admit("A@clinic.example") for _ in range(4)] == [True, True, False, False]
    assert policy.admit("other@clinic.example")


def test_own_submission_markers_cannot_be_forged_or_replayed(tmp_path: Path, monkeypatch) -> None:
    secret = tmp_path / "review.key"
    secret.write_bytes(SECRET)
    config = load_config(Path("/dev/null"), {"review": {"secret_file": str(secret)}})
    loop = SenderLoop(config)
    marker = OriginMarker(SECRET)
    token = marker.make(Origin("shadow", "<m1@clinic.example>", "trial-ssn", "reject", [("phi.ssn", 2)]))
    own = loop.recognise([(HEADER, token)], "<m1@clinic.example>")
    assert own is not None and own.verdict == Verdict.QUARANTINE and own.origin == "shadow"
    assert own.deciding_rule == "trial-ssn" and [(f.id, f.count) for f in own.findings] == [("phi.ssn", 2)]
    assert ("X-Outguard-Shadow", "rule=trial-ssn; would=reject") in own.add_headers
    assert loop.recognise([(HEADER, token)], "<other@clinic.example>") is None, "replayed onto another message"
    assert loop.recognise([(HEADER, OriginMarker(b"t" * 40).make(Origin("release", "<m1@clinic.example>")))],
                          "<m1@clinic.example>") is None, "made with another secret"
    assert loop.recognise([(HEADER, "garbage")], "<m1@clinic.example>") is None


def test_shadow_copies_and_own_submissions_stay_out_of_the_message_counts() -> None:
    metrics = Metrics()
    shadow_copy = own_decision(Origin("shadow", "<m>", "trial-ssn", "reject", [("phi.ssn", 1)]))
    metrics.observe(shadow_copy, 0.01)
    text = "\n".join(f"{s.name} {s.labels} {s.value}" for m in metrics.registry.collect() for s in m.samples)
    assert "outguard_own_submissions_total {'kind': 'shadow'} 1.0" in text
    assert "outguard_messages_total" not in text
    original = Decision(matches=[Match("trial-ssn", Verdict.REJECT, False)], shadowed=[("trial-ssn", Verdict.REJECT)])
    metrics.observe(original, 0.01)
    text = "\n".join(f"{s.name} {s.labels} {s.value}" for m in metrics.registry.collect() for s in m.samples)
    assert "outguard_shadow_rule_hits_total {'rule': 'trial-ssn', 'would': 'reject'} 1.0" in text
    assert "outguard_messages_total {'verdict': 'deliver'} 1.0" in text and "outguard_rule_hits_total {" not in text


def test_broken_notify_settings_turn_notices_off_but_keep_recognising_our_submissions(tmp_path: Path) -> None:
    secret = tmp_path / "review.key"
    secret.write_bytes(SECRET)
    bad = {"review": {"secret_file": str(secret)},
           "notify": {"templates": {"default": {"en": {"subject": "{subject}", "body": "x"}}}}}
    loop = SenderLoop(load_config(Path("/dev/null"), bad))
    assert loop.notices is False
    token = OriginMarker(SECRET).make(Origin("release", "<m1@clinic.example>", "hold-mrn", actor="adam"))
    released = loop.recognise([(HEADER, token)], "<m1@clinic.example>")
    assert released is not None and released.verdict == Verdict.DELIVER and released.origin == "release"
    good = SenderLoop(load_config(Path("/dev/null"), {"review": {"secret_file": str(secret)}}))
    assert good.notices and good.policy.admit("a@clinic.example")
    kept = good.policy
    good.configure(load_config(Path("/dev/null"), bad))
    assert good.policy is kept and good.notices, "a reload with a broken template keeps what worked"
