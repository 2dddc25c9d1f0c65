"""The plugin API: everything a check imports, from one place.

    from outguard.checks import Finding, InspectContext, Message, StartupContext, hookimpl

    class TicketCheck:
        emits = ("org.ticket",)
        settings_schema = {"type": "object", "additionalProperties": False,
                           "properties": {"prefix": {"type": "string"}}}

        @hookimpl
        def outguard_startup(self, context: StartupContext) -> None:
            self.prefix = context.settings.get("prefix", "TCK-")

        @hookimpl
        def outguard_inspect(self, message: Message, context: InspectContext) -> list[Finding]:
            ...

The hook contract (order, threading, budgets) is documented in `outguard.checks.spec`.
"""

from outguard.checks.services import (
    EdmIdentifier,
    EdmLookup,
    EdmSchemaInfo,
    ReputationLookup,
    ReputationStatus,
    ServiceUnavailable,
    SuppressionLookup,
    SuppressionRecord,
)
from outguard.checks.spec import NO_SETTINGS, Extracted, InspectContext, StartupContext, hookimpl
from outguard.core.addresses import AddressError, normalise, try_normalise
from outguard.core.findings import Finding, redact
from outguard.core.htmltext import html_to_text
from outguard.core.message import Attachment, Message

__all__ = [
    "NO_SETTINGS", "AddressError", "Attachment", "EdmIdentifier", "EdmLookup", "EdmSchemaInfo",
    "Extracted", "Finding", "InspectContext", "Message", "ReputationLookup", "ReputationStatus",
    "ServiceUnavailable", "StartupContext", "SuppressionLookup", "SuppressionRecord", "hookimpl", "html_to_text",
    "normalise", "redact", "try_normalise",
]
