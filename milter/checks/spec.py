"""The hooks outguard calls, typed and documented: the whole contract of a check.

A check is a class (or, for old plugins, a module) whose methods are marked `@hookimpl`
and named after the specs below. The entry point (group `outguard`) names the class; the
host makes one instance per `PluginHost`, so state lives on `self` and two hosts in one
process never share it. Class attributes the host reads:

- `emits`: finding id globs the check can produce (`("phi.*",)`); `rules lint` and
  `check-config` use them to catch a `finding:` no enabled check can produce.
- `settings_schema`: JSON Schema of `plugins.settings.<name>`; the host validates the
  site's settings against it before start-up (unknown or mistyped key: start fails).

Order and threading: `outguard_startup` runs once per host, in registration order, in the
thread that builds the host, before any message. Per message, `outguard_extract_text` runs
first, for each attachment (first non-None answer wins), then every `outguard_inspect` runs
in turn in a Python-made thread (a check that overruns is left behind and the rest go on in
another), on the same read-only `Message`, each within its budget from when it starts
(`plugins.budget_seconds`, per check `plugins.budgets`). A check must treat the message as
read-only and keep per-message state in locals (an abandoned one may still be running). `outguard_shutdown`
runs once when the host is closed (reload, stop).

Hook wrappers (`hookwrapper=True`/`wrapper=True`) are refused: a wrapper sees every other
check's result and could silently drop findings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from outguard.core.findings import Finding
    from outguard.core.message import Attachment, Message
    from outguard.core.patterns import PatternSet

PROJECT = "outguard"
# `settings_schema` of a check that takes no settings (any key is then a mistake).
NO_SETTINGS: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@dataclass(frozen=True)
class StartupContext:
    """What a check gets once at start-up: its validated settings and the core's services
    (`services["suppression"]`: a `SuppressionLookup`, when a store is configured)."""

    plugin_name: str
    settings: dict[str, Any]
    services: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InspectContext:
    """Per-message extras for `outguard_inspect`.

    `deadline` is this check's own deadline (a `time.monotonic()` value): a check that loops
    over candidates calls `out_of_time()` now and then and stops (raise `TimeoutError`, or
    return what it has) once it is true. The host reports the overrun as
    `scan.budget_exceeded`, which the shipped rules hold for review."""

    patterns: PatternSet
    pattern_timeout: float
    services: dict[str, Any] = field(default_factory=dict)
    deadline: float | None = None

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def until(self, deadline: float) -> InspectContext:
        """This context with `deadline` (one per check and message: cheaper than dataclasses.replace)."""
        return InspectContext(self.patterns, self.pattern_timeout, self.services, deadline)


@dataclass(frozen=True)
class Extracted:
    """What `outguard_extract_text` may return instead of plain text: the text (None if none
    could be had) and findings about the attachment (`document.unreadable`, `.truncated`,
    `.encrypted`)."""

    text: str | None
    findings: tuple[Finding, ...] = ()


@hookspec
def outguard_startup(context: StartupContext) -> None:
    """Load heavy resources (lexicons, pipelines, lists) once, before any message.

    :param context: the check's name, its validated settings, the core's services.
    Raise to refuse start: the daemon does not start (or a reload keeps the old checks).
    """


@hookspec
def outguard_shutdown() -> None:
    """Release what `outguard_startup` took (connections, files). Called once per host."""


@hookspec(firstresult=True)
def outguard_extract_text(attachment: Attachment, deadline: float | None) -> str | Extracted | None:
    """The text of an attachment you understand, or None to let the next check try.

    :param attachment: name, content type and decoded bytes of one MIME part.
    :param deadline: when this call's budget ends (a `time.monotonic()` value; optional
        to accept): an extractor that loops over pages or members stops there, since the
        host has given up on it and reported `scan.budget_exceeded` by then.
    Return `Extracted(text, findings)` to report an unreadable, truncated or encrypted
    attachment. Runs within the check's budget, before any `outguard_inspect`.
    """


@hookspec
def outguard_inspect(message: Message, context: InspectContext) -> list[Finding] | None:
    """Report findings (facts, with redacted details) about `message`. Never verdicts.

    :param message: the parsed message with its text views (read-only, shared by all checks).
    :param context: custom patterns from the rule files, services, and this check's deadline.
    Return a list of `Finding` (or None). An exception becomes an `error.<check>` finding.
    """


HOOKS: tuple[str, ...] = ("outguard_startup", "outguard_shutdown", "outguard_extract_text", "outguard_inspect")
