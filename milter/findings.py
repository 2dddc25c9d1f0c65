"""Compatibility for third-party plugins: `from outguard.findings import Finding`.

The plugin API lives in `outguard.checks`; import from there in new code.
"""

from outguard.core.findings import Finding, redact

__all__ = ["Finding", "redact"]
