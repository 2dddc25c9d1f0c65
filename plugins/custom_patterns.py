"""Runs the identifier patterns defined in the rule files (an organisation's MRN format)."""

from __future__ import annotations

from outguard.findings import Finding
from outguard.hookspecs import InspectContext, hookimpl
from outguard.message import Message


@hookimpl
def outguard_inspect(message: Message, context: InspectContext) -> list[Finding]:
    return context.patterns.scan(message, context.pattern_timeout)
