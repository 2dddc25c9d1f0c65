"""The plugin API: every hook outguard calls, typed, prefixed `outguard_`.

A plugin is a module or object with functions marked `@hookimpl`, registered under
the entry-point group `outguard`. The core calls these only through `PluginHost`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from outguard.core.findings import Finding
    from outguard.core.message import Attachment, Message
    from outguard.core.patterns import PatternSet

PROJECT = "outguard"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@dataclass(frozen=True)
class StartupContext:
    """What a plugin gets once at start-up: its own settings and the core's services."""

    plugin_name: str
    settings: dict[str, Any]
    services: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InspectContext:
    """Per-message extras: the custom identifier patterns of the rule set in force."""

    patterns: PatternSet
    pattern_timeout: float
    services: dict[str, Any] = field(default_factory=dict)


@hookspec
def outguard_startup(context: StartupContext) -> None:
    """Load heavy resources (pipelines, lists) once, before any message. Raise to refuse start."""


@hookspec
def outguard_shutdown() -> None:
    """Release what `outguard_startup` took."""


@hookspec(firstresult=True)
def outguard_extract_text(attachment: Attachment) -> str | None:
    """Return the text of an attachment you understand, or None to let others try."""


@hookspec
def outguard_inspect(message: Message, context: InspectContext) -> list[Finding] | None:
    """Report findings (facts, with redacted details) about `message`. Never verdicts."""
