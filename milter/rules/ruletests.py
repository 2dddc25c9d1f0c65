"""Run the tests a rule file carries: each message must get its expected verdict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from outguard.core.decision import Result
from outguard.core.message import Envelope
from outguard.rules.lint import errors, lint
from outguard.rules.loader import Rule, RuleSet, RuleTest

# How a test message is inspected: raw bytes, envelope, the rule set to decide with. The
# caller passes the real pipeline (outguard.pipeline.Inspector), so a rule test sees
# exactly what the daemon does, and this module needs nothing but the core.
Inspect = Callable[[bytes, Envelope, RuleSet], Result]


@dataclass(frozen=True)
class TestOutcome:
    rule: str
    test: str
    origin: str
    passed: bool
    problems: tuple[str, ...]


def test_message(test: RuleTest) -> bytes:
    if test.file is not None:
        return test.file.read_bytes()
    return (test.message or "").encode("utf-8")


def run_test(inspect: Inspect, ruleset: RuleSet, rule: Rule, test: RuleTest) -> TestOutcome:
    envelope = Envelope(sender=test.sender or "", recipients=test.recipients,
                        auth_user=test.auth_user, client_address=test.client_address)
    result = inspect(test_message(test), envelope, ruleset.enforcing(rule.id))
    problems = []
    verdict = result.decision.verdict
    if verdict != test.expect:
        problems.append(f"expected {test.expect}, got {verdict} (rules: {', '.join(result.decision.rule_ids) or 'none'})")
    matched = rule.id in result.decision.rule_ids
    if test.matches is not None and matched != test.matches:
        problems.append(f"rule {'did not match' if test.matches else 'matched'} (expected matches: {test.matches})")
    ids = [f.id for f in result.findings]
    for glob in test.findings:
        if not any(fnmatchcase(i, glob) for i in ids):
            problems.append(f"no finding {glob} (found: {', '.join(sorted(set(ids))) or 'none'})")
    return TestOutcome(rule.id, test.name, test.origin, not problems, tuple(problems))


def run_all(ruleset: RuleSet, inspect: Inspect) -> tuple[list[TestOutcome], list[str]]:
    """Every test of every rule, plus lint problems (a stable rule without tests fails)."""
    outcomes = [run_test(inspect, ruleset, rule, t) for rule in ruleset.rules for t in rule.tests]
    return outcomes, [str(issue) for issue in errors(lint(ruleset))]
