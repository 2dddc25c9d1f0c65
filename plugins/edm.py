"""Exact data match: `phi.edm.<schema>` when an identifier found in the mail (by the PHI
check's own detectors, or the schema's pattern) is one of the organisation's records AND
a corroborating field of that same record (a name, the date of birth) stands within the
window. A number shaped like an MRN that is nobody's, or a real MRN with no name or date
of its patient near it, gives nothing. The records come through `services["edm"]`
(outguard.edm, keyed hashes in the store); values never leave this check but as hashes."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import regex

from outguard.checks import EdmLookup, EdmSchemaInfo, Finding, InspectContext, Message, StartupContext, hookimpl
from outguard_plugins.helpers import stop_if_late
from outguard_plugins.phi.identifiers import IDENTIFIERS, anchored_matches

log = logging.getLogger("outguard.checks.edm")
PATTERN_TIMEOUT = 0.25
_GROUPS = {"ssn": ("ssn", "digits"), "mbi": ("mbi",), "digits": ("digits",)}
_ANCHORED = {"mrn", "member_id"}


class EdmCheck:
    emits = ("phi.edm.*",)
    settings_schema = {"type": "object", "additionalProperties": False, "properties": {}}

    def __init__(self) -> None:
        self.service: EdmLookup | None = None
        self._patterns: dict[str, regex.Pattern[str]] = {}

    @hookimpl
    def outguard_startup(self, context: StartupContext) -> None:
        self.service = context.services.get("edm")
        if self.service is None:
            log.info("no EDM store configured (edm.secret_file): exact data match is off")

    def _pattern(self, source: str) -> regex.Pattern[str]:
        compiled = self._patterns.get(source)
        if compiled is None:
            compiled = self._patterns[source] = regex.compile(source)
        return compiled

    def _identifiers(self, schema: EdmSchemaInfo, text: str) -> Iterator[tuple[str, int, int]]:
        """(primary column, start, end) of every candidate identifier in `text`."""
        detectors = {p.detector for p in schema.primary}
        if detectors & set(_GROUPS):
            for m in IDENTIFIERS.finditer(text):
                for p in schema.primary:
                    if m.lastgroup in _GROUPS.get(p.detector, ()):
                        yield p.column, m.start(), m.end()
        if detectors & _ANCHORED:
            for m in anchored_matches(text):
                for p in schema.primary:
                    if p.detector in _ANCHORED:
                        yield p.column, m.start("value"), m.end("value")
        for p in schema.primary:
            if p.detector == "pattern" and p.pattern:
                for m in self._pattern(p.pattern).finditer(text, timeout=PATTERN_TIMEOUT):
                    yield p.column, m.start(), m.end()

    @hookimpl
    def outguard_inspect(self, message: Message, context: InspectContext) -> list[Finding]:
        if self.service is None:
            return []
        schemas = self.service.schemas()
        if not schemas:
            return []
        window = self.service.window
        findings = []
        views = list(message.texts("subject", "body", "html", "attachment"))
        for schema in schemas:
            candidates: list[tuple[str, str, str]] = []
            where: list[str] = []
            for view in views:
                stop_if_late(context.deadline, "edm")
                text = view.text
                for column, start, end in self._identifiers(schema, text):
                    candidates.append((column, text[start:end],
                                       text[max(0, start - window):start] + " " + text[end:end + window]))
                    where.append(view.where)
            hits = self.service.match(schema.name, candidates) if candidates else []
            if not hits:
                continue
            columns = sorted({c for _, cols in hits for c in cols})
            records = {candidates[i][1] for i, _ in hits}
            findings.append(Finding(f"phi.edm.{schema.name}", confidence=0.99, count=len(records),
                                    where=tuple(dict.fromkeys(where[i] for i, _ in hits)),
                                    detail=f"{len(records)} record(s) of {schema.name} matched on {', '.join(columns)}"))
        return findings
