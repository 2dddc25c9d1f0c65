"""The one PhiCheck object today's host registers (entry point `phi = outguard_plugins.phi.instance:phi`).

The host (outguard.plugins.PluginHost) registers whatever the entry point loads, and a class
is not a plugin object (pluggy would call its methods without `self`). Once the host makes an
instance of a class it loads, the entry point becomes `outguard_plugins.phi.check:PhiCheck`
and this module goes.
"""

from __future__ import annotations

from .check import PhiCheck

phi = PhiCheck()
