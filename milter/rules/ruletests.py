"""Run the tests a rule file carries: each message must get its expected verdict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from outguard.core.decision import Decision, Result
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
    problems += effects_problems(test, result.decision)
    return TestOutcome(rule.id, test.name, test.origin, not problems, tuple(problems))


def effects_problems(test: RuleTest, decision: Decision) -> list[str]:
    """What the test says the decision must do besides its verdict (headers, quarantine
    reason, route, reply text, dropped recipients); values are globs where text varies."""
    problems = []
    added = {name.lower(): value for name, value in decision.add_headers}
    for name, want in test.headers:
        got = added.get(name.lower())
        if got is None or not fnmatchcase(got, want):
            problems.append(f"header {name}: expected {want!r}, got {got!r}")
    if test.quarantine_reason is not None and not fnmatchcase(decision.quarantine_reason or "", test.quarantine_reason):
        problems.append(f"quarantine reason: expected {test.quarantine_reason!r}, got {decision.quarantine_reason!r}")
    if test.route is not None and decision.route != test.route:
        problems.append(f"route: expected {test.route!r}, got {decision.route!r}")
    reply = decision.reply.text if decision.reply else None
    if test.reply is not None and not fnmatchcase(reply or "", test.reply):
        problems.append(f"reply: expected {test.reply!r}, got {reply!r}")
    if test.drop_recipients is not None:
        expected = sorted(r.lower() for r in test.drop_recipients)
        dropped = sorted(r.lower() for r in decision.drop_recipients)
        if expected != dropped:
            problems.append(f"dropped recipients: expected {expected}, got {dropped}")
    return problems


def run_all(ruleset: RuleSet, inspect: Inspect) -> tuple[list[TestOutcome], list[str]]:
    """Every test of every rule, plus lint problems (a stable rule without tests fails)."""
    outcomes = [run_test(inspect, ruleset, rule, t) for rule in ruleset.rules for t in rule.tests]
    return outcomes, [str(issue) for issue in errors(lint(ruleset))]
