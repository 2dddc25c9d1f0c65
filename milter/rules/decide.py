"""Turn matched rules into one Decision: the strongest verdict wins, modifiers add up.

Tags, the route, dropped recipients and notify copies apply unless the message is
refused (`outguard.core.verdict` has the ranking). A `shadow` rule, like a monitored one,
changes nothing but is listed (`Decision.shadowed`: the daemon holds a marked copy); a rule
with `allow_override` steps aside when the sender's override marker permits it.
"""

from __future__ import annotations

from outguard.core.decision import Decision, Match, Reply
from outguard.core.verdict import Verdict
from outguard.rules.actions import render
from outguard.rules.conditions import Facts
from outguard.rules.index import index_of
from outguard.rules.loader import RuleSet
from outguard.rules.override import OverrideMarker, redacted_reason

NO_RECIPIENTS_LEFT = Reply("550", "5.7.1", "All recipients were refused by policy")


def decide(ruleset: RuleSet, facts: Facts, mode: str = "enforce", marker: OverrideMarker | None = None) -> Decision:
    decision = Decision(findings=list(facts.findings), rules_version=ruleset.version)
    prefixes: list[str] = []
    claim = (marker or OverrideMarker()).find(facts.message) if any(r.allow_override for r in ruleset.rules) else None
    index = index_of(ruleset)
    met = index.met({f.id for f in facts.findings})
    for rule, needs in zip(ruleset.rules, index.needs, strict=True):
        if needs is not None and needs.isdisjoint(met):
            continue  # it needs a finding this message has not got
        outcome = rule.when.evaluate(facts)
        if not outcome.matched:
            continue
        acts = rule.then
        monitor = mode == "monitor" or rule.mode == "monitor"
        decision.matches.append(Match(rule.id, acts.verdict, monitor, tuple(outcome.reasons), rule.origin,
                                      rule.status, rule.description))
        ids = sorted({f.id for f in outcome.findings})
        if monitor:
            decision.monitored.append((rule.id, acts.verdict))
            continue
        if rule.shadow:
            decision.shadowed.append((rule.id, acts.verdict))
            continue
        if rule.allow_override and claim is not None and (marker or OverrideMarker()).permits(rule.allow_override, claim):
            decision.overrides.append((rule.id, rule.allow_override))
            decision.justification = redacted_reason(claim, decision.findings)
            continue
        if acts.notify_sender and decision.notice is None:
            decision.notice = (acts.notify_sender, rule.id, rule.allow_override or "")
        if acts.verdict.rank > decision.verdict.rank:
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
        decision.verdict, decision.reply = Verdict.REJECT, NO_RECIPIENTS_LEFT
        decision.deciding_rule = decision.deciding_rule or "drop_recipients"
    return decision
