"""Checks whose findings no loaded rule reads are left out of the daemon's inspection, and run
again when a run asks for every finding (`check --explain`/`--json`/`--all-findings`, rule tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from outguard.checks.host import exactly
from outguard.checks.spec import hookimpl
from outguard.core.config import load_config
from outguard.core.findings import Finding
from outguard.core.message import Envelope
from outguard.pipeline import Inspector, unused_checks

RAW = b"From: a@clinic.example\nTo: b@partner.example\nSubject: hi\n\nhello\n"
ENV = Envelope("a@clinic.example", ("b@partner.example",))


class Counting:
    """A check that counts its calls and reports one finding of its own kind."""

    def __init__(self, fid: str, declares: bool = True) -> None:
        self.fid, self.calls = fid, 0
        if declares:
            self.emits = (fid,)

    @hookimpl
    def outguard_inspect(self, message, context):
        self.calls += 1
        return [Finding(self.fid, detail="seen")]


RULES = """
rules:
  - id: read-one
    description: reads test.read
    status: experimental
    when: {finding: test.read}
    then: {tag: {header: X-Read, value: "yes"}}
  - id: bulky
    description: reads bulk.detected through bulk
    status: experimental
    when: {bulk: true}
    then: {tag: {header: X-Bulk, value: "yes"}}
"""


@pytest.fixture
def inspector(write_rules) -> Inspector:
    path = write_rules(RULES)
    cfg = load_config(Path("/dev/null"), {"rules": {"local": [], "override": []}, "plugins": exactly(["bulk"])})
    made = Inspector.create(cfg, [path], include_defaults=False, services={}, extra_plugins={
        "reader": Counting("test.read"), "unread": Counting("test.unread"), "silent": Counting("test.silent", False)})
    yield made
    made.close()


def ids(result) -> set[str]:
    return {f.id for f in result.decision.findings}


def test_a_check_no_rule_reads_is_skipped_and_the_others_run(inspector: Inspector) -> None:
    plugin = inspector.host.pm.get_plugin
    assert inspector.skipped_checks() == ["unread"]
    result = inspector.inspect(RAW, ENV)
    assert plugin("unread").calls == 0 and "test.unread" not in ids(result)
    assert plugin("reader").calls == 1 and "test.read" in ids(result) and result.decision.verdict == "deliver"
    assert plugin("silent").calls == 1   # declares nothing: cannot be known unused


def test_all_findings_runs_every_check(inspector: Inspector) -> None:
    inspector.all_findings = True
    assert inspector.skipped_checks() == []
    assert {"test.read", "test.unread", "test.silent"} <= ids(inspector.inspect(RAW, ENV))


def test_a_bulk_condition_keeps_the_bulk_check(inspector: Inspector) -> None:
    assert "bulk.detected" in inspector.ruleset.finding_globs and "bulk" not in inspector.skipped_checks()


@pytest.mark.parametrize(("read", "produced", "unused"), [
    (frozenset({"phi.*"}), {"phi": ("phi.ssn",)}, set()),
    (frozenset({"*.ssn"}), {"phi": ("phi.*",)}, set()),          # two globs that may meet: kept
    (frozenset({"spam.*"}), {"phi": ("phi.ssn", "phi.dob")}, {"phi"}),
    (frozenset({"spam.*"}), {"odd": None, "core": ("scan.*",)}, set()),
    (frozenset({"error.*"}), {"phi": ("phi.ssn",)}, set()),            # its failure is read: kept
    (frozenset({"scan.budget_exceeded"}), {"phi": ("phi.ssn",)}, set()),
    (frozenset({"error.spam"}), {"phi": ("phi.ssn",), "spam": ("spam.phrasing",)}, {"phi"}),
])
def test_unused_checks_by_globs(read: frozenset[str], produced: dict, unused: set[str]) -> None:
    assert unused_checks(produced, read) == unused
