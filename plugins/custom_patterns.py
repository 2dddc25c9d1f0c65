"""Runs the identifier patterns defined in the rule files (an organisation's MRN format)."""

from __future__ import annotations

from outguard.checks.spec import InspectContext, hookimpl
from outguard.core.findings import Finding
from outguard.core.message import Message


@hookimpl
def outguard_inspect(message: Message, context: InspectContext) -> list[Finding]:
    return context.patterns.scan(message, context.pattern_timeout)
