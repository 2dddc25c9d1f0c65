"""The suppression store: append events, derive records, look recipients up in one query."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, delete, exc, func, insert, or_, select, text, update

from outguard.checks.services import ServiceUnavailable
from outguard.core.addresses import normalise_scope
from outguard.store import schema
from outguard.store.engine import StoreLocation, make_engine, resolve, sqlite_identity
from outguard.store.policy import ADMIN_ONLY, EVENT_KINDS, Event, Policy, Record, fold

log = logging.getLogger("outguard.store")

DB_ERRORS = (exc.OperationalError, exc.InterfaceError, exc.DatabaseError, exc.ResourceClosedError, OSError)


class StoreError(Exception):
    """A request the store refuses (bad input, an admin-only lift without --force)."""


class StoreUnavailable(StoreError, ServiceUnavailable):
    """The database cannot be reached or read. The text names the failure, never an address."""


@dataclass(frozen=True)
class Change:
    """What one recorded event did to its record."""

    event: Event
    before: Record | None
    after: Record | None  # None: the event was not recorded (a delivery to an address with no record)

    @property
    def newly_suppressed(self) -> bool:
        return bool(self.after and self.after.in_force(self.event.at)
                    and not (self.before and self.before.in_force(self.event.at)))

    @property
    def lifted(self) -> bool:
        return bool(self.before and self.before.in_force(self.event.at)
                    and not (self.after and self.after.in_force(self.event.at)))

    @property
    def outcome(self) -> str:
        """One word for summaries: ignored, newly_suppressed, lifted, already_suppressed, recorded."""
        if self.after is None:
            return "ignored"
        if self.newly_suppressed:
            return "newly_suppressed"
        if self.lifted:
            return "lifted"
        return "already_suppressed" if self.after.in_force(self.event.at) else "recorded"


_s = schema.suppressions
# Built once: per message only the parameters change (SQLAlchemy caches the compiled form).
_LOOKUP = select(_s).where(
    _s.c.address.in_(bindparam("addresses", expanding=True)),
    _s.c.scope.in_(bindparam("scopes", expanding=True)),
    _s.c.active.is_(True),
    or_(_s.c.expires.is_(None), _s.c.expires > bindparam("now")),
)


def _unavailable(err: BaseException) -> StoreUnavailable:
    # Driver messages can quote SQL parameters (addresses): keep only the type and the first words.
    kind = type(getattr(err, "orig", None) or err).__name__
    return StoreUnavailable(f"suppression store unavailable ({kind})")


class SuppressionStore:
    """One store (SQLite file or PostgreSQL database). Thread-safe; connections pooled."""

    def __init__(self, location: StoreLocation, policy: Policy | None = None, create: bool = False,
                 connect_timeout: float = 3.0) -> None:
        self.location = location
        self.policy = policy or Policy()
        self.create = create
        self.connect_timeout = connect_timeout
        self._engine: Engine | None = None
        self._identity: tuple[int, int] | None = None
        self._migrated = False
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Any, url: str | None = None, create: bool = False) -> SuppressionStore:
        """The store a config names (`url`, from `--store`, wins), with the config's policy."""
        cfg = config.section("store")
        return cls(resolve(url, cfg), Policy.from_config(cfg["policy"]), create=create,
                   connect_timeout=float(cfg["connect_timeout_seconds"]))

    # -- connections -------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        with self._lock:
            path = self.location.sqlite_path
            if path is not None and self._engine is not None:
                ident = sqlite_identity(path)
                if ident != self._identity:  # the file was replaced or removed: drop pooled handles
                    self._engine.dispose()
                    self._engine = None
                    self._migrated = False
            if self._engine is None:
                self._engine = make_engine(self.location, self.create, self.connect_timeout)
                if path is not None:
                    self._identity = sqlite_identity(path)
            return self._engine

    def _reset(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
            self._engine = None
            self._migrated = False

    def close(self) -> None:
        self._reset()

    def _write(self) -> Connection:
        return self.engine.connect().execution_options(outguard_write=True)

    def migrate(self) -> list[int]:
        """Bring the schema to the latest version (idempotent; safe from several relays at once)."""
        try:
            with self._write() as conn, conn.begin():
                applied = schema.migrate(conn)
        except DB_ERRORS as err:
            self._reset()
            raise _unavailable(err) from err
        if self.location.sqlite_path is not None:
            self._identity = sqlite_identity(self.location.sqlite_path)
        self._migrated = True
        return applied

    def _ensure(self) -> None:
        if not self._migrated:
            self.migrate()

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return schema.current_version(conn)

    # -- the hot path -------------------------------------------------------------------------

    def lookup(self, addresses: Sequence[str], scopes: Sequence[str] = ("global",),
               now: int | None = None) -> dict[str, list[Record]]:
        """Records in force for any of `addresses` (normalised) in any of `scopes`: one query."""
        if not addresses:
            return {}
        params = {"addresses": sorted(set(addresses)), "scopes": sorted(set(scopes) | {"global"}),
                  "now": int(time.time()) if now is None else now}
        for attempt in (1, 2):
            try:
                with self.engine.connect() as conn:
                    if conn.dialect.name == "postgresql":  # one statement: no BEGIN/ROLLBACK round trips
                        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                    rows = conn.execute(_LOOKUP, params).all()
                break
            except DB_ERRORS as err:
                # A pooled connection the server dropped (a restart): retry once on a fresh one.
                if attempt == 1 and getattr(err, "connection_invalidated", False):
                    continue
                self._reset()
                raise _unavailable(err) from err
        found: dict[str, list[Record]] = {}
        for row in rows:
            rec = Record.from_row(row)
            found.setdefault(rec.address, []).append(rec)
        return found

    # -- writing ------------------------------------------------------------------------------

    def record(self, events: Iterable[Event], dry_run: bool = False) -> list[Change]:
        """Append `events` and update their records, all in one transaction (or roll back
        everything when `dry_run`). Deliveries to addresses without a record are not kept."""
        changes: list[Change] = []
        try:
            self._ensure()
            with self._write() as conn:
                trans = conn.begin()
                try:
                    for ev in events:
                        changes.append(self._apply(conn, ev))
                    trans.rollback() if dry_run else trans.commit()
                except BaseException:
                    trans.rollback()
                    raise
        except DB_ERRORS as err:
            self._reset()
            raise _unavailable(err) from err
        return changes

    def _apply(self, conn: Connection, ev: Event) -> Change:
        if ev.kind not in EVENT_KINDS:
            raise StoreError(f"unknown event kind {ev.kind!r}")
        ev = replace(ev, scope=normalise_scope(ev.scope))
        s = schema.suppressions
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"{ev.address}|{ev.scope}"})
        row = conn.execute(select(s).where(s.c.address == ev.address, s.c.scope == ev.scope)).first()
        before = Record.from_row(row) if row else None
        if ev.kind == "delivered" and before is None:
            return Change(ev, None, None)
        values = {k: getattr(ev, k) for k in ("at", "address", "scope", "kind", "source", "status", "smtp_code",
                                              "diagnostic", "remote_mta", "feedback_type", "reason", "expires", "actor",
                                              "note")}
        values["recorded"] = int(time.time())
        event_id = conn.execute(insert(schema.events).values(**values).returning(schema.events.c.id)).scalar_one()
        ev = replace(ev, id=int(event_id))
        after = fold(before, ev, self.policy)
        if before is None:
            conn.execute(insert(s).values(**after.as_row()))
        else:
            conn.execute(update(s).where(s.c.address == ev.address, s.c.scope == ev.scope).values(**after.as_row()))
        return Change(ev, before, after)

    def remove(self, address: str, scope: str = "global", actor: str | None = None, force: bool = False,
               note: str | None = None, dry_run: bool = False) -> Change:
        """An administrator lifts a suppression. A complaint needs `force`."""
        scope = normalise_scope(scope)
        current = self.get(address, scope)
        rec = current[0] if current else None
        if rec is None or not rec.active:
            raise StoreError("not suppressed in that scope")
        if rec.reason in ADMIN_ONLY and not force:
            raise StoreError(f"suppressed for {rec.reason}: only an administrator lifts it (use --force)")
        ev = Event(address, "remove", int(time.time()), scope=scope, source="manual", actor=actor, note=note)
        return self.record([ev], dry_run=dry_run)[0]

    # -- reading ------------------------------------------------------------------------------

    def get(self, address: str, scope: str | None = None) -> list[Record]:
        s = schema.suppressions
        query = select(s).where(s.c.address == address)
        if scope is not None:
            query = query.where(s.c.scope == normalise_scope(scope))
        try:
            self._ensure()
            with self.engine.connect() as conn:
                return [Record.from_row(r) for r in conn.execute(query.order_by(s.c.scope)).all()]
        except DB_ERRORS as err:
            self._reset()
            raise _unavailable(err) from err

    def history(self, address: str) -> list[Event]:
        e = schema.events
        try:
            self._ensure()
            with self.engine.connect() as conn:
                rows = conn.execute(select(e).where(e.c.address == address).order_by(e.c.id)).all()
        except DB_ERRORS as err:
            self._reset()
            raise _unavailable(err) from err
        out = []
        for r in rows:
            m = dict(r._mapping)
            m.pop("recorded", None)
            out.append(Event(**m))
        return out

    def records(self, reason: str | None = None, scope: str | None = None, in_force_only: bool = True,
                now: int | None = None, batch: int = 5000) -> Iterator[Record]:
        """Records in address order, streamed in batches (an export of millions stays small)."""
        s = schema.suppressions
        now = int(time.time()) if now is None else now
        conds: list[Any] = []
        if reason:
            conds.append(s.c.reason == reason)
        if scope:
            conds.append(s.c.scope == normalise_scope(scope))
        if in_force_only:
            conds += [s.c.active.is_(True), or_(s.c.expires.is_(None), s.c.expires > now)]
        else:
            conds.append(s.c.reason.is_not(None))
        self._ensure()
        after: tuple[str, str] = ("", "")
        while True:
            query = (select(s).where(and_(*conds), or_(s.c.address > after[0],
                                                       and_(s.c.address == after[0], s.c.scope > after[1])))
                     .order_by(s.c.address, s.c.scope).limit(batch))
            try:
                with self.engine.connect() as conn:
                    rows = conn.execute(query).all()
            except DB_ERRORS as err:
                self._reset()
                raise _unavailable(err) from err
            for r in rows:
                yield Record.from_row(r)
            if len(rows) < batch:
                return
            last = rows[-1]
            after = (last.address, last.scope)

    def counts(self, now: int | None = None) -> dict[str, int]:
        s = schema.suppressions
        now = int(time.time()) if now is None else now
        self._ensure()
        with self.engine.connect() as conn:
            rows = conn.execute(select(s.c.reason, func.count()).where(
                s.c.active.is_(True), or_(s.c.expires.is_(None), s.c.expires > now)).group_by(s.c.reason)).all()
        return {str(r[0]): int(r[1]) for r in rows}

    def rebuild(self) -> int:
        """Re-derive every record from the event log under the current policy; return how many."""
        e, s = schema.events, schema.suppressions
        self._ensure()
        derived: dict[tuple[str, str], Record] = {}
        with self._write() as conn, conn.begin():
            for r in conn.execute(select(e).order_by(e.c.id)).yield_per(10000):
                m = dict(r._mapping)
                m.pop("recorded", None)
                ev = Event(**m)
                if ev.kind == "delivered" and (ev.address, ev.scope) not in derived:
                    continue
                derived[(ev.address, ev.scope)] = fold(derived.get((ev.address, ev.scope)), ev, self.policy)
            conn.execute(delete(s))
            rows = [rec.as_row() for rec in derived.values()]
            for i in range(0, len(rows), 5000):
                conn.execute(insert(s), rows[i:i + 5000])
        return len(derived)

    def bulk_load(self, events: Sequence[Event], chunk: int = 20000) -> None:
        """Append many suppressing events for distinct (address, scope) pairs that have no record
        yet, fast (the benchmark's million rows, a first import into an empty store)."""
        e, s = schema.events, schema.suppressions
        self._ensure()
        now = int(time.time())
        with self._write() as conn, conn.begin():
            start = int(conn.execute(select(func.coalesce(func.max(e.c.id), 0))).scalar_one())
            for i in range(0, len(events), chunk):
                part = events[i:i + chunk]
                ev_rows, rec_rows = [], []
                for n, ev in enumerate(part, start + i + 1):
                    ev = replace(ev, id=n, scope=normalise_scope(ev.scope))
                    ev_rows.append({"id": n, "at": ev.at, "recorded": now, "address": ev.address, "scope": ev.scope,
                                    "kind": ev.kind, "source": ev.source, "status": ev.status,
                                    "smtp_code": ev.smtp_code, "diagnostic": ev.diagnostic,
                                    "remote_mta": ev.remote_mta, "feedback_type": ev.feedback_type,
                                    "reason": ev.reason, "expires": ev.expires, "actor": ev.actor, "note": ev.note})
                    rec_rows.append(fold(None, ev, self.policy).as_row())
                conn.execute(insert(e), ev_rows)
                conn.execute(insert(s), rec_rows)
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT setval(pg_get_serial_sequence('og_events', 'id'), "
                                  "(SELECT coalesce(max(id), 1) FROM og_events))"))
