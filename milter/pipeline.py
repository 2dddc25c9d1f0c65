"""Message -> findings -> Decision: the one path shared by the daemon, `check` and rule tests."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

from outguard.checks.host import BUDGET_EXCEEDED, PluginHost, error_id, where_it_broke
from outguard.checks.spec import InspectContext
from outguard.core.config import Config, ConfigError
from outguard.core.decision import Decision, Reply, Result
from outguard.core.findings import Finding
from outguard.core.message import Envelope, Message, ScanLimits, parse_message
from outguard.core.message import envelope_from_headers as fill_envelope
from outguard.core.verdict import Verdict
from outguard.rules.actions import AUTO_ROUTE
from outguard.rules.conditions import Facts
from outguard.rules.decide import decide
from outguard.rules.lint import known_findings, overlaps
from outguard.rules.loader import RuleSet, load_rules
from outguard.rules.override import OverrideMarker
from outguard.unsubscribe.action import Unsubscriber

log = logging.getLogger("outguard.pipeline")

INTERNAL_ERROR = "error.internal"
ON_ERROR_REPLY = Reply("451", "4.3.0", "Message could not be inspected; try again later")


class Inspector:
    """The checks and the rule set in force, for one config. A reload builds a new one
    (new check objects, start-up run again) and swaps it in whole (`outguard.daemon.runner`)."""

    def __init__(self, config: Config, host: PluginHost, ruleset: RuleSet,
                 owned_services: list[Any] | None = None) -> None:
        self.config = config
        self.unsubscriber = Unsubscriber.from_config(config) if ruleset.adds_unsubscribe else None
        self._owned_services = list(owned_services or [])  # made from the config here: closed with us
        self.host = host
        self._ruleset = ruleset
        self.limits = ScanLimits.from_config(config.scan)
        self.override_marker = OverrideMarker.from_config(config.section("override"))
        # True: every check runs, also those whose findings no loaded rule reads (`check --explain`,
        # `--json`, `--all-findings`, rule tests); False (the daemon): they are skipped.
        self.all_findings = False
        self._unused: dict[int, tuple[RuleSet, frozenset[str]]] = {}
        self._encryptor: Any = None  # outguard.encryption.Encryptor, made when a rule first says `encrypt: auto`
        if any(rule.then.encrypt == AUTO_ROUTE for rule in ruleset.rules):
            route = config.section("encryption").get("tls_route") or "tls-required"
            if route not in config.routes:  # said at start, not at the first message
                raise ConfigError(f"encrypt: auto needs encryption.tls_route {route!r} among the routes "
                                  f"({', '.join(config.routes) or 'none'})")

    @classmethod
    def create(cls, config: Config, rule_paths: list[Path] | None = None, include_defaults: bool | None = None,
               extra_plugins: dict[str, object] | None = None, services: dict[str, Any] | None = None) -> Inspector:
        """Load rules first (cheap, most likely to be wrong), then start the plugins."""
        ruleset = load_rules(config, rule_paths, include_defaults)
        owned = services is None  # the core made them from the config, so the core closes them
        if services is None:
            from outguard.store import services_from_config
            services = services_from_config(config)
        host = PluginHost.from_config(config.plugins, services=services, extra_plugins=extra_plugins)
        host.startup()
        return cls(config, host, ruleset, list(services.values()) if owned else [])

    @property
    def ruleset(self) -> RuleSet:
        return self._ruleset

    def skipped_checks(self, ruleset: RuleSet | None = None) -> list[str]:
        """Checks left out for `ruleset` (default: the loaded one): no rule reads their findings."""
        if self.all_findings:
            return []
        return sorted(self._unused_for(ruleset or self._ruleset))

    def _unused_for(self, rules: RuleSet) -> frozenset[str]:
        """Memoised per rule set object (the daemon passes the same few again and again)."""
        known = self._unused.get(id(rules))
        if known is None or known[0] is not rules:
            if len(self._unused) > 8:
                self._unused.clear()
            known = (rules, unused_checks(known_findings(self.host.emits(), rules), rules.finding_globs))
            self._unused[id(rules)] = known
        return known[1]

    def inspect(self, raw: bytes, envelope: Envelope, ruleset: RuleSet | None = None,
                envelope_from_headers: bool = False) -> Result:
        """Inspect one message. Never raises: an internal failure gets the configured action.

        `envelope_from_headers` fills a missing sender/recipients from the headers (dry runs only).
        """
        started = time.monotonic()
        rules = ruleset or self._ruleset
        message: Message | None = None
        try:
            message = parse_message(raw, envelope, self.limits)
            if envelope_from_headers:
                message.envelope = fill_envelope(message, envelope)
            extracted: list[Finding] = []
            for att in message.attachments:
                text, about = self.host.extract_text(att, envelope.queue_id)
                extracted += about
                if text:
                    message.add_text(f"attachment:{att.label}", text)
            context = InspectContext(patterns=rules.patterns,
                                     pattern_timeout=float(self.config.scan["pattern_timeout_seconds"]),
                                     services=self.host.services)
            skip = () if self.all_findings else self._unused_for(rules)
            findings = message.scan_findings + merged(extracted) + self.host.inspect(message, context, skip)
            decision = decide(rules, Facts(message, findings), self.config.mode, self.override_marker)
            if self.unsubscriber is not None:
                self.unsubscriber.apply(decision, message)
            if decision.route == AUTO_ROUTE:  # dry runs (check, rule tests) choose and explain, never encrypt
                self.encrypt(decision, raw, message, encrypt_now=not envelope_from_headers)
        except Exception as exc:
            log.error("%s: inspection failed: %s; applying on_error=%s",
                      envelope.queue_id or "NOQUEUE", where_it_broke(exc), self.config.on_error)
            decision = self.failure_decision(f"inspection failed: {type(exc).__name__}")
        return Result(message, decision, time.monotonic() - started)

    def encrypt(self, decision: Decision, raw: bytes, message: Message, encrypt_now: bool) -> None:
        """`encrypt: auto`: fitted to every recipient left and every notify copy."""
        if self._encryptor is None:
            from outguard.encryption import Encryptor

            self._encryptor = Encryptor.from_config(self.config)
        dropped = {r.lower() for r in decision.drop_recipients}
        recipients = [r for r in message.envelope.recipients if r.lower() not in dropped] + list(decision.notify)
        self._encryptor.apply(decision, raw, recipients, encrypt_now)

    def dry_run(self, raw: bytes, envelope: Envelope, ruleset: RuleSet | None = None) -> Result:
        """`inspect` as `check` and the rule tests use it: a missing envelope comes from the headers."""
        return self.inspect(raw, envelope, ruleset, envelope_from_headers=True)

    def failure_decision(self, detail: str) -> Decision:
        return failure_decision(self.config.on_error, detail)

    def close(self) -> None:
        self.host.shutdown()
        for service in self._owned_services:
            if hasattr(service, "close"):
                service.close()


def unused_checks(produced: dict[str, tuple[str, ...] | None], read: frozenset[str]) -> frozenset[str]:
    """Checks none of whose findings (`produced`, as lint knows them) matches a glob the rules
    read: their inspection cannot change a verdict. A check declaring nothing (None) always runs.
    Besides its own, every check can end in the host's `error.<check>` or `scan.budget_exceeded`
    (the shipped rules read both: with them, a check is skipped only if those are overridden)."""
    def used(name: str, globs: tuple[str, ...]) -> bool:
        mine = (*globs, error_id(name), BUDGET_EXCEEDED)
        return any(overlaps(r, g) for r in read for g in mine)

    return frozenset(name for name, globs in produced.items()
                     if name != "core" and globs is not None and not used(name, globs))


def merged(findings: list[Finding]) -> list[Finding]:
    """Findings about attachments, one per (id, detail): three password-protected PDFs are
    one `attachment.unreadable` with count 3, seen in all three."""
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.id, f.detail, f.plugin), []).append(f)
    return [group[0] if len(group) == 1 else
            dataclasses.replace(group[0], count=sum(f.count for f in group),
                                where=tuple(dict.fromkeys(w for f in group for w in f.where)))
            for group in groups.values()]


def failure_decision(on_error: str, detail: str) -> Decision:
    """The configured `on_error` action, for failures no rule could see."""
    finding = Finding(INTERNAL_ERROR, detail=detail, plugin="core")
    verdict = Verdict.DELIVER if on_error == "accept" else Verdict(on_error)
    decision = Decision(verdict=verdict, findings=[finding], deciding_rule="on_error")
    if verdict == Verdict.TEMPFAIL:
        decision.reply = ON_ERROR_REPLY
    elif verdict == Verdict.REJECT:
        decision.reply = Reply("550", "5.3.0", "Message could not be inspected")
    elif verdict == Verdict.QUARANTINE:
        decision.quarantine_reason = "inspection failed"
    return decision
