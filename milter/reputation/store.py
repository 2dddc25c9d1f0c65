"""The reputation tables (schema v5) on the suppression store's engine: accepted recipients
in, window figures, daily series and pauses out."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, insert, or_, select

from outguard.store import schema
from outguard.store.policy import BOUNCE_HARD, Event, bounce_reason_of
from outguard.store.store import DB_ERRORS, SuppressionStore, _unavailable

from .figures import Pause, WindowFigures
from .settings import DAY

_a, _e, _p = schema.rep_accepted, schema.events, schema.rep_pauses
# A DSN's date and the milter's clock may differ a little: a bounce this much older than the
# accepted record still belongs to it.
CLOCK_SLACK = 300


def key_condition(key: str) -> ColumnElement[bool]:
    """The accepted records counted under `key` (`domain:` is the sender's mail without a stream)."""
    kind, _, value = key.partition(":")
    if kind == "domain":
        return and_(_a.c.sender_domain == value, _a.c.stream.is_(None))
    if kind == "ip":
        return _a.c.egress == value
    if kind == "sender":   # every stream of one sender domain (the doctor's complaint rate)
        return _a.c.sender_domain == value
    return _a.c.stream == key


class ReputationStore(SuppressionStore):
    """The suppression store's connection handling, migrations and failure reporting, with the
    reputation queries. Every failure is `StoreUnavailable` (its text names no address)."""

    def _run(self, fn: Any, write: bool = False) -> Any:
        try:
            self._ensure()
            with (self._write() if write else self.engine.connect()) as conn, conn.begin():
                return fn(conn)
        except DB_ERRORS as err:
            self._reset()
            raise _unavailable(err) from err

    def add_accepted(self, rows: Sequence[dict[str, Any]]) -> None:
        """Rows of (at, address, sender_domain, stream, egress), one insert."""
        if rows:
            self._run(lambda conn: conn.execute(insert(_a), list(rows)), write=True)

    def prune(self, before: int) -> int:
        return int(self._run(lambda conn: conn.execute(delete(_a).where(_a.c.at < before)).rowcount, write=True))

    # -- pauses ---------------------------------------------------------------------------------

    def last_action(self, key: str) -> tuple[str, int, str] | None:
        """(pause|resume, at, detail) of the latest action on `key`."""
        def q(conn: Any) -> Any:
            return conn.execute(select(_p.c.action, _p.c.at, _p.c.detail).where(_p.c.key == key)
                                .order_by(_p.c.id.desc()).limit(1)).first()
        row = self._run(q)
        return (str(row[0]), int(row[1]), str(row[2] or "")) if row else None

    def pause_of(self, key: str) -> tuple[Pause | None, int]:
        """The pause in force (or None) and the time rates count from (the last resume, or 0)."""
        last = self.last_action(key)
        if last is None:
            return None, 0
        action, at, detail = last
        return (Pause(key, at, detail), 0) if action == "pause" else (None, at)

    def set_action(self, key: str, action: str, detail: str, actor: str | None, at: int | None = None) -> None:
        values = {"at": int(time.time()) if at is None else at, "key": key, "action": action, "detail": detail[:1000],
                  "actor": actor}
        self._run(lambda conn: conn.execute(insert(_p).values(**values)), write=True)

    def actions(self, key: str | None = None) -> list[dict[str, Any]]:
        query = select(_p).order_by(_p.c.id)
        if key:
            query = query.where(_p.c.key == key)
        return [dict(r._mapping) for r in self._run(lambda conn: conn.execute(query).all())]

    # -- figures --------------------------------------------------------------------------------

    def window(self, key: str, hours: int, minimum_volume: int, now: int | None = None,
               not_before: int = 0) -> WindowFigures:
        now = int(time.time()) if now is None else now
        # A resume at second T counts what comes after it: records of second T are from before.
        since = max(now - hours * 3600, not_before + 1 if not_before else 0)
        def q(conn: Any) -> tuple[int, list[Any]]:
            accepted = conn.execute(select(func.count()).select_from(_a)
                                    .where(key_condition(key), _a.c.at >= since, _a.c.at <= now)).scalar_one()
            return int(accepted), conn.execute(self._events_of(key, since, now)).all()
        accepted, rows = self._run(q)
        hard, complaints = self._classify(rows)
        return WindowFigures(key, hours, since, accepted, len(hard), len(complaints), minimum_volume)

    def _events_of(self, key: str, since: int, until: int) -> Any:
        mailed = exists().where(_a.c.address == _e.c.address, key_condition(key), _a.c.at >= since,
                                _a.c.at <= _e.c.at + CLOCK_SLACK)
        by_scope = [_e.c.scope == key] if key.startswith(("list:", "domain:")) else []
        return (select(_e.c.address, _e.c.kind, _e.c.status, _e.c.smtp_code, _e.c.diagnostic, _e.c.reason,
                       _e.c.feedback_type, _e.c.at)
                .where(_e.c.kind.in_(("bounce", "complaint")), _e.c.at >= since, _e.c.at <= until,
                       or_(mailed, *by_scope)))

    def _classify(self, rows: Iterable[Any]) -> tuple[set[str], set[str]]:
        """Recipients that hard-bounced (by the store's policy, as suppression classifies them)
        and recipients that complained."""
        hard: set[str] = set()
        complaints: set[str] = set()
        for r in rows:
            if r.kind == "complaint":
                complaints.add(r.address)
                continue
            ev = Event(r.address, "bounce", int(r.at), reason=r.reason, feedback_type=r.feedback_type)
            if self.policy.classify_bounce(r.status, r.smtp_code, r.diagnostic, bounce_reason_of(ev)) == BOUNCE_HARD:
                hard.add(r.address)
        return hard, complaints

    def count(self, key: str, since: int, until: int | None = None) -> int:
        cond = [key_condition(key), _a.c.at >= since] + ([_a.c.at <= until] if until is not None else [])
        return int(self._run(lambda conn: conn.execute(select(func.count()).select_from(_a).where(and_(*cond)))
                             .scalar_one()))

    def daily_volumes(self, key: str, first_day: int, last_day: int) -> dict[int, int]:
        """Recipients accepted per UTC day number (epoch // 86400), days without mail left out."""
        day = _a.c.at - _a.c.at % DAY   # integer arithmetic alike on SQLite and PostgreSQL
        def q(conn: Any) -> Any:
            return conn.execute(select(day, func.count()).where(key_condition(key), _a.c.at >= first_day * DAY,
                                                                _a.c.at < (last_day + 1) * DAY).group_by(day)).all()
        return {int(d) // DAY: int(n) for d, n in self._run(q)}

    def daily_series(self, key: str, first_day: int, last_day: int) -> list[dict[str, int]]:
        """Per UTC day: accepted recipients, hard bounces, complaints (bounces by the day they came)."""
        volumes = self.daily_volumes(key, first_day, last_day)
        since, until = first_day * DAY, (last_day + 1) * DAY - 1
        rows = self._run(lambda conn: conn.execute(self._events_of(key, since, until)).all())
        by_day: dict[int, list[Any]] = defaultdict(list)
        for r in rows:
            by_day[int(r.at) // DAY].append(r)
        out = []
        for d in range(first_day, last_day + 1):
            hard, complaints = self._classify(by_day.get(d, []))
            out.append({"day": d, "accepted": volumes.get(d, 0), "hard_bounces": len(hard), "complaints": len(complaints)})
        return out

    def keys(self, since: int) -> list[str]:
        """Every stream and sender domain that sent since `since`."""
        def q(conn: Any) -> Any:
            streams = conn.execute(select(_a.c.stream).where(_a.c.at >= since, _a.c.stream.is_not(None)).distinct()).all()
            domains = conn.execute(select(_a.c.sender_domain).where(_a.c.at >= since, _a.c.stream.is_(None))
                                   .distinct()).all()
            return [str(r[0]) for r in streams] + [f"domain:{r[0]}" for r in domains]
        return sorted(self._run(q))
