"""Sending pace per provider, as Postfix configuration generated from `reputation.pacing`.

Each provider gets its own transport (a copy of `smtp` in master.cf, named
`outguard_<provider>`), its recipient domains are mapped to it in transport_maps, and
main.cf limits that transport: `<transport>_destination_concurrency_limit`,
`_destination_rate_delay`, `_destination_recipient_limit`. Postfix counts these per
destination (recipient domain), so each domain of a provider is paced on its own.

`pacing_files(config)` returns the lines per file, for `outguard reputation pacing` and the
Postfix snippets command (issue 16) to write out.
"""

from __future__ import annotations

from typing import Any

from outguard.core.config import Config

LIMITS = ("destination_concurrency_limit", "destination_rate_delay", "destination_recipient_limit")


def transport_name(provider: str, spec: dict[str, Any]) -> str:
    return str(spec.get("transport") or f"outguard_{provider.replace('-', '_')}")


def pacing_files(config: Config | dict[str, Any]) -> dict[str, list[str]]:
    """{"transport": [...], "main.cf": [...], "master.cf": [...]}; empty lists when pacing is off."""
    section = config.section("reputation") if isinstance(config, Config) else dict(config)
    pacing = dict(section.get("pacing") or {})
    files: dict[str, list[str]] = {"transport": [], "main.cf": [], "master.cf": []}
    if not pacing.get("enabled", True):
        return files
    providers = dict(pacing.get("providers") or {})
    for provider, spec in sorted(providers.items()):
        if not spec.get("enabled", True):
            continue   # a shipped provider the site switched off (mappings merge over the defaults)
        name = transport_name(provider, spec)
        files["master.cf"].append(f"{name:<15} unix  -       -       -       -       -       smtp")
        files["main.cf"].append(f"# {provider}: its own transport, paced per recipient domain")
        for key in LIMITS:
            if key in spec:
                files["main.cf"].append(f"{name}_{key} = {spec[key]}")
        if str(spec.get("destination_rate_delay", "0")).rstrip("smhdw") not in ("", "0"):
            files["main.cf"].append(f"# (a non-zero {name}_destination_rate_delay sends one message at a time per domain)")
        for domain in spec.get("domains") or []:
            files["transport"].append(f"{str(domain).lower():<30} {name}:")
    if files["transport"]:
        files["main.cf"].append("# transport_maps = hash:/etc/postfix/transport  (then: postmap /etc/postfix/transport)")
    return files


def render(files: dict[str, list[str]]) -> str:
    """The files as one text, each under a `# ==> NAME <==` line."""
    out = []
    for name, lines in files.items():
        out.append(f"# ==> {name} <==")
        out += lines or ["# (nothing: reputation.pacing has no providers or is off)"]
        out.append("")
    return "\n".join(out)
