"""Runs the identifier patterns defined in the rule files (an organisation's MRN format).

The finding ids are the patterns' own ids, so `rules lint` knows them from the rule set.
"""

from __future__ import annotations

from outguard.checks import NO_SETTINGS, Finding, InspectContext, Message, hookimpl


class CustomPatternsCheck:
    emits: tuple[str, ...] = ()  # the rule set's pattern ids, added by lint from the patterns themselves
    settings_schema = NO_SETTINGS

    @hookimpl
    def outguard_inspect(self, message: Message, context: InspectContext) -> list[Finding]:
        return context.patterns.scan(message, context.pattern_timeout, context.deadline)
