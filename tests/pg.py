"""The store tests' PostgreSQL: a real server, a throw-away database per test.

PostgreSQL: `$OUTGUARD_TEST_PG_URL` (default postgresql://postgres@127.0.0.1:5432/postgres)
must reach a server whose role may create databases; when none answers, the project's
`scripts/ensure-postgres` is run once to start one. Each test gets its own database,
dropped afterwards. The PostgreSQL tests skip (saying why) only when neither worked.
The fixtures (pg_server, pg_url, store_url) live in conftest.py; this module is the
machinery, kept with the tests because it runs a script of the checkout.
"""

from __future__ import annotations

import os
import subprocess
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from helpers import PROJECT

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
ENSURE_SCRIPT = PROJECT / "scripts" / "ensure-postgres"
_server_state: dict[str, str | None] = {}


def server_url() -> str:
    return os.environ.get("OUTGUARD_TEST_PG_URL", DEFAULT_PG)


def _sa_url(url: str) -> str:
    u = make_url(url)
    return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _answers(url: str) -> str | None:
    """None if the server answers, else why not."""
    try:
        engine = create_engine(_sa_url(url), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means "not usable"; the reason goes in the skip text
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def pg_available() -> str | None:
    """None when a PostgreSQL server is usable (starting one with scripts/ensure-postgres if
    need be), else the reason it is not. Asked once per test session."""
    if "reason" not in _server_state:
        url = server_url()
        reason = _answers(url)
        if reason and ENSURE_SCRIPT.exists():
            done = subprocess.run([str(ENSURE_SCRIPT)], capture_output=True, text=True, timeout=600)
            reason = _answers(url) if done.returncode == 0 else \
                f"{reason}; scripts/ensure-postgres failed: {(done.stderr or done.stdout).strip()[-300:]}"
        _server_state["reason"] = reason
    return _server_state["reason"]


def create_database() -> str:
    """A fresh, empty database on the test server; returns its SQLAlchemy URL."""
    name = f"outguard_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_sa_url(server_url()), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(_sa_url(server_url())).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(_sa_url(server_url()), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def skip_text(reason: str) -> str:
    """What a skipped PostgreSQL test says: where it looked and why that failed."""
    return (f"no PostgreSQL server for the store tests at {make_url(server_url()).render_as_string()} "
            f"and scripts/ensure-postgres could not start one ({reason})")
