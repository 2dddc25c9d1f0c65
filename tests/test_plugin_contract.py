"""The contract a check signs (outguard.checks.spec): the host catches its mistakes at start,
makes one object per host, validates its settings and logs failures at the check's own line."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from outguard.checks import Extracted, Finding, hookimpl
from outguard.checks.host import PluginError, PluginHost
from outguard.core.config import load_config
from outguard.daemon.runner import InlineRunner, Setup
from outguard_plugins.documents import DocumentsCheck


class Misspelt:
    @hookimpl
    def outguard_inpsect(self, message, context):
        return []


class UnmarkedMisspelt:
    def outguard_inspekt(self, message, context):  # no @hookimpl: pluggy alone would ignore it
        return []


class Wrapper:
    @hookimpl(wrapper=True)
    def outguard_inspect(self, message, context):
        return (yield)


class Strict:
    emits = ("strict.*",)
    settings_schema = {"type": "object", "additionalProperties": False,
                       "properties": {"level": {"type": "integer", "minimum": 1}}}

    @hookimpl
    def outguard_inspect(self, message, context):
        return []


def test_a_misspelt_hook_is_refused_naming_the_check() -> None:
    with pytest.raises(PluginError, match=r"check 'typo': outguard_inpsect is not an outguard hook "
                                          r"\(did you mean outguard_inspect\?\)"):
        PluginHost(shipped=False, extra_plugins={"typo": Misspelt()})
    with pytest.raises(PluginError, match="outguard_inspekt is not an outguard hook"):
        PluginHost(shipped=False, extra_plugins={"typo2": UnmarkedMisspelt()})


def test_hook_wrappers_are_refused() -> None:
    with pytest.raises(PluginError, match="check 'wrap': outguard_inspect is a hook wrapper"):
        PluginHost(shipped=False, extra_plugins={"wrap": Wrapper()})


@pytest.mark.parametrize(("settings", "message"), [
    ({"levle": 2}, r"plugins.settings.strict: Additional properties are not allowed \('levle' was unexpected\) "
                   r"\(known settings: level\)"),
    ({"level": "high"}, r"plugins.settings.strict.level: 'high' is not of type 'integer'"),
    ({"level": 0}, r"plugins.settings.strict.level: 0 is less than the minimum of 1"),
])
def test_settings_are_validated_naming_check_and_key(settings: dict, message: str) -> None:
    with pytest.raises(PluginError, match=message):
        PluginHost(shipped=False, extra_plugins={"strict": Strict()}, settings={"strict": settings})


def test_settings_for_a_check_that_does_not_run_are_refused() -> None:
    with pytest.raises(PluginError, match=r"plugins.settings.documnets: no such check runs"):
        PluginHost(settings={"documnets": {"max_bytes": 10}})


def test_shipped_check_settings_are_validated_through_check_config(tmp_path: Path) -> None:
    from outguard.cli.main import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text("rules: {local: [], override: []}\nplugins: {settings: {documents: {max_byts: 5}}}\n")
    assert main(["check-config", "--config", str(cfg)]) == 2


def test_two_hosts_in_one_process_do_not_share_settings() -> None:
    small = PluginHost(enabled=["documents"], shipped=False, settings={"documents": {"max_bytes": 1000}})
    large = PluginHost(enabled=["documents"], shipped=False, settings={"documents": {"max_bytes": 5_000_000}})
    small.startup()
    large.startup()
    a, b = small.pm.get_plugin("documents"), large.pm.get_plugin("documents")
    assert isinstance(a, DocumentsCheck) and isinstance(b, DocumentsCheck) and a is not b
    assert (a.limits.max_bytes, b.limits.max_bytes) == (1000, 5_000_000)


def test_declared_findings_are_known_to_the_host() -> None:
    host = PluginHost(shipped=False, extra_plugins={"strict": Strict()}, enabled=["documents"])
    assert host.emits() == {"documents": ("attachment.unreadable", "scan.truncated"), "strict": ("strict.*",)}


class Counts:
    """Counts its own start-ups on the object, where a reload must start afresh."""

    made: list[Counts] = []

    def __init__(self) -> None:
        self.started = 0
        self.closed = 0
        Counts.made.append(self)

    @hookimpl
    def outguard_startup(self, context):
        self.started += 1

    @hookimpl
    def outguard_shutdown(self):
        self.closed += 1


def test_inline_reload_makes_new_check_objects_and_runs_their_start_up(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import outguard.pipeline as pipeline

    real = pipeline.PluginHost.from_config
    monkeypatch.setattr(pipeline.PluginHost, "from_config",
                        classmethod(lambda cls, cfg, services=None, extra_plugins=None:
                                    real(cfg, services, {"counts": Counts()})))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("rules: {local: [], override: []}\nplugins: {disabled: [phi, spam, bulk, documents, recipients]}\n")
    Counts.made.clear()
    runner = InlineRunner(Setup(cfg), timeout=10)
    try:
        runner.reload()
        assert [c.started for c in Counts.made] == [1, 1]
        assert [c.closed for c in Counts.made] == [1, 0]  # the old generation was shut down
    finally:
        runner.close()


class Raises:
    @hookimpl
    def outguard_inspect(self, message, context):
        helper_that_fails(next(message.texts("body")).text)


def helper_that_fails(text: str) -> None:
    raise KeyError(text)  # the text (PHI) must never reach the log


def test_a_check_failure_is_logged_at_the_checks_own_line(outguard_harness, caplog) -> None:
    harness = outguard_harness(plugins={"raises": Raises()}, defaults=False)
    with caplog.at_level(logging.ERROR, logger="outguard"):
        result = harness.check("Subject: x\n\nSSN 219-09-9999\n")
    [error] = [f for f in result.findings if f.id == "error.raises"]
    line = helper_that_fails.__code__.co_firstlineno + 1
    assert error.detail == f"raised KeyError at test_plugin_contract.py:{line}"
    assert f"test_plugin_contract.py:{line}" in caplog.text and "219-09-9999" not in caplog.text


class Reports:
    @hookimpl
    def outguard_extract_text(self, attachment):
        return Extracted(None, (Finding("attachment.encrypted", detail="ZIP password-protected"),))


def test_extract_text_may_report_findings(outguard_harness) -> None:
    harness = outguard_harness(plugins={"reports": Reports()}, enabled=[], defaults=False)
    raw = (b"Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
           b"Content-Type: text/plain\n\nsee attached\n--b\nContent-Type: application/zip\n"
           b"Content-Disposition: attachment; filename=a.zip\n\nPK\n--b\nContent-Type: application/zip\n"
           b"Content-Disposition: attachment; filename=b.zip\n\nPK\n--b--\n")
    result = harness.check(raw)
    [f] = [f for f in result.findings if f.id == "attachment.encrypted"]
    assert f.count == 2 and f.plugin == "reports" and f.detail == "ZIP password-protected"


def test_the_harness_runs_exactly_the_named_checks(outguard_harness) -> None:
    harness = outguard_harness(enabled=["documents"])
    assert harness.inspector.host.names == ["documents"]
    assert load_config(Path("/dev/null")).plugins["enabled"] == []  # the defaults add nothing third-party
