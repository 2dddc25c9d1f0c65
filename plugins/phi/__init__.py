"""PHI detection: validated identifiers, health context, names (see check.py for settings).

The plugin's hooks live in `outguard_plugins.phi.check` (entry point `phi`).
"""
