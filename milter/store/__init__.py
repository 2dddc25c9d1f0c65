"""The suppression store (`outguard.store`): who must not be mailed again, and why.

Public API for the core and the CLI: `resolve`/`StoreLocation` (where), `SuppressionStore`
(events in, records out), `Policy`/`Event`/`Record` (the rules and the data),
`normalise` (the address key), and `services_from_config` (what checks get as
`services["suppression"]`). Checks use only `outguard.checks.SuppressionLookup.lookup`.


SQLAlchemy is imported only when a store is opened: the names of `store.py` load on first
use (PEP 562), so `outguard check` and a daemon without a store never pay for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from outguard.core.addresses import AddressError, normalise, normalise_scope, try_normalise
from outguard.store.engine import StoreLocation, hand_to_state_dir_owner, resolve
from outguard.store.policy import EVENT_KINDS, REASONS, Event, Policy, Record
from outguard.store.service import SuppressionService, services_from_config

if TYPE_CHECKING:
    from outguard.store.store import Change, StoreError, StoreUnavailable, SuppressionStore

_LAZY = {"Change", "StoreError", "StoreUnavailable", "SuppressionStore"}

__all__ = [
    "AddressError", "Change", "EVENT_KINDS", "Event", "Policy", "REASONS", "Record", "StoreError", "StoreLocation",
    "StoreUnavailable", "SuppressionService", "SuppressionStore", "hand_to_state_dir_owner",
    "normalise", "normalise_scope", "resolve", "services_from_config", "try_normalise",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module("outguard.store.store"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
