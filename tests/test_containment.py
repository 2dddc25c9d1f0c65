"""A crashing, slow or lying plugin becomes an error.<plugin> finding; the message still gets a verdict."""

from __future__ import annotations

import logging
import time
from importlib.metadata import entry_points

import pytest

from outguard.checks.host import PluginError, PluginHost, shipped_checks
from outguard.checks.spec import hookimpl
from outguard.core.findings import Finding

MSG = "Subject: hi\n\nPatient SSN 219-99-1234 is in here\n"


class Good:
    @hookimpl
    def outguard_inspect(self, message, context):
        return [Finding("test.good", detail="seen")]


class Crashes:
    @hookimpl
    def outguard_inspect(self, message, context):
        secret = next(message.texts("body")).text
        raise ValueError(f"cannot handle {secret}")  # an exception message quoting PHI


class Sleeps:
    @hookimpl
    def outguard_inspect(self, message, context):
        time.sleep(3)
        return [Finding("test.late")]


class Lies:
    @hookimpl
    def outguard_inspect(self, message, context):
        return ["not a finding"]


class BadExtractor:
    @hookimpl
    def outguard_extract_text(self, attachment):
        raise RuntimeError("boom")


def test_crash_becomes_error_finding_and_default_rules_tempfail(outguard_harness, caplog) -> None:
    harness = outguard_harness(plugins={"good": Good(), "crashy": Crashes()})
    with caplog.at_level(logging.DEBUG, logger="outguard"):
        result = harness.check(MSG)
    ids = harness.finding_ids(result)
    assert "error.crashy" in ids and "test.good" in ids
    assert result.decision.verdict == "tempfail" and result.decision.deciding_rule == "check-failed-tempfail"
    error = next(f for f in result.findings if f.id == "error.crashy")
    assert error.detail.startswith("raised ValueError at test_containment.py:")
    assert "219-99-1234" not in caplog.text and "219-99-1234" not in error.detail
    assert "crashy" in caplog.text


def test_plugin_past_its_budget_is_cut_off(outguard_harness) -> None:
    harness = outguard_harness(plugins={"good": Good(), "slow": Sleeps()},
                               config={"plugins": {"budgets": {"slow": 0.2}}})
    started = time.monotonic()
    result = harness.check(MSG)
    assert time.monotonic() - started < 2.0
    ids = harness.finding_ids(result)
    assert "scan.budget_exceeded" in ids and "test.good" in ids and "test.late" not in ids
    # an overrun would overrun again at every retry: held for review, not tempfailed (issue 12)
    assert result.decision.verdict == "quarantine" and result.decision.deciding_rule == "check-overran-quarantine"
    overrun = next(f for f in result.findings if f.id == "scan.budget_exceeded")
    assert overrun.plugin == "slow" and "slow exceeded its 0.2 s budget" == overrun.detail


def test_wrong_return_type_is_contained(outguard_harness) -> None:
    harness = outguard_harness(plugins={"liar": Lies()})
    assert "error.liar" in harness.finding_ids(harness.check(MSG))


def test_failed_text_extraction_is_contained(outguard_harness) -> None:
    harness = outguard_harness(plugins={"bad": BadExtractor()})
    msg = ("Subject: a\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
           "Content-Type: application/pdf\nContent-Disposition: attachment; filename=x.pdf\n\n%PDF\n--b--\n")
    result = harness.check(msg)
    assert "error.bad" in harness.finding_ids(result) and result.decision.verdict == "tempfail"


def test_rules_decide_what_an_error_means(outguard_harness) -> None:
    harness = outguard_harness(plugins={"crashy": Crashes()}, defaults=False, rules="""
        rules:
          - id: errors-held
            description: a site that prefers holding to retrying
            status: experimental
            when: {finding: "error.*"}
            then: {quarantine: inspection incomplete}
        """)
    assert harness.check(MSG).decision.verdict == "quarantine"


def test_internal_error_gets_the_configured_action(outguard_harness, monkeypatch) -> None:
    import outguard.pipeline as pipeline

    def explode(*a, **k):
        raise MemoryError("simulated")

    for action, verdict in (("tempfail", "tempfail"), ("accept", "deliver"), ("quarantine", "quarantine")):
        harness = outguard_harness(config={"on_error": action})
        monkeypatch.setattr(pipeline, "decide", explode)
        result = harness.check(MSG)
        monkeypatch.undo()
        assert result.decision.verdict == verdict
        assert [f.id for f in result.findings] == ["error.internal"]


def test_catastrophic_custom_pattern_times_out_and_message_still_gets_a_verdict(outguard_harness) -> None:
    harness = outguard_harness(config={"scan": {"pattern_timeout_seconds": 0.2}}, rules="""
        patterns:
          - id: org.evil
            regex: '(?:a|aa)+$'
          - id: org.ticket
            regex: 'TCK-\\d{4}'
        rules:
          - id: tickets
            description: tag tickets
            status: experimental
            when: {finding: org.ticket}
            then: {tag: {header: X-Ticket, value: "yes"}}
        """)
    started = time.monotonic()
    result = harness.check("Subject: s\n\nTCK-1234 " + "a" * 60 + "!\n")
    assert time.monotonic() - started < 3
    ids = harness.finding_ids(result)
    assert "scan.pattern_timeout" in ids and "org.ticket" in ids
    assert result.decision.verdict == "deliver"
    assert set(result.decision.rule_ids) == {"tickets", "incomplete-scan-tag"}


def test_builtins_register_through_the_public_entry_point_group() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="outguard")}
    assert names["custom_patterns"] == "outguard_plugins.custom_patterns:CustomPatternsCheck"
    assert names["text_attachments"] == "outguard_plugins.text_attachments:TextAttachments"


def test_allowlist_only_runs_enabled_plugins() -> None:
    host = PluginHost(enabled=["text_attachments"], shipped=False)
    assert host.names == ["text_attachments"]
    with pytest.raises(PluginError, match="not installed"):
        PluginHost(enabled=["no_such_plugin"])


def test_shipped_checks_run_unless_disabled_by_name() -> None:
    everything = PluginHost()
    assert set(everything.names) == set(shipped_checks()) >= {"phi", "documents", "recipients", "bulk", "spam"}
    without_spam = PluginHost(disabled=["spam"])
    assert set(without_spam.names) == set(shipped_checks()) - {"spam"}


def test_plugin_failing_startup_stops_the_start(outguard_harness) -> None:
    class Broken:
        @hookimpl
        def outguard_startup(self, context):
            raise OSError("model missing")

    with pytest.raises(PluginError, match="failed to start"):
        outguard_harness(plugins={"broken": Broken()})
