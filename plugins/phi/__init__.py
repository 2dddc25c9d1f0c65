"""PHI detection: validated identifiers, health context, names (see check.py for settings).

The plugin object is `outguard_plugins.phi.check.PhiCheck`; today's entry point `phi` loads
its one instance from `outguard_plugins.phi.instance`.
"""
