"""The store's tables (SQLAlchemy Core, one schema for SQLite and PostgreSQL) and their
versioned migrations.

`og_events` is append-only and the truth; `og_suppressions` holds one derived record per
(address, scope), rebuilt from the events by `SuppressionStore.rebuild()`. Times are
integer UTC epoch seconds (portable, cheap to compare and index).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    inspect,
    select,
    text,
)

metadata = MetaData()

GLOBAL_SCOPE = "global"

schema_version = Table(
    "og_schema_version", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied", BigInteger, nullable=False),
    Column("description", String(200), nullable=False),
)

events = Table(
    "og_events", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),               # when it happened (epoch s)
    Column("recorded", BigInteger, nullable=False),         # when it was written
    Column("address", String(320), nullable=False),         # normalised
    Column("scope", String(300), nullable=False),           # "global", "list:<list-id>", "domain:<sender domain>"
    Column("kind", String(32), nullable=False),             # see policy.EVENT_KINDS
    Column("source", String(32), nullable=False),           # dsn, arf, postfix-log, one-click, import, manual
    Column("status", String(16)),                           # enhanced status code, 5.1.1
    Column("smtp_code", String(3)),
    Column("diagnostic", Text),
    Column("remote_mta", String(255)),
    Column("feedback_type", String(32)),                    # a complaint's ARF Feedback-Type
    Column("reason", String(32)),                           # a bounce's reason token (intake.reasons), v3
    Column("expires", BigInteger),                          # requested expiry (manual entries)
    Column("actor", String(100)),                           # who recorded it (admin user, importer, ingest)
    Column("note", Text),
)

suppressions = Table(
    "og_suppressions", metadata,
    Column("address", String(320), primary_key=True),
    Column("scope", String(300), primary_key=True),
    Column("active", Boolean, nullable=False),
    Column("reason", String(32)),                           # policy.REASONS; null while only tracking soft bounces
    Column("source", String(32)),
    Column("status", String(16)),
    Column("smtp_code", String(3)),
    Column("diagnostic", Text),
    Column("remote_mta", String(255)),
    Column("feedback_type", String(32)),
    Column("created", BigInteger, nullable=False),          # first event for this address and scope
    Column("last_event", BigInteger, nullable=False),
    Column("count", Integer, nullable=False),               # events folded into this record
    Column("expires", BigInteger),                          # null: never
    Column("soft_days", Text),                              # UTC day numbers of soft bounces in the window, "20400,20401"
    Column("last_event_id", BigInteger, nullable=False),
)

# Digest links of the review page that were used (outguard.review.used): a link works once.
review_used = Table(
    "og_review_used", metadata,
    Column("key", String(64), primary_key=True),             # hash of the token, never the token
    Column("used", BigInteger, nullable=False),
    Column("action", String(16), nullable=False),
)

# Exact data match (outguard.edm): keyed hashes of the site's own records, never the values.
edm_schemas = Table(
    "og_edm_schemas", metadata,
    Column("name", String(64), primary_key=True),
    Column("definition", Text, nullable=False),             # the schema YAML as JSON (columns, identifiers)
    Column("key_id", String(16), nullable=False),           # which secret made the hashes (a digest of it)
    Column("records", BigInteger, nullable=False),          # distinct primary identifiers stored
    Column("updated", BigInteger, nullable=False),
)

edm_hashes = Table(
    "og_edm_hashes", metadata,
    Column("schema_name", String(64), primary_key=True),
    Column("digest", LargeBinary(16), primary_key=True),     # HMAC-SHA256(secret, schema|column|value)[:16]
    Column("kind", SmallInteger, nullable=False),           # 0: a primary identifier, 1: a corroborating field
    sqlite_with_rowid=False,                                 # the key is the row: one b-tree, not two
)

Index("og_events_address", events.c.address, events.c.scope, events.c.id)
Index("og_suppressions_reason", suppressions.c.reason, suppressions.c.active)

# Reputation (v5, outguard.reputation): one row per recipient the milter accepted, so rates
# have a denominator and a bounce finds its stream; pauses and resumes, append-only.
rep_accepted = Table(
    "og_rep_accepted", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),               # when the milter accepted it (epoch s)
    Column("address", String(320), nullable=False),         # the recipient, normalised
    Column("sender_domain", String(255), nullable=False),
    Column("stream", String(300)),                          # "list:<list-id>" or the configured key; null: none
    Column("egress", String(64)),                           # sending IP (warm-up), when configured
)
rep_pauses = Table(
    "og_rep_pauses", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("key", String(300), nullable=False),              # "list:<list-id>" or "domain:<sender domain>"
    Column("action", String(16), nullable=False),            # pause | resume
    Column("detail", Text),                                  # the figures that paused it, or the resume note
    Column("actor", String(100)),
)
Index("og_rep_accepted_address", rep_accepted.c.address, rep_accepted.c.at)
Index("og_rep_accepted_stream", rep_accepted.c.stream, rep_accepted.c.at)
Index("og_rep_accepted_domain", rep_accepted.c.sender_domain, rep_accepted.c.at)
Index("og_rep_pauses_key", rep_pauses.c.key, rep_pauses.c.id)
Index("og_events_kind_at", events.c.kind, events.c.at)


Migration = Callable[[Connection], None]


def _v1(conn: Connection) -> None:
    for table in (events, suppressions):
        table.create(conn, checkfirst=True)


def _v2(conn: Connection) -> None:
    for index in list(events.indexes) + list(suppressions.indexes):
        index.create(conn, checkfirst=True)


def _v3(conn: Connection) -> None:
    """The bounce reason token gets its own column (until now it rode in feedback_type).
    Rows written before keep it there; `policy.bounce_reason_of` reads both. A store created
    at this version already has the column (`_v1` creates the tables as they are now)."""
    if "reason" not in {c["name"] for c in inspect(conn).get_columns(events.name)}:
        column = events.c.reason
        conn.execute(text(f"ALTER TABLE {events.name} ADD COLUMN {column.name} {column.type.compile(conn.dialect)}"))


def _v4(conn: Connection) -> None:
    for table in (edm_schemas, edm_hashes):
        table.create(conn, checkfirst=True)


def _v5(conn: Connection) -> None:
    for table in (rep_accepted, rep_pauses):
        table.create(conn, checkfirst=True)
    for index in list(rep_accepted.indexes) + list(rep_pauses.indexes) + [i for i in events.indexes
                                                                           if i.name == "og_events_kind_at"]:
        index.create(conn, checkfirst=True)


def _v6(conn: Connection) -> None:
    review_used.create(conn, checkfirst=True)


# (version, description, step). Append only; never edit a released step.
MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "event log and derived suppression records", _v1),
    (2, "indexes for per-address event history and listing by reason", _v2),
    (3, "bounce reason token in its own event column", _v3),
    (4, "exact data match: schemas and keyed hashes of the site's records", _v4),
    (5, "reputation: accepted recipients, pauses and resumes", _v5),
    (6, "used digest links of the review page", _v6),
]
LATEST = MIGRATIONS[-1][0]


def current_version(conn: Connection) -> int:
    if not conn.dialect.has_table(conn, schema_version.name):
        return 0
    return int(conn.execute(select(schema_version.c.version).order_by(schema_version.c.version.desc()).limit(1))
               .scalar() or 0)


def migrate(conn: Connection) -> list[int]:
    """Apply the missing migrations inside the caller's (write) transaction; return those applied.

    On PostgreSQL a transaction-scoped advisory lock keeps two relays from migrating at once.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(7234001)"))
    schema_version.create(conn, checkfirst=True)
    # Every step not yet recorded, not only those above the highest: a store migrated by a
    # build that had step 5 but not yet 4 still gets 4 (every step is safe to re-run).
    have = set(conn.execute(select(schema_version.c.version)).scalars())
    applied = []
    for version, description, step in MIGRATIONS:
        if version not in have:
            step(conn)
            conn.execute(schema_version.insert().values(version=version, applied=int(time.time()),
                                                        description=description))
            applied.append(version)
    return applied
