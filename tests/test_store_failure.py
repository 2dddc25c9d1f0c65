"""An unreachable store means the failure action (tempfail), never delivery to suppressed
people and never a crash; the next message after the database is back is checked again.

Real databases only: a PostgreSQL database whose connections are refused and killed
(ALLOW_CONNECTIONS false + pg_terminate_backend), an SQLite file replaced by garbage.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from outguard.store import Event, SuppressionStore, resolve
from pg import server_url

NOTE = """\
From: News <news@clinic.example>
Subject: Saturday opening

The lab is open on Saturday.
"""
RCPTS = ["gone@partner.example", "ann@partner.example"]


class Outage:
    """Refuse and kill every connection to one PostgreSQL database, then let them back."""

    def __init__(self, url: str) -> None:
        self.name = make_url(url).database
        self.admin = create_engine(make_url(url).set(database=make_url(server_url()).database,
                                                     drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")

    def begin(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{self.name}" WITH ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"),
                         {"d": self.name})

    def end(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{self.name}" WITH ALLOW_CONNECTIONS true'))

    def close(self) -> None:
        self.end()
        self.admin.dispose()


def seed(url: str) -> None:
    store = SuppressionStore(resolve(url), create=True)
    store.record([Event("gone@partner.example", "bounce", int(time.time()), status="5.1.1", source="dsn")])
    store.close()


def harness_for(outguard_harness, url: str, settings: dict | None = None):
    config: dict = {"store": {"url": url, "connect_timeout_seconds": 2}}
    if settings:
        config["plugins"] = {"settings": {"recipients": settings}}
    return outguard_harness(enabled=["recipients"], config=config)


def assert_checked(result) -> None:
    assert result.decision.verdict == "deliver"
    assert result.decision.drop_recipients == ["gone@partner.example"]


def assert_failed_closed(result) -> None:
    d = result.decision
    assert d.verdict == "tempfail", d
    assert d.deciding_rule == "check-failed-tempfail"
    assert any(f.id == "error.recipients" and "StoreUnavailable" in f.detail for f in d.findings)


def test_postgres_outage_tempfails_and_recovers(outguard_harness, pg_url: str) -> None:
    seed(pg_url)
    harness = harness_for(outguard_harness, pg_url)
    assert_checked(harness.check(NOTE, rcpts=RCPTS))
    outage = Outage(pg_url)
    try:
        outage.begin()
        for _ in range(3):  # every message while it is down, not just the first
            assert_failed_closed(harness.check(NOTE, rcpts=RCPTS))
        outage.end()
        assert_checked(harness.check(NOTE, rcpts=RCPTS))  # the next message reconnects
    finally:
        outage.close()


def test_connections_killed_by_a_server_restart_cost_no_message(outguard_harness, pg_url: str) -> None:
    """The server dropped every pooled connection (a restart) but is back: the look-up
    reconnects at once instead of tempfailing."""
    seed(pg_url)
    harness = harness_for(outguard_harness, pg_url)
    assert_checked(harness.check(NOTE, rcpts=RCPTS))
    outage = Outage(pg_url)
    try:
        with outage.admin.connect() as conn:
            killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                       "WHERE datname = :d"), {"d": outage.name}).scalar()
        assert killed >= 1
        assert_checked(harness.check(NOTE, rcpts=RCPTS))
    finally:
        outage.close()


def test_postgres_outage_as_a_finding_when_configured(outguard_harness, pg_url: str) -> None:
    seed(pg_url)
    harness = harness_for(outguard_harness, pg_url, {"on_unavailable": "finding"})
    outage = Outage(pg_url)
    try:
        outage.begin()
        result = harness.check(NOTE, rcpts=RCPTS)
        assert result.decision.verdict == "tempfail"
        assert result.decision.deciding_rule == "recipients-store-unavailable-tempfail"
    finally:
        outage.close()


def test_sqlite_file_replaced_by_garbage_tempfails_and_recovers(outguard_harness, tmp_path: Path) -> None:
    db = tmp_path / "suppression.sqlite3"
    seed(str(db))
    harness = harness_for(outguard_harness, str(db))
    assert_checked(harness.check(NOTE, rcpts=RCPTS))
    saved = tmp_path / "saved.sqlite3"
    os.replace(db, saved)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"this is not a database\n" * 500)
    os.replace(garbage, db)
    assert_failed_closed(harness.check(NOTE, rcpts=RCPTS))
    os.remove(db)  # gone altogether: an explicit store never turns into an empty one
    assert_failed_closed(harness.check(NOTE, rcpts=RCPTS))
    assert not db.exists()
    os.replace(saved, db)
    assert_checked(harness.check(NOTE, rcpts=RCPTS))


# -- through a real Postfix: no message lost ---------------------------------------------------

@pytest.fixture
def postfix_stack(pg_url: str) -> Iterator[tuple[object, object, str]]:
    e2e = pytest.importorskip("e2e.conftest", reason="tests/e2e fixtures not importable")
    from outguard.sandbox.postfix import PostfixInstance
    from outguard.sandbox.process import make_shared_tmpdir

    e2e._require_postfix()
    seed(pg_url)
    base = make_shared_tmpdir()
    (base / "og").mkdir()
    for d in (base, base / "og"):
        d.chmod(0o755)
    daemon = e2e.OutguardDaemon(base / "og", "rules: []\n", workers=1,
                                extra_config=f"store: {{url: '{pg_url}', connect_timeout_seconds: 2}}\n"
                                             "plugins: {disabled: [bulk, custom_patterns, documents, phi, spam,"
                                             " text_attachments]}\n")
    daemon.start()
    try:
        with PostfixInstance(base / "pf", milter=daemon.spec) as pf:
            yield daemon, pf, pg_url
    finally:
        daemon.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.postfix
def test_database_killed_mid_run_loses_no_message(postfix_stack) -> None:
    daemon, pf, url = postfix_stack
    accepted: list[str] = []
    refused: list[tuple[int, str]] = []
    lock = threading.Lock()
    stop = threading.Event()
    counter = iter(range(1_000_000))

    def sender(n: int) -> None:
        while not stop.is_set():
            marker = f"store-{n}-{next(counter)}"
            raw = (f"From: News <news@clinic.example>\r\nTo: ann@partner.example\r\nSubject: news {marker}\r\n\r\n"
                   f"{marker}\r\n").encode()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # a client that keeps a refused message and retries
                code, reply = pf.send(raw, "news@clinic.example", RCPTS)
                with lock:
                    if code == 250:
                        accepted.append(marker)
                        break
                    refused.append((code, reply))
                time.sleep(0.2)
            time.sleep(0.02)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    outage = Outage(url)
    def wait_for(what: list, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not what:
            time.sleep(0.1)

    try:
        wait_for(accepted, 60)       # traffic flows and is checked
        outage.begin()
        wait_for(refused, 30)        # the outage is seen (however slow a loaded machine is)
        time.sleep(1.0)
        outage.end()
        time.sleep(1.5)
    finally:
        stop.set()
        for t in threads:
            t.join(120)
        outage.close()
    assert accepted, "nothing was accepted at all"
    assert refused, "the database was gone for 2 s: some messages must have been refused"
    assert all(400 <= code < 500 for code, _ in refused), f"while the store is down: tempfail only, got {refused[:3]}"
    records = pf.sink.wait_for_records(len(accepted), timeout=60)
    delivered = [m.decode() for r in records for m in re.findall(rb"(?m)^(store-\d+-\d+)\r?$", r.body)]
    assert sorted(delivered) == sorted(accepted), "every message arrives exactly once"
    for r in records:
        assert "gone@partner.example" not in r.rcpt_to, "a suppressed recipient was mailed"
        assert "ann@partner.example" in r.rcpt_to
    assert daemon.proc is not None and daemon.proc.poll() is None, "the daemon survived"
