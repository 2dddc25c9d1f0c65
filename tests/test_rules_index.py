"""The rule index skips only rules that could not have matched: decisions are unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outguard.core.config import load_config
from outguard.core.findings import Finding
from outguard.core.message import Envelope, parse_message
from outguard.rules import decide as decide_module
from outguard.rules import index
from outguard.rules.conditions import AllOf, AnyOf, Facts, FindingCondition, Not, Predicate
from outguard.rules.loader import RuleSet, load_rules

RULES: RuleSet = load_rules(load_config(Path("/dev/null"), {"rules": {"local": [], "override": []}}))
# a concrete id for every glob the shipped rules read, and a few no rule names
IDS = sorted({g.replace("*", "x").replace("?", "y") for r in RULES.rules for g, _ in r.finding_refs}
             | {"phi.ssn", "spam.phrasing", "bulk.detected", "recipient.role", "nothing.at_all"})
MESSAGE = parse_message(b"From: a@clinic.example\nTo: b@partner.example\nSubject: hello\n\nbody text\n",
                        Envelope("a@clinic.example", ("b@partner.example", "c@other.example")))

finding = st.builds(
    Finding, st.sampled_from(IDS), confidence=st.sampled_from([0.1, 0.5, 0.75, 0.9, 1.0]),
    count=st.integers(1, 12), where=st.sampled_from([("body",), ("subject",), ("attachment:a.csv",), ("envelope",)]),
    recipient=st.sampled_from([None, "b@partner.example"]), score=st.sampled_from([None, 3.0, 6.0, 9.0]))


def _every_rule(ruleset: RuleSet) -> index.RuleIndex:
    return index.RuleIndex(tuple(None for _ in ruleset.rules), frozenset())


@settings(max_examples=300, deadline=None)
@given(st.lists(finding, max_size=6), st.sampled_from(["enforce", "monitor"]))
def test_decisions_equal_those_that_evaluate_every_rule(findings: list[Finding], mode: str) -> None:
    indexed = decide_module.decide(RULES, Facts(MESSAGE, findings), mode)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(decide_module, "index_of", _every_rule)
        full = decide_module.decide(RULES, Facts(MESSAGE, findings), mode)
    assert indexed == full


def test_the_index_skips_most_shipped_rules_for_a_message_without_findings() -> None:
    idx = index.index_of(RULES)
    needing = sum(n is not None for n in idx.needs)
    assert needing > len(RULES.rules) // 2
    assert not idx.met([])
    assert idx.met(["phi.ssn"]) and idx.met(["phi.ssn"]) <= idx.globs


def test_needed_globs_of_each_kind_of_condition() -> None:
    a, b = FindingCondition("phi.*"), FindingCondition("spam.phrasing", min_count=0)
    always = Predicate("always", lambda facts: True)
    assert index.needed_globs(a) == {"phi.*"}
    assert index.needed_globs(b) == {"spam.phrasing"}  # no candidate: false even with min_count 0
    assert index.needed_globs(AllOf((always, a))) == {"phi.*"}
    assert index.needed_globs(AnyOf((a, b))) == {"phi.*", "spam.phrasing"}
    assert index.needed_globs(AnyOf((a, always))) is None
    assert index.needed_globs(Not(a, "phi")) is None
    assert index.needed_globs(always) is None
    assert not b.evaluate(Facts(MESSAGE, [])).matched
