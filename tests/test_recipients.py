"""The recipients check and the shipped rules/recipients.yaml, on a real store (both engines)."""

from __future__ import annotations

import pytest

from outguard.checks.spec import hookimpl
from outguard.core.findings import Finding
from outguard.store import Event, SuppressionStore, resolve
from outguard_plugins.recipients.check import typo_suggestion

NOTE = """\
From: News <news@clinic.example>
Subject: Saturday opening

The lab is open on Saturday from 9 to 12. SECRET-BODY-MARKER
"""
BULK_NOTE = NOTE.replace("Subject:", "List-Id: Clinic news <news.clinic.example>\nSubject:")


class BulkDetector:
    """Stands in for the bulk check: says every message is bulk."""

    @hookimpl
    def outguard_inspect(self, message, context):
        return [Finding("bulk.detected", confidence=0.9, detail="test")]


@pytest.fixture
def suppressions(store_url: str):
    store = SuppressionStore(resolve(store_url), create=True)
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def make(outguard_harness, suppressions):
    def build(bulk: bool = False, settings: dict | None = None):
        config = {"store": {"url": suppressions.location.url}}
        if settings:
            config["plugins"] = {"settings": {"recipients": settings}}
        return outguard_harness(plugins={"fakebulk": BulkDetector()} if bulk else None, enabled=["recipients"],
                                config=config)
    return build


def by_recipient(result) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in result.findings:
        if f.recipient:
            out.setdefault(f.recipient, set()).add(f.id)
    return out


def test_suppressed_recipients_are_dropped_and_the_rest_delivered(make, suppressions) -> None:
    suppressions.record([Event("gone@partner.example", "bounce", 1_780_000_000, status="5.1.1", source="dsn"),
                         Event("angry@partner.example", "complaint", 1_780_000_000, source="arf")])
    result = make().check(NOTE, sender="news@clinic.example",
                          rcpts=["Gone@Partner.EXAMPLE", "angry@partner.example", "ann@partner.example"])
    d = result.decision
    assert d.verdict == "deliver"
    assert sorted(d.drop_recipients) == ["Gone@Partner.EXAMPLE", "angry@partner.example"]
    details = {f.recipient: f.detail for f in result.findings if f.id == "recipient.suppressed"}
    assert details["Gone@Partner.EXAMPLE"].startswith("hard bounce (5.1.1); scope all mail; since 2026-05-28")
    assert details["angry@partner.example"].startswith("complaint")


def test_every_recipient_suppressed_rejects_without_naming_anyone(make, suppressions) -> None:
    suppressions.record([Event("gone@partner.example", "bounce", 1_780_000_000, status="5.1.1"),
                         Event("trap@partner.example", "trap", 1_780_000_000, source="manual")])
    result = make().check(NOTE, rcpts=["gone@partner.example", "trap@partner.example", "bad..dots@partner.example"])
    d = result.decision
    assert d.verdict == "reject" and d.deciding_rule == "recipients-none-left-reject"
    assert d.reply is not None and d.reply.code == "550"
    assert "@" not in d.reply.text and "partner" not in d.reply.text
    ids = by_recipient(result)
    assert ids["trap@partner.example"] == {"recipient.trap"}
    assert ids["bad..dots@partner.example"] == {"recipient.invalid"}
    none = next(f for f in result.findings if f.id == "recipient.none_deliverable")
    assert none.detail == "3 of 3 recipients refused: 1 invalid, 1 suppressed, 1 trap"


def test_scoped_unsubscribes_follow_list_id_and_sender_domain(make, suppressions) -> None:
    suppressions.record([Event("reader@partner.example", "unsubscribe", 1_780_000_000, scope="list:news.clinic.example"),
                         Event("other@partner.example", "unsubscribe", 1_780_000_000, scope="domain:clinic.example")])
    harness = make()
    listed = harness.check(BULK_NOTE, sender="news@clinic.example", rcpts=["reader@partner.example", "ann@partner.example"])
    assert listed.decision.drop_recipients == ["reader@partner.example"]
    one_to_one = harness.check(NOTE, sender="doctor@hospital.example", rcpts=["reader@partner.example"])
    assert one_to_one.decision.verdict == "deliver" and not one_to_one.decision.drop_recipients
    by_domain = harness.check(NOTE, sender="anyone@clinic.example", rcpts=["other@partner.example", "ann@partner.example"])
    assert by_domain.decision.drop_recipients == ["other@partner.example"]


