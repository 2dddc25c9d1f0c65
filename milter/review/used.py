"""Digest links work once: the keys (hashes) of used tokens, in the suppression store's
database (table og_review_used, schema migration 6), so every relay and every restart of
`outguard review serve` sees them."""

from __future__ import annotations

import time

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from outguard.store import SuppressionStore
from outguard.store.schema import review_used


class UsedTokens:
    def __init__(self, store: SuppressionStore) -> None:
        self.store = store
        store.migrate()

    def spend(self, key: str, action: str) -> bool:
        """Mark `key` used; False if it already was (the link worked once before)."""
        try:
            with self.store._write() as conn, conn.begin():  # the store's writer (SQLite: BEGIN IMMEDIATE)
                conn.execute(insert(review_used).values(key=key, used=int(time.time()), action=action))
        except IntegrityError:
            return False
        return True

    def used(self, key: str) -> bool:
        with self.store.engine.connect() as conn:
            return conn.execute(select(review_used.c.key).where(review_used.c.key == key)).first() is not None
