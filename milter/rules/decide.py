"""Turn matched rules into one Decision: the strongest verdict wins, modifiers add up.

Ranking: reject > tempfail > discard > quarantine > encrypt > deliver. Tags, the
route, dropped recipients and notify copies apply unless the message is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from outguard.core.findings import Finding
from outguard.rules.actions import RANK, Reply, render
from outguard.rules.conditions import Facts
from outguard.rules.loader import Rule, RuleSet

REFUSED = ("reject", "tempfail", "discard")
NO_RECIPIENTS_LEFT = Reply("550", "5.7.1", "All recipients were refused by policy")


@dataclass
class RuleMatch:
    rule: Rule
    reasons: list[str]
    findings: list[Finding]
    monitor: bool

    @property
    def verdict(self) -> str:
        return self.rule.then.verdict

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.rule.id, "verdict": self.verdict, "monitor": self.monitor,
                "reasons": self.reasons, "origin": self.rule.origin}


@dataclass
class Decision:
    verdict: str = "deliver"
    findings: list[Finding] = field(default_factory=list)
    matches: list[RuleMatch] = field(default_factory=list)
    reply: Reply | None = None
    route: str | None = None
    quarantine_reason: str | None = None
    add_headers: list[tuple[str, str]] = field(default_factory=list)
    subject_prefix: str | None = None
    drop_recipients: list[str] = field(default_factory=list)
    notify: list[str] = field(default_factory=list)
    monitored: list[tuple[str, str]] = field(default_factory=list)
    deciding_rule: str | None = None
    rules_version: str = ""
    add_unsubscribe: bool = False

    @property
    def rule_ids(self) -> list[str]:
        return [m.rule.id for m in self.matches]

    @property
    def refused(self) -> bool:
        return self.verdict in REFUSED

    def actions(self) -> list[dict[str, Any]]:
        """What will be done to the message, in the order the milter applies it."""
        out: list[dict[str, Any]] = []
        if self.verdict in ("reject", "tempfail") and self.reply:
            out.append({"action": self.verdict, "code": self.reply.code, "status": self.reply.status,
                        "text": self.reply.text, "rule": self.deciding_rule})
        elif self.verdict == "discard":
            out.append({"action": "discard", "rule": self.deciding_rule})
        if not self.refused:
            if self.route:
                out.append({"action": "encrypt", "route": self.route})
            if self.verdict == "quarantine":
                out.append({"action": "quarantine", "reason": self.quarantine_reason, "rule": self.deciding_rule})
            out += [{"action": "drop_recipient", "recipient": r} for r in self.drop_recipients]
            out += [{"action": "notify", "recipient": r} for r in self.notify]
            if self.subject_prefix:
                out.append({"action": "subject_prefix", "value": self.subject_prefix})
            out += [{"action": "add_header", "header": h, "value": v} for h, v in self.add_headers]
        out += [{"action": "monitor", "rule": r, "would": w} for r, w in self.monitored]
        return out


def decide(ruleset: RuleSet, facts: Facts, mode: str = "enforce") -> Decision:
    decision = Decision(findings=list(facts.findings), rules_version=ruleset.version)
    prefixes: list[str] = []
    for rule in ruleset.rules:
        outcome = rule.when.evaluate(facts)
        if not outcome.matched:
            continue
        monitor = mode == "monitor" or rule.mode == "monitor"
        match = RuleMatch(rule, outcome.reasons, outcome.findings, monitor)
        decision.matches.append(match)
        ids = sorted({f.id for f in outcome.findings})
        acts = rule.then
        if monitor:
            decision.monitored.append((rule.id, acts.verdict))
            continue
        if RANK[acts.verdict] > RANK[decision.verdict]:
            decision.verdict, decision.deciding_rule = acts.verdict, rule.id
            chosen = acts.reject or acts.tempfail
            decision.reply = chosen and Reply(chosen.code, chosen.status, render(chosen.text, rule.id, ids))
            if acts.quarantine:
                decision.quarantine_reason = render(acts.quarantine, rule.id, ids)
        if acts.encrypt and decision.route is None:
            decision.route = acts.encrypt
        decision.add_headers += [(h, render(v, rule.id, ids)) for h, v in acts.tags]
        if acts.subject_prefix and acts.subject_prefix not in prefixes:
            prefixes.append(acts.subject_prefix)
        if acts.drop_recipients:
            named = [f.recipient for f in outcome.findings if f.recipient] + outcome.recipients
            decision.drop_recipients += [r for r in dict.fromkeys(named) if r not in decision.drop_recipients]
        decision.notify += [a for a in acts.notify if a not in decision.notify]
        decision.add_unsubscribe = decision.add_unsubscribe or acts.add_unsubscribe
    decision.subject_prefix = " ".join(prefixes) or None

    recipients = {r.lower() for r in facts.envelope.recipients}
    if recipients and recipients <= {r.lower() for r in decision.drop_recipients} and not decision.refused:
        decision.verdict, decision.reply = "reject", NO_RECIPIENTS_LEFT
        decision.deciding_rule = decision.deciding_rule or "drop_recipients"
    return decision


@dataclass(frozen=True)
class Plan:
    """A Decision reduced to plain data: what the milter must do, and what the log and
    audit may say. Picklable, so a worker process can hand it back."""

    verdict: str
    rule_ids: tuple[str, ...] = ()
    deciding_rule: str | None = None
    reply: Reply | None = None
    route: str | None = None
    quarantine_reason: str | None = None
    add_headers: tuple[tuple[str, str], ...] = ()
    subject_prefix: str | None = None
    drop_recipients: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()
    monitored: tuple[tuple[str, str], ...] = ()
    findings: tuple[tuple[str, int, float], ...] = ()  # id, count, confidence: never details
    rules_version: str = ""

    @property
    def refused(self) -> bool:
        return self.verdict in REFUSED

    def finding_summary(self) -> str:
        return ",".join(f"{fid}:{count}" for fid, count, _ in self.findings) or "-"


def plan_of(decision: Decision) -> Plan:
    return Plan(
        verdict=decision.verdict,
        rule_ids=tuple(decision.rule_ids),
        deciding_rule=decision.deciding_rule,
        reply=decision.reply,
        route=decision.route,
        quarantine_reason=decision.quarantine_reason,
        add_headers=tuple(decision.add_headers),
        subject_prefix=decision.subject_prefix,
        drop_recipients=tuple(decision.drop_recipients),
        notify=tuple(decision.notify),
        monitored=tuple(decision.monitored),
        findings=tuple((f.id, f.count, round(f.confidence, 3)) for f in decision.findings),
        rules_version=decision.rules_version,
    )
