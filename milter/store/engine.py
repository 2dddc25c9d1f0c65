"""Store URLs and engines: the embedded SQLite file (WAL) or a shared PostgreSQL.

* `--store URL` (or `store.url` in the config) is an SQLAlchemy URL; `postgresql://...`
  uses psycopg 3. A bare path means an SQLite file.
* Without one, the store is `suppression.sqlite3` in the state directory: systemd's
  `$STATE_DIRECTORY` when set, else the config's `store.state_dir` (`/var/lib/outguard`).
* SQLite runs in WAL mode (readers never wait for the writer) with a busy timeout; a
  write transaction starts with BEGIN IMMEDIATE so two writers queue instead of failing.
  The milter opens the file read-write but never creates it (a missing file is an error,
  not an empty list), except the implicit default, which the first write creates.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from sqlalchemy import Engine

DEFAULT_STATE_DIR = "/var/lib/outguard"
DEFAULT_FILE = "suppression.sqlite3"


@dataclass(frozen=True)
class StoreLocation:
    url: str               # SQLAlchemy URL, password included (never printed: see `display`)
    implicit: bool = False  # the default file nobody configured

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @cached_property
    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        if self.url.startswith("sqlite:////") and not any(c in self.url for c in "?%#"):
            return Path(self.url[len("sqlite:///"):])   # an absolute path, as `resolve` writes it: no SQLAlchemy
        from sqlalchemy.engine import make_url

        db = make_url(self.url).database
        return Path(db) if db and db != ":memory:" else None

    @property
    def display(self) -> str:
        if self.url.startswith("sqlite:////") and not any(c in self.url for c in "?%#@"):
            return self.url
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)


def state_dir(store_cfg: dict[str, Any] | None = None) -> Path:
    env = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    if env:
        return Path(env)
    return Path((store_cfg or {}).get("state_dir") or DEFAULT_STATE_DIR)


def resolve(url: str | None, store_cfg: dict[str, Any] | None = None) -> StoreLocation:
    """The store to use: `url` (command line), else the config's, else the default file."""
    cfg = store_cfg or {}
    chosen = url or cfg.get("url")
    if not chosen:
        return StoreLocation(f"sqlite:///{state_dir(cfg) / DEFAULT_FILE}", implicit=True)
    chosen = str(chosen)
    if "://" not in chosen:
        return StoreLocation(f"sqlite:///{Path(chosen).resolve()}")
    from sqlalchemy.engine import make_url

    parsed = make_url(chosen)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return StoreLocation(parsed.render_as_string(hide_password=False))


def make_engine(location: StoreLocation, create: bool = False, connect_timeout: float = 3.0) -> Engine:
    """An engine for `location`. `create`: an SQLite file (and its folder) may be made."""
    from sqlalchemy import create_engine

    if location.is_sqlite:
        return _sqlite_engine(location, create, connect_timeout)
    args: dict[str, Any] = {}
    if location.url.startswith("postgresql"):
        args = {"connect_timeout": max(1, int(connect_timeout)), "application_name": "outguard"}
    # No pre-ping (a round trip per message): a look-up that meets a dropped connection retries once.
    return create_engine(location.url, pool_pre_ping=False, pool_size=2, max_overflow=4, connect_args=args)


def _sqlite_engine(location: StoreLocation, create: bool, busy_timeout: float) -> Engine:
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import QueuePool

    path = location.sqlite_path
    if path is None:
        raise ValueError("an in-memory SQLite store cannot be shared; give a file")
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    uri = f"file:{quote(str(path))}?mode={'rwc' if create else 'rw'}"

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        return conn

    engine = create_engine("sqlite://", creator=connect, poolclass=QueuePool, pool_size=2, max_overflow=4)

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:  # pysqlite's own BEGIN is off (isolation_level=None)
        write = conn.get_execution_options().get("outguard_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def sqlite_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file, or None when it is missing: a changed identity means the
    file was replaced and pooled connections must go."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def hand_to_state_dir_owner(path: Path) -> None:
    """Run as root in the daemon's state directory: give the SQLite file (and its WAL files)
    to the folder's owner, so the daemon's own user can still open it."""
    if os.geteuid() != 0:
        return
    try:
        st = path.parent.stat()
    except OSError:
        return
    if st.st_uid == 0:
        return
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            os.chown(p, st.st_uid, st.st_gid)
        except OSError:
            pass
