"""The suppression store on both engines: migrations, policy, scopes, look-ups, rebuild."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import event, text

from outguard.store import (
    Event,
    Policy,
    StoreError,
    SuppressionService,
    SuppressionStore,
    normalise,
    normalise_scope,
    resolve,
)
from outguard.store.policy import bounce_reason_of
from outguard.store.schema import LATEST, MIGRATIONS

DAY = 86400
T0 = 1_780_000_000  # a fixed "now" (2026-05-28): the policy is tested without the clock


@pytest.fixture
def store(store_url: str):
    s = SuppressionStore(resolve(store_url), create=True)
    s.migrate()
    yield s
    s.close()


def bounce(addr: str, at: int, status: str, diag: str | None = None, scope: str = "global") -> Event:
    return Event(normalise(addr), "bounce", at, scope=scope, source="dsn", status=status, diagnostic=diag)


def in_force(store: SuppressionStore, addr: str, now: int, scopes: tuple[str, ...] = ("global",)) -> list[str]:
    return [r.reason for r in store.lookup([normalise(addr)], scopes, now=now).get(normalise(addr), [])]


def test_migrations_are_versioned_and_idempotent(store: SuppressionStore) -> None:
    assert store.schema_version() == LATEST
    assert store.migrate() == []
    other = SuppressionStore(store.location, create=True)
    assert other.migrate() == []
    other.close()


LEGACY_BOUNCE = text("INSERT INTO og_events (at, recorded, address, scope, kind, source, status, smtp_code, diagnostic, "
                     "feedback_type) VALUES (:at, :at, :address, 'global', 'bounce', 'dsn', '5.1.1', '550', "
                     "'550 5.1.1 rejected', :token)")


def as_of_version_2(store: SuppressionStore) -> None:
    """The store as schema version 2 left it: no reason column on the event log."""
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE og_events DROP COLUMN reason"))
        conn.execute(text("DELETE FROM og_schema_version WHERE version >= 3"))


def test_v3_gives_the_bounce_reason_its_column_and_still_reads_older_rows(store_url: str, capsys) -> None:
    from outguard.cli.main import main

    old = SuppressionStore(resolve(store_url), create=True)
    old.migrate()
    as_of_version_2(old)
    assert old.schema_version() == 2
    with old.engine.begin() as conn:  # as version 2 wrote a bounce: the token in feedback_type
        conn.execute(LEGACY_BOUNCE, {"at": T0, "address": "reader@example.com", "token": "spamdetected"})
        conn.execute(LEGACY_BOUNCE, {"at": T0, "address": "gone@example.com", "token": None})
    old.close()

    store = SuppressionStore(resolve(store_url), create=True)
    assert store.migrate() == [v for v, _, _ in MIGRATIONS if v >= 3] and store.schema_version() == LATEST
    assert store.migrate() == []
    store.rebuild()
    # the same 5.1.1: the old row's token (a spam rejection) keeps it from suppressing; without one it is hard
    assert in_force(store, "reader@example.com", T0 + 1) == []
    assert in_force(store, "gone@example.com", T0 + 1) == ["hard_bounce"]
    [ev] = store.history("reader@example.com")
    assert (ev.reason, ev.feedback_type, bounce_reason_of(ev)) == (None, "spamdetected", "spamdetected")

    store.record([Event("new@example.com", "bounce", T0, source="dsn", status="5.1.1", diagnostic="550 5.1.1 rejected",
                        reason="spamdetected")])
    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT reason, feedback_type FROM og_events WHERE address = 'new@example.com'")).one()
    assert tuple(row) == ("spamdetected", None)
    assert in_force(store, "new@example.com", T0 + 1) == []
    before = [(r.address, r.active, r.reason) for r in store.records(in_force_only=False)]
    store.rebuild()
    assert [(r.address, r.active, r.reason) for r in store.records(in_force_only=False)] == before
    store.close()

    for address in ("reader@example.com", "new@example.com"):
        assert main(["suppress", "--config", "/dev/null", "--store", store_url, "show", address]) == 0
        assert "reason=spamdetected" in capsys.readouterr().out
        assert main(["suppress", "--config", "/dev/null", "--store", store_url, "show", "--json", address]) == 0
        [shown] = json.loads(capsys.readouterr().out)["events"]
        assert shown["reason"] == "spamdetected" and "feedback_type" not in shown


def test_hard_bounce_suppresses_at_once_without_expiry(store: SuppressionStore) -> None:
    [ch] = store.record([bounce("Gone@Example.COM", T0, "5.1.1", "550 5.1.1 user unknown")])
    assert ch.newly_suppressed
    assert in_force(store, "gone@example.com", T0 + 3650 * DAY) == ["hard_bounce"]
    rec = store.get("gone@example.com")[0]
    assert rec.expires is None and rec.status == "5.1.1" and rec.source == "dsn" and rec.count == 1


@pytest.mark.parametrize("status,diag", [
    ("5.7.1", "550 5.7.1 Message rejected as spam"),
    ("5.7.26", "550 5.7.26 unauthenticated mail is prohibited"),
    ("5.0.0", "554 5.0.0 Service unavailable; client host blocked using Spamhaus"),
])
def test_policy_rejections_never_suppress_the_recipient(store: SuppressionStore, status: str, diag: str) -> None:
    for day in range(10):
        store.record([bounce("reader@example.com", T0 + day * DAY, status, diag)])
    assert in_force(store, "reader@example.com", T0 + 10 * DAY) == []


def test_soft_bounces_count_once_a_day_and_suppress_at_five_in_fourteen_days(store: SuppressionStore) -> None:
    addr = "full@example.com"
    for i in range(10):  # ten soft bounces on one day count once
        store.record([bounce(addr, T0 + i * 60, "4.2.2", "452 mailbox full")])
    assert store.get(addr)[0].soft_days == (T0 // DAY,)
    for day in (2, 5, 8):
        store.record([bounce(addr, T0 + day * DAY, "4.4.1")])
    assert in_force(store, addr, T0 + 9 * DAY) == []
    store.record([bounce(addr, T0 + 12 * DAY, "5.2.2", "552 mailbox full")])  # fifth day, inside 14
    assert in_force(store, addr, T0 + 12 * DAY + 1) == ["soft_bounce_threshold"]
    rec = store.get(addr)[0]
    assert rec.expires == T0 + 12 * DAY + 30 * DAY
    assert in_force(store, addr, T0 + 43 * DAY) == []  # expired after 30 days


def test_soft_bounces_spread_wider_than_the_window_do_not_suppress(store: SuppressionStore) -> None:
    for day in (0, 4, 8, 12, 16, 20, 24):  # never five within 14 days
        store.record([bounce("slow@example.com", T0 + day * DAY, "4.4.7")])
    assert in_force(store, "slow@example.com", T0 + 25 * DAY) == []


def test_a_delivery_resets_soft_bounces_and_lifts_their_suppression(store: SuppressionStore) -> None:
    addr = "flaky@example.com"
    for day in range(5):
        store.record([bounce(addr, T0 + day * DAY, "4.4.1")])
    assert in_force(store, addr, T0 + 5 * DAY) == ["soft_bounce_threshold"]
    [ch] = store.record([Event(addr, "delivered", T0 + 5 * DAY, source="postfix-log")])
    assert ch.lifted
    assert in_force(store, addr, T0 + 5 * DAY + 1) == []
    assert store.get(addr)[0].soft_days == ()


def test_a_delivery_to_an_unknown_address_is_not_kept(store: SuppressionStore) -> None:
    [ch] = store.record([Event("new@example.com", "delivered", T0)])
    assert ch.after is None
    assert store.get("new@example.com") == [] and store.history("new@example.com") == []


def test_complaint_suppresses_at_once_and_only_an_admin_lifts_it(store: SuppressionStore) -> None:
    addr = "angry@example.com"
    store.record([Event(addr, "complaint", T0, source="arf", feedback_type="abuse")])
    store.record([Event(addr, "delivered", T0 + DAY)])  # deliveries lift nothing but soft bounces
    assert in_force(store, addr, T0 + 2 * DAY) == ["complaint"]
    with pytest.raises(StoreError, match="administrator"):
        store.remove(addr)
    store.remove(addr, force=True, actor="admin")
    assert store.lookup([addr]) == {}
    assert [e.kind for e in store.history(addr)] == ["complaint", "delivered", "remove"]


def test_a_weaker_reason_never_replaces_a_stronger_one(store: SuppressionStore) -> None:
    addr = "x@example.com"
    store.record([Event(addr, "complaint", T0)])
    store.record([Event(addr, "manual", T0 + 1, expires=T0 + 10)])
    rec = store.get(addr)[0]
    assert rec.reason == "complaint" and rec.expires is None and rec.count == 2


def test_unsubscribe_applies_to_its_scope_or_everything(store: SuppressionStore) -> None:
    store.record([Event("reader@example.com", "unsubscribe", T0, scope="list:News.Example.ORG", source="one-click")])
    assert in_force(store, "reader@example.com", T0 + 1) == []
    assert in_force(store, "reader@example.com", T0 + 1, ("global", "list:news.example.org")) == ["unsubscribe"]
    assert in_force(store, "reader@example.com", T0 + 1, ("global", "list:offers.example.org")) == []
    store.record([Event("all@example.com", "unsubscribe", T0)])
    assert in_force(store, "all@example.com", T0 + 1, ("global", "list:offers.example.org")) == ["unsubscribe"]


def test_manual_entry_with_expiry(store: SuppressionStore) -> None:
    store.record([Event("temp@example.com", "manual", T0, expires=T0 + DAY, actor="admin", note="vacation")])
    assert in_force(store, "temp@example.com", T0 + 10) == ["manual"]
    assert in_force(store, "temp@example.com", T0 + DAY + 1) == []


def test_one_query_for_all_recipients_of_a_message(store: SuppressionStore) -> None:
    addrs = [f"user{i}@example.com" for i in range(50)]
    store.record([Event(a, "manual", T0) for a in addrs[::5]])
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if "og_suppressions" in statement:
            statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        found = store.lookup(addrs, ("global", "list:a", "domain:clinic.example"))
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert sorted(found) == sorted(addrs[::5])
    assert len(statements) == 1


def test_addresses_are_normalised() -> None:
    assert normalise(" <John.Doe+news@EXAMPLE.com> ") == "john.doe+news@example.com"
    assert normalise("anna@Exämple.org") == "anna@xn--exmple-cua.org"
    assert normalise_scope("List:<News.Example.org>") == "list:news.example.org"
    assert normalise_scope("domain:Clinic.Example") == "domain:clinic.example"
    with pytest.raises(ValueError):
        normalise_scope("stream:x")


def test_records_are_derived_from_the_event_log(store: SuppressionStore) -> None:
    store.record([bounce("a@example.com", T0, "5.1.1")])
    for day in range(5):
        store.record([bounce("b@example.com", T0 + day * DAY, "4.4.1")])
    store.record([Event("c@example.com", "complaint", T0), Event("c@example.com", "remove", T0 + 5)])
    store.record([Event("d@example.com", "unsubscribe", T0, scope="list:l1")])
    before = sorted((r.address, r.scope, r.reason, r.active, r.expires, r.count) for r in store.records(in_force_only=False))
    assert store.rebuild() == 4
    after = sorted((r.address, r.scope, r.reason, r.active, r.expires, r.count) for r in store.records(in_force_only=False))
    assert before == after
    # a stricter policy re-derives: three soft-bounce days now suppress... nobody new here, five did
    stricter = SuppressionStore(store.location, Policy(soft_bounce_threshold=8))
    stricter.rebuild()
    assert in_force(stricter, "b@example.com", T0 + 5 * DAY) == []
    stricter.close()


def test_concurrent_writers_do_not_lose_events(store: SuppressionStore) -> None:
    """Four writers (two relays' ingest, say) bounce the same address: every event counts once."""
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        other = SuppressionStore(store.location)
        try:
            for i in range(10):
                other.record([bounce("busy@example.com", T0 + n * 100 + i, "4.2.1")])
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            other.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.get("busy@example.com")[0].count == 40
    assert len(store.history("busy@example.com")) == 40


def test_service_lookup_and_default_location(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    location = resolve(None, {"state_dir": "/nonexistent"})
    assert location.implicit and location.sqlite_path == tmp_path / "state" / "suppression.sqlite3"
    service = SuppressionService(location)
    assert service.prepare() is True
    assert service.lookup(["a@example.com"]) == {}  # no file yet: nobody is suppressed
    assert not location.sqlite_path.exists()  # and a look-up never creates it
    writer = SuppressionStore(location, create=True)
    writer.record([Event("a@example.com", "manual", T0)])
    writer.close()
    assert list(service.lookup(["a@example.com"])) == ["a@example.com"]
    service.close()


def test_explicit_sqlite_file_that_is_missing_is_an_error_not_an_empty_list(tmp_path) -> None:
    from outguard.store import StoreUnavailable

    service = SuppressionService(resolve(str(tmp_path / "nope.sqlite3")))
    assert service.prepare() is False
    with pytest.raises(StoreUnavailable):
        service.lookup(["a@example.com"])
    assert not (tmp_path / "nope.sqlite3").exists()


def test_postgres_urls_use_psycopg3() -> None:
    assert resolve("postgresql://u:secret@db.example/og").url.startswith("postgresql+psycopg://")
    assert "secret" not in resolve("postgresql://u:secret@db.example/og").display
