"""Compatibility for third-party plugins: `from outguard.hookspecs import hookimpl`.

The plugin API lives in `outguard.checks`; import from there in new code.
"""

from outguard.checks.spec import InspectContext, StartupContext, hookimpl, hookspec

__all__ = ["InspectContext", "StartupContext", "hookimpl", "hookspec"]
