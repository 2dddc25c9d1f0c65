"""Problems a rule set can load with but must not ship with, each with a severity and the
`file:line` it is at (pySigma's validators): errors fail `rules lint` and `check-config`,
warnings are printed.

- error: a stable rule without tests;
- error: a literal `finding:` id that no running check (nor the core, nor a rule-file
  pattern) can produce: a typo such as `phi.snn` would never match and protect nothing.
  The message names the nearest known id;
- warning: a glob that nothing running matches yet (`phi.mrn.*`, for a site's own patterns);
- warning: a running check that declares no finding ids (its findings cannot be checked);
- the sender-loop keys: error: `notify_sender` names a template the config does not define;
  warning: `notify_sender` or `allow_override` on a rule that neither holds, refuses nor
  encrypts (no notice is sent for it; nothing to override), `shadow` with `mode: monitor`
  (monitor already changes nothing) or on a rule whose verdict is deliver (no copy is held),
  `allow_override` on a shadow rule (a shadow rule is never enforced).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase

from outguard.core.verdict import Verdict
from outguard.rules.loader import Rule, RuleSet

# Findings the core itself reports whatever checks run (`outguard.checks.host`, `core.message`).
CORE_FINDINGS: tuple[str, ...] = ("scan.truncated", "scan.nesting", "scan.undecodable", "scan.malformed",
                                  "scan.pattern_timeout", "scan.budget_exceeded", "error.*")


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Issue:
    severity: Severity
    origin: str  # file:line
    message: str

    def __str__(self) -> str:
        return f"{self.origin}: {self.severity}: {self.message}"


def known_findings(emits: Mapping[str, tuple[str, ...] | None], ruleset: RuleSet) -> dict[str, tuple[str, ...] | None]:
    """Finding id globs by producer: the core, each running check, the rule files' patterns."""
    known: dict[str, tuple[str, ...] | None] = {"core": CORE_FINDINGS}
    known.update(emits)
    if "custom_patterns" in emits:  # the check that runs the rule files' own patterns
        known["custom_patterns"] = tuple(emits["custom_patterns"] or ()) + ruleset.patterns.ids
    return known


def _prefix(glob: str) -> str:
    return re.split(r"[*?\[]", glob, maxsplit=1)[0]


def overlaps(wanted: str, produced: str) -> bool:
    """Can a finding id match both globs? (Exact for literals; by literal prefix otherwise.)"""
    if fnmatchcase(produced, wanted) or fnmatchcase(wanted, produced):
        return True
    if not any(c in produced for c in "*?[") or not any(c in wanted for c in "*?["):
        return False
    a, b = _prefix(wanted), _prefix(produced)
    return a.startswith(b) or b.startswith(a)


NOTICE_VERDICTS = (Verdict.QUARANTINE, Verdict.REJECT, Verdict.ENCRYPT)  # what a notice is sent for


def loop_issues(rule: Rule, templates: Collection[str] | None) -> list[Issue]:
    """What is wrong with a rule's `notify_sender`, `allow_override` and `shadow`."""
    out = []
    verdict = rule.then.verdict
    if rule.then.notify_sender:
        if templates is not None and rule.then.notify_sender not in templates:
            out.append(Issue(Severity.ERROR, rule.origin, f"rule {rule.id}: notify_sender template "
                             f"{rule.then.notify_sender!r} is not defined (notify.templates: {', '.join(sorted(templates))})"))
        if verdict not in NOTICE_VERDICTS:
            out.append(Issue(Severity.WARNING, rule.origin, f"rule {rule.id}: notify_sender on a rule that gives "
                             f"{verdict}: notices are sent on quarantine, reject or encrypt only"))
    if rule.allow_override and verdict == Verdict.DELIVER:
        out.append(Issue(Severity.WARNING, rule.origin, f"rule {rule.id}: allow_override on a rule that only "
                                                        "tags: there is nothing to override"))
    if rule.shadow:
        if rule.mode == "monitor":
            out.append(Issue(Severity.WARNING, rule.origin, f"rule {rule.id}: shadow and mode: monitor together; "
                                                            "monitor wins and no shadow copy is held"))
        if verdict == Verdict.DELIVER:
            out.append(Issue(Severity.WARNING, rule.origin, f"rule {rule.id}: shadow on a rule that gives deliver: "
                                                            "no shadow copy is held"))
        if rule.allow_override:
            out.append(Issue(Severity.WARNING, rule.origin, f"rule {rule.id}: allow_override on a shadow rule, "
                                                            "which is never enforced"))
    return out


def lint(ruleset: RuleSet, emits: Mapping[str, tuple[str, ...] | None] | None = None,
         templates: Collection[str] | None = None) -> list[Issue]:
    """Everything wrong with `ruleset` that loading let through. Without `emits` (which
    checks run and what they produce) finding ids are not checked; without `templates`
    (the notice template ids the config has), notify_sender's template is not."""
    issues = []
    for rule in ruleset.rules:
        if rule.status == "stable" and not rule.tests:
            issues.append(Issue(Severity.ERROR, rule.origin, f"rule {rule.id} is stable but has no tests"))
        issues += loop_issues(rule, templates)
    if emits is None:
        return issues
    known = known_findings(emits, ruleset)
    undeclared = sorted(name for name, globs in known.items() if globs is None)
    for name in undeclared:
        issues.append(Issue(Severity.WARNING, name, f"check {name} declares no finding ids (`emits`); "
                                                    "rules naming its findings cannot be checked"))
    if undeclared:
        return issues
    produced = [g for globs in known.values() for g in globs or ()]
    for rule in ruleset.rules:
        for glob, origin in rule.finding_refs:
            if any(overlaps(glob, p) for p in produced):
                continue
            near = difflib.get_close_matches(glob, produced, n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]}?" if near else ""
            if any(c in glob for c in "*?["):  # a family a site's own patterns may fill (phi.mrn.*)
                issues.append(Issue(Severity.WARNING, origin, f"rule {rule.id}: nothing running produces a "
                                                              f"finding matching {glob!r} yet"))
            else:  # a literal id nobody produces never matches: a typo, or a check that is off
                issues.append(Issue(Severity.ERROR, origin, f"rule {rule.id}: no running check produces "
                                                            f"finding {glob!r}{hint}"))
    return issues


def errors(issues: Iterable[Issue]) -> list[Issue]:
    return [i for i in issues if i.severity == Severity.ERROR]
