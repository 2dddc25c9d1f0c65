"""The facade over pluggy: which checks run, how they are made, and containment of every call.

The rest of the core never touches `pm.hook`; it asks PluginHost, which turns a crash
into an `error.<check>` finding and an overrun into `scan.budget_exceeded`, instead of
an exception. Which checks run: every check shipped with outguard (the `outguard`
distribution's own entry points) unless `plugins.disabled` names it, plus the installed
third-party checks that `plugins.enabled` names. Adding a check never switches the
shipped ones off.
"""

from __future__ import annotations

import difflib
import inspect
import logging
import re
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import jsonschema
import pluggy

from outguard.checks import spec
from outguard.checks.inturn import InTurn
from outguard.checks.spec import Extracted, InspectContext, StartupContext
from outguard.core.budget import BudgetExceeded, call_with_budget
from outguard.core.findings import Finding
from outguard.core.message import Attachment, Message

log = logging.getLogger("outguard.checks")
ENTRY_POINT_GROUP = "outguard"
SHIPPED_DISTRIBUTION = "outguard"
BUDGET_EXCEEDED = "scan.budget_exceeded"
# Findings the core itself reports, whatever checks run (for lint and check-config).
CORE_FINDINGS = ("scan.*", "error.*")


class PluginError(Exception):
    """A check cannot be loaded, is misconfigured, or refused to start: start-up must fail."""


def error_id(plugin: str) -> str:
    return "error." + re.sub(r"[^a-z0-9_-]", "_", plugin.lower())


def where_it_broke(exc: BaseException, inside: Path | None = None) -> str:
    """Exception type and a frame: enough to debug, never the message text (an exception
    message may quote the very PHI the check was looking at). With `inside` (a check's
    file or folder), the innermost frame of that check's own code, not the library's."""
    frames = list(traceback.extract_tb(exc.__traceback__))
    if inside is not None:
        own = [f for f in frames if Path(f.filename).is_relative_to(inside)]
        frames = own or frames
    if not frames:
        return type(exc).__name__
    frame = frames[-1]
    path = Path(frame.filename)
    name = str(path.relative_to(inside.parent)) if inside is not None and path.is_relative_to(inside) else path.name
    return f"{type(exc).__name__} at {name}:{frame.lineno}"


def _shipped(ep: EntryPoint) -> bool:
    return ep.dist is not None and ep.dist.name == SHIPPED_DISTRIBUTION


def shipped_checks() -> list[str]:
    """The checks that come with outguard and run unless `plugins.disabled` names them
    (optional ones, such as spamd, run only when `plugins.enabled` names them)."""
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)
                  if _shipped(ep) and not getattr(ep.load(), "optional", False))


def exactly(names: Iterable[str]) -> dict[str, list[str]]:
    """The `plugins` config section that runs exactly `names` (tests, benches)."""
    names, shipped = list(names), shipped_checks()
    return {"enabled": [n for n in names if n not in shipped], "disabled": [n for n in shipped if n not in names]}


def _source_of(plugin: object) -> Path | None:
    """Where a check's code lives: its module's file, or the folder of its own package
    (`outguard_plugins/phi/` for `outguard_plugins.phi.check`)."""
    module = inspect.getmodule(plugin if inspect.ismodule(plugin) else type(plugin))
    if module is None or not getattr(module, "__file__", None):
        return None
    path = Path(str(module.__file__)).resolve()
    return path.parent if module.__name__.count(".") >= 2 or path.name == "__init__.py" else path


