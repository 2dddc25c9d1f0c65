"""The plugin API: everything a check imports (hook specs, the Finding and Message
types, contexts and services). The host that runs checks lives in `outguard.checks.host`.
"""