def test_role_disposable_and_typo_findings(make) -> None:
    result = make().check(NOTE, rcpts=["postmaster@partner.example", "info+news@partner.example",
                                       "x@mailinator.com", "y@eu.mailinator.com", "ann@gamil.com", "bob@gmail.com"])
    ids = by_recipient(result)
    assert ids["postmaster@partner.example"] == {"recipient.role"}
    assert ids["info+news@partner.example"] == {"recipient.role"}
    assert "recipient.disposable" in ids["x@mailinator.com"]
    assert "recipient.disposable" in ids["y@eu.mailinator.com"]  # matched on the registrable domain
    assert ids["ann@gamil.com"] == {"recipient.typo_domain"}
    assert "bob@gmail.com" not in ids
    typo = next(f for f in result.findings if f.id == "recipient.typo_domain")
    assert typo.detail == "domain looks like a typo of gmail.com"
    # one-to-one mail: reported, nobody dropped (role and disposable drops are for bulk mail)
    assert result.decision.verdict == "deliver" and result.decision.drop_recipients == []


def test_bulk_mail_also_drops_role_and_disposable_recipients(make) -> None:
    harness = make(bulk=True)
    result = harness.check(BULK_NOTE, rcpts=["info@partner.example", "x@mailinator.com", "ann@partner.example"])
    assert result.decision.verdict == "deliver"
    assert sorted(result.decision.drop_recipients) == ["info@partner.example", "x@mailinator.com"]
    everyone = harness.check(BULK_NOTE, rcpts=["info@partner.example", "x@mailinator.com"])
    assert everyone.decision.verdict == "reject"
    assert everyone.decision.deciding_rule == "recipients-bulk-none-left-reject"
    assert "@" not in everyone.decision.reply.text


@pytest.mark.parametrize("domain,suggestion", [
    ("gamil.com", "gmail.com"), ("gmial.com", "gmail.com"), ("gmail.con", "gmail.com"), ("gmailcom", "gmail.com"),
    ("hotmial.com", "hotmail.com"), ("yaho.com", "yahoo.com"), ("yahooo.com", "yahoo.com"), ("outlok.com", "outlook.com"),
    ("icloud.co", "icloud.com"), ("gmail.com", None), ("yahoo.fr", None), ("mail.com", None), ("sky.com", None),
    ("ski.com", None), ("partner.example", None), ("clinic.org", None), ("hotmail.co.uk", None),
])
def test_typo_suggestions(domain: str, suggestion: str | None) -> None:
    assert typo_suggestion(domain) == suggestion


def test_settings_switch_checks_off_and_extend_lists(make) -> None:
    harness = make(settings={"role": False, "disposable_allow": ["mailinator.com"], "trap_domains": ["spamtrap.example"],
                             "extra_role_local_parts": ["frontdesk"]})
    result = harness.check(NOTE, rcpts=["postmaster@partner.example", "x@mailinator.com", "t@spamtrap.example",
                                        "frontdesk@partner.example"])
    ids = by_recipient(result)
    assert "postmaster@partner.example" not in ids and "x@mailinator.com" not in ids and "frontdesk@partner.example" not in ids
    assert ids["t@spamtrap.example"] == {"recipient.trap"}
    assert result.decision.drop_recipients == ["t@spamtrap.example"]


def test_findings_never_carry_message_content_or_addresses(make, suppressions) -> None:
    suppressions.record([Event("gone@partner.example", "bounce", 1_780_000_000, status="5.1.1",
                               diagnostic="550 5.1.1 <gone@partner.example>: user unknown")])
    result = make().check(NOTE, rcpts=["gone@partner.example", "info@gamil.com", "x@mailinator.com", "a..b@c.example"])
    for f in result.findings:
        assert "SECRET-BODY-MARKER" not in f.detail
        assert "@" not in f.detail, f
