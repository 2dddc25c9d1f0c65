"""Prometheus metrics on a loopback port (prometheus-client). Labels carry verdicts, rule ids,
finding ids and plugin names: values from code and rule files, never from a message."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from outguard.core.budget import abandoned_calls
from outguard.core.decision import Decision

log = logging.getLogger("outguard.ops.metrics")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages = Counter("outguard_messages", "Messages decided, by verdict", ["verdict"], registry=r)
        self.findings = Counter("outguard_findings", "Findings reported, by finding id", ["finding"], registry=r)
        self.rule_hits = Counter("outguard_rule_hits", "Rules that matched, by rule id", ["rule"], registry=r)
        self.plugin_errors = Counter("outguard_plugin_errors", "Checks that failed or overran their budget",
                                     ["plugin"], registry=r)
        self.inspection_failures = Counter("outguard_inspection_failures",
                                           "Messages that got on_error (dead worker, no worker free, internal error)",
                                           registry=r)
        self.inspection_timeouts = Counter("outguard_inspection_timeouts",
                                           "Messages whose inspection overran daemon.inspect_timeout_seconds (on_timeout)",
                                           registry=r)
        self.store_errors = Counter("outguard_store_errors", "Suppression store failures seen by checks", registry=r)
        self.latency = Histogram("outguard_inspection_seconds", "End-of-message to decision, in seconds",
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
                                 registry=r)
        self.in_flight = Gauge("outguard_inspections_in_flight", "Messages waiting for or under inspection",
                               registry=r)
        self.abandoned = Gauge("outguard_abandoned_calls", "Check calls still running past their budget",
                               registry=r)
        self.abandoned.set_function(abandoned_calls)
        self.own = Counter("outguard_own_submissions", "outguard's own submissions seen again (not inspected), by "
                           "kind: notice, shadow (copy held for a trial rule), release (as-is)", ["kind"], registry=r)
        self.shadow_hits = Counter("outguard_shadow_rule_hits", "Shadow (trial) rules that matched, by rule id, "
                                   "with the verdict they would have given", ["rule", "would"], registry=r)
        self.overrides = Counter("outguard_overrides", "Rules a sender's override marker let mail past, by rule id",
                                 ["rule"], registry=r)

    def observe(self, decision: Decision, seconds: float) -> None:
        if decision.origin != "inspected":  # shadow copies stay out of the message counts
            self.own.labels(decision.origin).inc()
            return
        for rule, would in decision.shadowed:
            self.shadow_hits.labels(rule, would).inc()
        for rule, _ in decision.overrides:
            self.overrides.labels(rule).inc()
        self.messages.labels(decision.verdict).inc()
        self.latency.observe(seconds)
        trial = {rule for rule, _ in decision.shadowed}  # counted in shadow_hits, apart
        for rule in decision.rule_ids:
            if rule not in trial:
                self.rule_hits.labels(rule).inc()
        for finding in decision.findings:
            fid = finding.id
            self.findings.labels(fid).inc(finding.count)
            if fid == "error.internal":
                self.inspection_failures.inc()
            elif fid == "scan.budget_exceeded" and finding.plugin == "core":
                self.inspection_timeouts.inc()
            elif fid.startswith("error."):
                self.plugin_errors.labels(fid.removeprefix("error.")).inc()
                if fid == "error.recipients":
                    self.store_errors.inc()

    def serve(self, listen: str) -> bool:
        """Start the exposition thread; a port in use is logged, never fatal."""
        host, _, port = listen.rpartition(":")
        try:
            start_http_server(int(port), addr=host.strip("[]"), registry=self.registry)
        except OSError as exc:
            log.error("metrics: cannot listen on %s: %s", listen, exc.strerror)
            return False
        log.info("metrics on http://%s/metrics", listen)
        return True
