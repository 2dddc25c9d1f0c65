"""Message -> findings -> Decision: the one path shared by the daemon, `check` and rule tests."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from outguard.checks.host import PluginHost, where_it_broke
from outguard.checks.spec import InspectContext
from outguard.core.config import Config
from outguard.core.decision import Decision, Reply, Result
from outguard.core.findings import Finding
from outguard.core.message import Envelope, Message, ScanLimits, parse_message
from outguard.core.message import envelope_from_headers as fill_envelope
from outguard.core.verdict import Verdict
from outguard.rules.conditions import Facts
from outguard.rules.decide import decide
from outguard.rules.loader import RuleSet, load_rules
from outguard.unsubscribe.action import Unsubscriber

log = logging.getLogger("outguard.pipeline")

INTERNAL_ERROR = "error.internal"
ON_ERROR_REPLY = Reply("451", "4.3.0", "Message could not be inspected; try again later")


class Inspector:
    """Holds the plugins and the rule set in force; `reload()` swaps rules atomically."""

    def __init__(self, config: Config, host: PluginHost, ruleset: RuleSet,
                 rule_paths: list[Path] | None = None, include_defaults: bool | None = None,
                 owned_services: list[Any] | None = None) -> None:
        self.config = config
        self.unsubscriber = Unsubscriber.from_config(config) if ruleset.adds_unsubscribe else None
        self._owned_services = list(owned_services or [])  # made from the config here: closed with us
        self._include_defaults = include_defaults
        self.host = host
        self._ruleset = ruleset
        self._rule_paths = list(rule_paths or [])
        self._lock = threading.Lock()
        self.limits = ScanLimits.from_config(config.scan)

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
        return cls(config, host, ruleset, rule_paths, include_defaults, list(services.values()) if owned else [])

    @property
    def ruleset(self) -> RuleSet:
        return self._ruleset

    def reload(self, config: Config | None = None) -> RuleSet:
        """Load and validate a new rule set; on any error raise and keep the old one."""
        new = load_rules(config or self.config, self._rule_paths, self._include_defaults)
        unsubscriber = self.unsubscriber
        if new.adds_unsubscribe and (unsubscriber is None or config is not None):
            unsubscriber = Unsubscriber.from_config(config or self.config)
        with self._lock:
            self._ruleset = new
            self.unsubscriber = unsubscriber
            if config is not None:
                self.config = config
                self.limits = ScanLimits.from_config(config.scan)
        return new

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
            extraction_errors: list[Finding] = []
            for att in message.attachments:
                text, errors = self.host.extract_text(att, envelope.queue_id)
                extraction_errors += errors
                if text:
                    message.add_text(f"attachment:{att.label}", text)
            context = InspectContext(patterns=rules.patterns,
                                     pattern_timeout=float(self.config.scan.get("pattern_timeout_seconds", 0.25)),
                                     services=self.host.services)
            findings = message.scan_findings + extraction_errors + self.host.inspect(message, context)
            decision = decide(rules, Facts(message, findings), self.config.mode)
            if self.unsubscriber is not None:
                self.unsubscriber.apply(decision, message)
        except Exception as exc:
            log.error("%s: inspection failed: %s; applying on_error=%s",
                      envelope.queue_id or "NOQUEUE", where_it_broke(exc), self.config.on_error)
            decision = self.failure_decision(f"inspection failed: {type(exc).__name__}")
        return Result(message, decision, time.monotonic() - started)

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
