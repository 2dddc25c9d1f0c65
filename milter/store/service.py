"""What a check gets from the core as `services["suppression"]`: look-ups, nothing else.

Lazy (nothing is imported or opened until a check asks), and it recovers by itself: a
failed look-up raises `StoreUnavailable` (the core turns that into `error.<plugin>`, and
the shipped rules tempfail the message), drops its connections, and the next message
connects afresh.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from outguard.core.config import Config, ConfigError
from outguard.store.engine import StoreLocation, resolve
from outguard.store.policy import Policy, Record

if TYPE_CHECKING:
    from outguard.store.store import SuppressionStore

log = logging.getLogger("outguard.store")


class SuppressionService:
    def __init__(self, location: StoreLocation, policy: Policy | None = None, connect_timeout: float = 3.0) -> None:
        self.location = location
        self._policy, self._connect_timeout = policy, connect_timeout
        self._made: SuppressionStore | None = None

    @property
    def _store(self) -> SuppressionStore:
        """The store, made (and SQLAlchemy imported) on first use; idempotent, so a race makes two
        equal unconnected stores and keeps one."""
        if self._made is None:
            from outguard.store.store import SuppressionStore

            self._made = SuppressionStore(self.location, self._policy, create=False,
                                          connect_timeout=self._connect_timeout)
        return self._made

    @property
    def display(self) -> str:
        return self.location.display

    def _absent_default(self) -> bool:
        """The implicit default file does not exist yet: nobody suppressed anybody."""
        path = self.location.sqlite_path
        return self.location.implicit and path is not None and not path.exists()

    def prepare(self) -> bool:
        """At start-up: connect and bring the schema up to date if the store can be reached.
        Never raises: an unreachable store is reported, and each message then gets the
        failure action until it is back."""
        if self._absent_default():
            log.info("suppression store %s does not exist yet (the first `outguard suppress` creates it)",
                     self.display)
            return True
        from outguard.store.store import StoreUnavailable

        try:
            applied = self._store.migrate()
        except StoreUnavailable as exc:
            log.error("suppression store %s: %s; messages get the failure action until it is back", self.display, exc)
            return False
        if applied:
            log.info("suppression store %s: schema migrated to version %d", self.display, applied[-1])
        return True

    def lookup(self, addresses: Sequence[str], scopes: Sequence[str] = ("global",)) -> dict[str, list[Record]]:
        """Records in force for the (normalised) addresses in any of the scopes; one query."""
        if not addresses or self._absent_default():
            return {}
        self._store._ensure()
        return self._store.lookup(addresses, scopes)

    def close(self) -> None:
        if self._made is not None:
            self._made.close()


def services_from_config(config: Config, url: str | None = None) -> dict[str, Any]:
    """The services the core hands to checks. `url` (`--store`) wins over the config."""
    store_cfg = config.section("store")
    location = resolve(url, store_cfg)
    policy = Policy.from_config(store_cfg.get("policy"))
    from outguard.reputation.service import reputation_service  # here: outguard.reputation imports the store

    services: dict[str, Any] = {
        "suppression": SuppressionService(location, policy, float(store_cfg["connect_timeout_seconds"])),
        "reputation": reputation_service(config, url)}
    if "edm" in config.raw:
        from outguard.edm import EdmSecretError, service_from_config

        try:
            edm = service_from_config(config, location)
        except EdmSecretError as exc:
            raise ConfigError(str(exc)) from None
        if edm is not None:
            services["edm"] = edm
    return services
