"""The one config loader: embedded defaults, then the site file merged over them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from outguard.core.yamlsource import Loaded, SourceError, load_file, load_text, validate

DEFAULT_CONFIG_PATH = Path("/etc/outguard/outguard.yaml")


@cache
def load_schema(name: str) -> dict[str, Any]:
    text = resources.files("outguard").joinpath("schemas", f"{name}.schema.json").read_text()
    return json.loads(text)


class ConfigError(Exception):
    """The configuration cannot be used; the message names file and line."""


@dataclass(frozen=True)
class Config:
    """Validated settings. `raw` keeps the merged mapping for sections owned by others."""

    raw: dict[str, Any]
    source: str

    @property
    def mode(self) -> str:
        return str(self.raw["mode"])

    @property
    def on_error(self) -> str:
        return str(self.raw["on_error"])

    @property
    def plugins(self) -> dict[str, Any]:
        return dict(self.raw["plugins"])

    @property
    def scan(self) -> dict[str, Any]:
        return dict(self.raw["scan"])

    @property
    def rules(self) -> dict[str, Any]:
        return dict(self.raw["rules"])

    @property
    def routes(self) -> dict[str, Any]:
        return dict(self.raw["routes"])

    @property
    def headers(self) -> dict[str, str]:
        return dict(self.raw["headers"])

    def section(self, name: str) -> dict[str, Any]:
        return dict(self.raw.get(name) or {})


def _defaults() -> Loaded:
    text = resources.files("outguard").joinpath("defaults", "config.yaml").read_text()
    return load_text(text, "<embedded defaults>")


def merge(base: Any, over: Any) -> Any:
    """Mappings merge key by key; anything else in `over` replaces `base`."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = merge(base.get(key), value) if key in base else value
        return out
    return over


def load_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Defaults, merged with `path` (or /etc/outguard/outguard.yaml if present), then `overrides`.

    Raises ConfigError naming `file:line` for every problem found.
    """
    merged: Any = _defaults().data
    source = "<embedded defaults>"
    if path is None and DEFAULT_CONFIG_PATH.exists():
        path = DEFAULT_CONFIG_PATH
    if path is not None:
        try:
            site = load_file(Path(path))
        except SourceError as exc:
            raise ConfigError(str(exc)) from None
        if site.data is None:
            site = Loaded(site.file, {}, site.lines)
        errors = validate(site, load_schema("config"))
        if errors:
            raise ConfigError("\n".join(str(e) for e in errors))
        merged = merge(merged, site.data)
        source = str(path)
    if overrides:
        merged = merge(merged, overrides)
    final = Loaded(source, merged, {})
    errors = validate(final, load_schema("config"))
    if errors:
        raise ConfigError("\n".join(str(e) for e in errors))
    return Config(raw=merged, source=source)
