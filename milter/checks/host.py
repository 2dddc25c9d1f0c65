"""The facade over pluggy: discovery, the allowlist, and containment of every hook call.

The rest of the core never touches `pm.hook`; it asks PluginHost, which turns a crash
or a blown time budget into an `error.<plugin>` finding instead of an exception.
"""

from __future__ import annotations

import logging
import re
import time
import traceback
from functools import partial
from importlib.metadata import entry_points
from typing import Any

import pluggy

from outguard.checks import spec as hookspecs
from outguard.checks.spec import InspectContext, StartupContext
from outguard.core.budget import BudgetExceeded, Running, call_with_budget
from outguard.core.findings import Finding
from outguard.core.message import Attachment, Message

log = logging.getLogger("outguard.checks.host")
ENTRY_POINT_GROUP = "outguard"


class PluginError(Exception):
    """A plugin cannot be loaded or refused to start; start-up must fail."""


def error_id(plugin: str) -> str:
    return "error." + re.sub(r"[^a-z0-9_-]", "_", plugin.lower())


def where_it_broke(exc: BaseException) -> str:
    """Exception type and the innermost frame: enough to debug, never the message text
    (an exception message may quote the very PHI the plugin was looking at)."""
    frames = traceback.extract_tb(exc.__traceback__)
    at = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{at}"


class PluginHost:
    """Loads the allowed plugins and calls their hooks, each within its budget."""

    def __init__(
        self,
        enabled: list[str],
        budget_seconds: float = 5.0,
        budgets: dict[str, float] | None = None,
        settings: dict[str, dict[str, Any]] | None = None,
        services: dict[str, Any] | None = None,
        extra_plugins: dict[str, object] | None = None,
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.budget_seconds = budget_seconds
        self.budgets = dict(budgets or {})
        self.settings = dict(settings or {})
        self.services = dict(services or {})
        self._started = False
        available = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
        for name in enabled:
            if name not in available:
                raise PluginError(f"plugin {name!r} is enabled in the config but not installed "
                                  f"(installed: {', '.join(sorted(available)) or 'none'})")
            try:
                plugin = available[name].load()
            except Exception as exc:
                raise PluginError(f"plugin {name!r} failed to import: {where_it_broke(exc)}") from exc
            self._register(name, plugin)
        for name in sorted(set(available) - set(enabled)):
            log.info("plugin %s is installed but not enabled; it will not run", name)
        for name, plugin in (extra_plugins or {}).items():
            self._register(name, plugin)

    @classmethod
    def from_config(cls, plugins_cfg: dict[str, Any], services: dict[str, Any] | None = None,
                    extra_plugins: dict[str, object] | None = None) -> PluginHost:
        return cls(
            enabled=list(plugins_cfg.get("enabled", [])),
            budget_seconds=float(plugins_cfg.get("budget_seconds", 5.0)),
            budgets=plugins_cfg.get("budgets") or {},
            settings=plugins_cfg.get("settings") or {},
            services=services,
            extra_plugins=extra_plugins,
        )

    def _register(self, name: str, plugin: object) -> None:
        try:
            self.pm.register(plugin, name=name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            raise PluginError(f"plugin {name!r} cannot be registered: {exc}") from exc

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.pm.list_name_plugin()]

    def budget_for(self, plugin: str) -> float:
        return float(self.budgets.get(plugin, self.budget_seconds))

    def _impls(self, hook: str) -> list[Any]:
        return list(reversed(getattr(self.pm.hook, hook).get_hookimpls()))

    @staticmethod
    def _call(impl: Any, **kwargs: Any) -> Any:
        return impl.function(**{arg: kwargs[arg] for arg in impl.argnames})

    def startup(self) -> None:
        """Run every plugin's start-up once; a plugin that fails it stops the start."""
        for impl in self._impls("outguard_startup"):
            ctx = StartupContext(impl.plugin_name, dict(self.settings.get(impl.plugin_name, {})), self.services)
            try:
                self._call(impl, context=ctx)
            except Exception as exc:
                raise PluginError(f"plugin {impl.plugin_name!r} failed to start: {where_it_broke(exc)}") from exc
        self._started = True

    def shutdown(self) -> None:
        for impl in self._impls("outguard_shutdown"):
            try:
                call_with_budget(partial(self._call, impl), self.budget_for(impl.plugin_name), "plugin")
            except BaseException as exc:
                log.warning("plugin %s failed to shut down: %s", impl.plugin_name, where_it_broke(exc))

    def extract_text(self, attachment: Attachment, queue_id: str | None = None) -> tuple[str | None, list[Finding]]:
        """The first plugin's text for `attachment`; failures become findings."""
        errors: list[Finding] = []
        for impl in self._impls("outguard_extract_text"):
            try:
                text = call_with_budget(partial(self._call, impl, attachment=attachment),
                                        self.budget_for(impl.plugin_name), "plugin")
            except BaseException as exc:
                errors.append(self._failure(impl.plugin_name, exc, queue_id, f"attachment:{attachment.label}"))
                continue
            if text is not None:
                if not isinstance(text, str):
                    errors.append(self._failure(impl.plugin_name, TypeError("not str"), queue_id, "attachment"))
                    continue
                return text, errors
        return None, errors

    def inspect(self, message: Message, context: InspectContext) -> list[Finding]:
        """All plugins' findings, each plugin run concurrently within its own budget."""
        started = time.monotonic()
        running = [
            (impl.plugin_name, Running(partial(self._call, impl, message=message, context=context), "plugin"))
            for impl in self._impls("outguard_inspect")
        ]
        findings: list[Finding] = []
        for name, run in running:
            try:
                result = run.wait(started + self.budget_for(name))
                findings.extend(self._validated(name, result))
            except BaseException as exc:
                findings.append(self._failure(name, exc, message.envelope.queue_id, "envelope"))
        return findings

    def _validated(self, plugin: str, result: Any) -> list[Finding]:
        if result is None:
            return []
        if not isinstance(result, (list, tuple)) or not all(isinstance(f, Finding) for f in result):
            raise TypeError("outguard_inspect must return a list of Finding")
        return [f.with_plugin(plugin) for f in result]

    def _failure(self, plugin: str, exc: BaseException, queue_id: str | None, where: str) -> Finding:
        if isinstance(exc, BudgetExceeded):
            detail = f"exceeded its {self.budget_for(plugin):g} s budget"
        else:
            detail = f"raised {where_it_broke(exc)}"
        log.error("%s: plugin %s %s", queue_id or "NOQUEUE", plugin, detail)
        return Finding(error_id(plugin), where=(where,), detail=detail, plugin=plugin)