class PluginHost:
    """Makes the enabled checks and calls their hooks, each within its budget."""

    def __init__(
        self,
        enabled: Iterable[str] = (),
        disabled: Iterable[str] = (),
        budget_seconds: float = 5.0,
        budgets: Mapping[str, float] | None = None,
        settings: Mapping[str, Mapping[str, Any]] | None = None,
        services: Mapping[str, Any] | None = None,
        extra_plugins: Mapping[str, object] | None = None,
        shipped: bool = True,
    ) -> None:
        self.pm = pluggy.PluginManager(spec.PROJECT)
        self.pm.add_hookspecs(spec)
        self.budget_seconds = budget_seconds
        self.budgets = dict(budgets or {})
        self.settings = {k: dict(v or {}) for k, v in (settings or {}).items()}
        self.services = dict(services or {})
        self.sources: dict[str, Path | None] = {}
        available = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
        disabled, enabled = set(disabled), list(dict.fromkeys(enabled))
        for name in [*enabled, *disabled]:
            if name not in available:
                raise PluginError(f"plugins: check {name!r} is named in the config but not installed "
                                  f"(installed: {', '.join(sorted(available)) or 'none'})")
        wanted = [n for n, ep in sorted(available.items()) if shipped and _shipped(ep) and n not in disabled]
        wanted += [n for n in enabled if n not in wanted and n not in disabled]
        for name in wanted:
            try:
                loaded = available[name].load()
            except Exception as exc:
                raise PluginError(f"check {name!r} failed to import: {where_it_broke(exc)}") from exc
            if getattr(loaded, "optional", False) and name not in enabled:
                continue  # shipped but off by default (it needs something of the site's, e.g. a spamd)
            self._register(name, loaded)
        for name in sorted(set(available) - set(self.sources) - disabled):
            log.info("check %s is installed but not enabled (plugins.enabled); it will not run", name)
        for name, plugin in (extra_plugins or {}).items():
            self._register(name, plugin)
        self._refuse_unknown_hooks()
        for name in self.settings:
            if name not in self.sources:
                raise PluginError(f"plugins.settings.{name}: no such check runs (running: {', '.join(self.names)})")
            self._validate_settings(name)

    @classmethod
    def from_config(cls, plugins_cfg: Mapping[str, Any], services: Mapping[str, Any] | None = None,
                    extra_plugins: Mapping[str, object] | None = None) -> PluginHost:
        return cls(
            enabled=plugins_cfg["enabled"],
            disabled=plugins_cfg["disabled"],
            budget_seconds=float(plugins_cfg["budget_seconds"]),
            budgets=plugins_cfg["budgets"],
            settings=plugins_cfg["settings"],
            services=services,
            extra_plugins=extra_plugins,
        )

    # -- making and checking the checks ---------------------------------------------

    def _register(self, name: str, loaded: object) -> None:
        plugin = loaded() if inspect.isclass(loaded) else loaded  # a class: one instance per host
        try:
            self.pm.register(plugin, name=name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            raise PluginError(f"check {name!r} cannot be registered: {exc}") from exc
        self.sources[name] = _source_of(plugin)

    def _refuse_unknown_hooks(self) -> None:
        """A misspelt hook would never run and a wrapper could drop other checks' findings:
        both stop the start, naming the check (tox 4's `check_pending`, made strict)."""
        for name, plugin in self.pm.list_name_plugin():
            for attr in dir(plugin):
                if attr.startswith("outguard_") and attr not in spec.HOOKS and callable(getattr(plugin, attr, None)):
                    close = difflib.get_close_matches(attr, spec.HOOKS, n=1) or spec.HOOKS
                    raise PluginError(f"check {name!r}: {attr} is not an outguard hook (did you mean "
                                      f"{' or '.join(close)}?)")
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"check {self.pm.get_name(exc.plugin)!r}: {exc}") from exc
        for hook in spec.HOOKS:
            for impl in getattr(self.pm.hook, hook).get_hookimpls():
                if impl.hookwrapper or impl.wrapper:
                    raise PluginError(f"check {impl.plugin_name!r}: {hook} is a hook wrapper; outguard refuses "
                                      "wrappers (one check must not see or change another's findings)")

    def _validate_settings(self, name: str) -> None:
        schema = getattr(self.pm.get_plugin(name), "settings_schema", None)
        if schema is None:
            return
        for error in sorted(jsonschema.Draft202012Validator(schema).iter_errors(self.settings[name]),
                            key=lambda e: list(e.absolute_path)):
            where = ".".join(str(p) for p in error.absolute_path)
            if error.validator == "additionalProperties":
                known = sorted(schema.get("properties", {}))
                raise PluginError(f"plugins.settings.{name}: {error.message} (known settings: {', '.join(known)})")
            raise PluginError(f"plugins.settings.{name}{'.' + where if where else ''}: {error.message}")

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.pm.list_name_plugin()]

    def emits(self) -> dict[str, tuple[str, ...] | None]:
        """Finding id globs each running check declares (None: it declares none, so anything)."""
        out: dict[str, tuple[str, ...] | None] = {}
        for name, plugin in self.pm.list_name_plugin():
            declared = getattr(plugin, "emits", None)
            out[name] = tuple(declared) if declared is not None else None
        return out

    def budget_for(self, plugin: str) -> float:
        return float(self.budgets.get(plugin, self.budget_seconds))

    # -- calling them ---------------------------------------------------------------

    def _impls(self, hook: str) -> list[Any]:
        return list(reversed(getattr(self.pm.hook, hook).get_hookimpls()))

    @staticmethod
    def _call(impl: Any, **kwargs: Any) -> Any:
        return impl.function(**{arg: kwargs[arg] for arg in impl.argnames})

    def startup(self) -> None:
        """Run every check's start-up once; a check that fails it stops the start."""
        for impl in self._impls("outguard_startup"):
            ctx = StartupContext(impl.plugin_name, dict(self.settings.get(impl.plugin_name, {})), self.services)
            try:
                self._call(impl, context=ctx)
            except Exception as exc:
                raise PluginError(f"check {impl.plugin_name!r} failed to start: "
                                  f"{where_it_broke(exc, self.sources.get(impl.plugin_name))}") from exc

    def shutdown(self) -> None:
        for impl in self._impls("outguard_shutdown"):
            try:
                call_with_budget(partial(self._call, impl), self.budget_for(impl.plugin_name), "plugin")
            except BaseException as exc:
                log.warning("check %s failed to shut down: %s", impl.plugin_name,
                            where_it_broke(exc, self.sources.get(impl.plugin_name)))

    def extract_text(self, attachment: Attachment, queue_id: str | None = None) -> tuple[str | None, list[Finding]]:
        """The first check's text for `attachment`, and findings about it; failures become findings."""
        findings: list[Finding] = []
        where = f"attachment:{attachment.label}"
        for impl in self._impls("outguard_extract_text"):
            name = impl.plugin_name
            budget = self.budget_for(name)
            call = partial(self._call, impl, attachment=attachment, deadline=time.monotonic() + budget)
            try:
                answer = call_with_budget(call, budget, "plugin")
            except BaseException as exc:
                findings.append(self._failure(name, exc, queue_id, where))
                continue
            if isinstance(answer, Extracted):
                findings += [f.with_plugin(name) for f in answer.findings if isinstance(f, Finding)]
                answer = answer.text
                if answer is None and findings:
                    return None, findings
            if answer is not None:
                if not isinstance(answer, str):
                    findings.append(self._failure(name, TypeError("not str"), queue_id, where))
                    continue
                return answer, findings
        return None, findings

    def inspect(self, message: Message, context: InspectContext, skip: Iterable[str] = ()) -> list[Finding]:
        """All checks' findings (but those in `skip`): the checks run in turn in one pooled
        thread (`InTurn`), each within its own budget from the moment it starts."""
        skip = frozenset(skip)
        impls = [impl for impl in self._impls("outguard_inspect") if impl.plugin_name not in skip]
        if not impls:
            return []

        def call(impl: Any) -> Callable[[float], Any]:
            return lambda deadline: self._call(impl, message=message, context=context.until(deadline))

        turns = InTurn([call(impl) for impl in impls], [self.budget_for(impl.plugin_name) for impl in impls])
        findings: list[Finding] = []
        for index, impl in enumerate(impls):
            try:
                findings.extend(self._validated(impl.plugin_name, turns.wait(index)))
            except BaseException as exc:
                findings.append(self._failure(impl.plugin_name, exc, message.envelope.queue_id, "envelope"))
        return findings

    def _validated(self, plugin: str, result: Any) -> list[Finding]:
        if result is None:
            return []
        if not isinstance(result, (list, tuple)) or not all(isinstance(f, Finding) for f in result):
            raise TypeError("outguard_inspect must return a list of Finding")
        return [f.with_plugin(plugin) for f in result]

    def _failure(self, plugin: str, exc: BaseException, queue_id: str | None, where: str) -> Finding:
        if isinstance(exc, (BudgetExceeded, TimeoutError)):
            detail = f"{plugin} exceeded its {self.budget_for(plugin):g} s budget"
            log.error("%s: check %s", queue_id or "NOQUEUE", detail)
            return Finding(BUDGET_EXCEEDED, where=(where,), detail=detail, plugin=plugin)
        detail = f"raised {where_it_broke(exc, self.sources.get(plugin))}"
        log.error("%s: check %s %s", queue_id or "NOQUEUE", plugin, detail)
        return Finding(error_id(plugin), where=(where,), detail=detail, plugin=plugin)

