"""EDM records in the outguard store (tables `og_edm_schemas`, `og_edm_hashes`, migration 4):
import from CSV, and the look-up a check gets as `services["edm"]`."""

from __future__ import annotations

import csv
import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from outguard.edm.hashing import Hasher
from outguard.edm.normalise import field_values, identifier
from outguard.edm.schema import EdmSchema
from outguard.store.engine import StoreLocation

log = logging.getLogger("outguard.edm")
PRIMARY, FIELD = 0, 1
_IN_CHUNK = 500          # digests per IN (...) list
SCHEMA_CACHE_SECONDS = 30.0


class EdmError(Exception):
    """The import cannot go on (a column missing, hashes of another secret)."""


@dataclass
class ImportCounts:
    rows: int = 0
    records_new: int = 0          # identifiers not stored before
    records_known: int = 0        # identifiers already stored (a re-import changes nothing)
    fields: int = 0               # corroborating values hashed
    without_fields: int = 0       # rows with an identifier but no corroborating value
    bad: list[str] = field(default_factory=list)   # "FILE:LINE: problem" (never a value)


def _open(location: StoreLocation, create: bool) -> Any:
    from outguard.store.store import SuppressionStore

    store = SuppressionStore(location, create=create)
    store.migrate()
    return store


_STAGE = "og_edm_stage"


def _stage(conn: Any) -> None:
    """SQLite: rows go to an unindexed temporary table first and into the hash table sorted by
    digest at the end (`_merge`). Inserting random 128-bit keys one by one into a large b-tree
    touches a random page per row; sorted, the pages fill in order (1M rows: 10x faster)."""
    conn.exec_driver_sql("PRAGMA cache_size = -65536")   # 64 MiB for this connection's sort and merge
    conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (schema_name TEXT, digest BLOB, kind INTEGER)")
    conn.exec_driver_sql(f"DELETE FROM {_STAGE}")


def _merge(conn: Any, table: Any) -> None:
    conn.exec_driver_sql(f"INSERT OR IGNORE INTO {table.name} (schema_name, digest, kind) "
                         f"SELECT schema_name, digest, kind FROM {_STAGE} ORDER BY schema_name, digest")
    conn.exec_driver_sql(f"DROP TABLE {_STAGE}")


def _insert(conn: Any, table: Any, rows: list[tuple[str, bytes, int]]) -> None:
    """Rows already stored are skipped (the import is idempotent). SQLite: the driver's
    executemany into the stage table (SQLAlchemy's per-row work was half the import's time)."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"INSERT INTO {_STAGE} (schema_name, digest, kind) VALUES (?, ?, ?)", rows)
        return
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    conn.execute(pg_insert(table).on_conflict_do_nothing(),
                 [{"schema_name": s, "digest": d, "kind": k} for s, d, k in rows])


def _record_digests(schema: EdmSchema, hasher: Hasher, row: dict[str, str]) -> tuple[list[bytes], list[bytes]]:
    primaries, fields = [], []
    for p in schema.primary:
        value = identifier(row.get(p.column) or "")
        if not value:
            continue
        primaries.append(hasher.primary(schema.name, p.column, value))
        for column, kind in schema.corroborating:
            for v in field_values(kind, row.get(column) or ""):
                fields.append(hasher.field(schema.name, p.column, value, column, v))
    return primaries, fields


def import_csv(location: StoreLocation, path: Path, schema: EdmSchema, hasher: Hasher, replace: bool = False,
               chunk: int = 20000) -> ImportCounts:
    """Hash every row of `path` into the store. Idempotent: a row stored before adds nothing.
    `replace` drops the schema's old hashes first (patients removed from the list go)."""
    from sqlalchemy import delete, func, select

    from outguard.store.schema import edm_hashes, edm_schemas

    store = _open(location, create=True)
    counts = ImportCounts()
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh, store._write() as conn:
            reader = csv.DictReader(fh)
            missing = [c for c in [p.column for p in schema.primary] + [c for c, _ in schema.corroborating]
                       if c not in (reader.fieldnames or [])]
            if missing:
                raise EdmError(f"{path}: column(s) {', '.join(missing)} not in the header row "
                               f"({', '.join(reader.fieldnames or []) or 'empty file'})")
            with conn.begin():
                old = conn.execute(select(edm_schemas.c.key_id).where(edm_schemas.c.name == schema.name)).scalar()
                if old is not None and old != hasher.key_id and not replace:
                    raise EdmError(f"schema {schema.name} was imported with another secret; import with --replace")
                if replace:
                    conn.execute(delete(edm_hashes).where(edm_hashes.c.schema_name == schema.name))

            def stored() -> int:
                with conn.begin():
                    return int(conn.execute(select(func.count()).select_from(edm_hashes).where(
                        edm_hashes.c.schema_name == schema.name, edm_hashes.c.kind == PRIMARY)).scalar() or 0)

            before = stored()
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                with conn.begin():
                    _stage(conn)
            for batch in _batches(reader, chunk, path, schema, hasher, counts):
                with conn.begin():
                    _insert(conn, edm_hashes, batch)
            if sqlite:
                with conn.begin():
                    _merge(conn, edm_hashes)
            after = stored()
            counts.records_new = after - before
            counts.records_known = max(0, counts.rows - len(counts.bad) - counts.records_new)
            with conn.begin():
                conn.execute(delete(edm_schemas).where(edm_schemas.c.name == schema.name))
                conn.execute(edm_schemas.insert().values(name=schema.name, definition=json.dumps(schema.as_dict()),
                                                         key_id=hasher.key_id, records=after,
                                                         updated=int(time.time())))
    finally:
        store.close()
    return counts


def _batches(reader: Iterable[dict[str, str]], chunk: int, path: Path, schema: EdmSchema, hasher: Hasher,
             counts: ImportCounts) -> Iterator[list[tuple[str, bytes, int]]]:
    batch: list[tuple[str, bytes, int]] = []
    for line, row in enumerate(reader, start=2):
        counts.rows += 1
        primaries, fields = _record_digests(schema, hasher, row)
        if not primaries:
            counts.bad.append(f"{path}:{line}: no identifier")
            continue
        if not fields:
            counts.without_fields += 1
        counts.fields += len(fields)
        batch += [(schema.name, d, PRIMARY) for d in primaries]
        batch += [(schema.name, d, FIELD) for d in fields]
        if len(batch) >= chunk:
            yield batch
            batch = []
    yield batch


class EdmService:
    """`services["edm"]` (outguard.checks.EdmLookup): which schemas exist, and which
    candidates are records. Values reach it in memory only and leave it as hashes."""

    def __init__(self, location: StoreLocation, hasher: Hasher, window: int = 200) -> None:
        self.location = location
        self.hasher = hasher
        self.window = window
        self._store: Any = None
        self._lock = threading.Lock()
        self._schemas: dict[str, EdmSchema] = {}
        self._loaded = 0.0

    def _engine(self) -> Any:
        with self._lock:
            if self._store is None:
                from outguard.store.store import SuppressionStore

                self._store = SuppressionStore(self.location, create=False)
            return self._store.engine

    def _absent(self) -> bool:
        path = self.location.sqlite_path
        return path is not None and not path.exists()

    def schemas(self) -> Sequence[EdmSchema]:
        if time.monotonic() - self._loaded > SCHEMA_CACHE_SECONDS:
            self._schemas = self._read_schemas()
            self._loaded = time.monotonic()
        return list(self._schemas.values())

    def _read_schemas(self) -> dict[str, EdmSchema]:
        if self._absent():
            return {}
        from sqlalchemy import inspect, select

        from outguard.store.schema import edm_schemas

        with self._engine().connect() as conn:
            if not inspect(conn).has_table(edm_schemas.name):
                return {}
            rows = conn.execute(select(edm_schemas.c.name, edm_schemas.c.definition, edm_schemas.c.key_id)).all()
        out = {}
        for name, definition, key_id in rows:
            if key_id != self.hasher.key_id:
                log.error("EDM schema %s was imported with another secret; it is not looked up", name)
                continue
            out[name] = EdmSchema.from_dict(json.loads(definition), f"stored schema {name}")
        return out

    def _present(self, conn: Any, schema: str, kind: int, digests: Sequence[bytes]) -> set[bytes]:
        from sqlalchemy import select

        from outguard.store.schema import edm_hashes

        found: set[bytes] = set()
        for i in range(0, len(digests), _IN_CHUNK):
            part = digests[i:i + _IN_CHUNK]
            found.update(bytes(d) for d in conn.execute(select(edm_hashes.c.digest).where(
                edm_hashes.c.schema_name == schema, edm_hashes.c.kind == kind, edm_hashes.c.digest.in_(part))).scalars())
        return found

    def match(self, schema: str, candidates: Sequence[tuple[str, str, str]]) -> list[tuple[int, tuple[str, ...]]]:
        """`candidates`: (primary column, identifier as written, the text around it). Returns,
        for each candidate that is a stored record AND has a corroborating value of that same
        record in its window, (its index, the matched column names)."""
        spec = self._schemas.get(schema) or next((s for s in self.schemas() if s.name == schema), None)
        if spec is None or not candidates:
            return []
        keyed = [(i, col, identifier(value)) for i, (col, value, _) in enumerate(candidates)]
        primary = {self.hasher.primary(schema, col, norm): (i, col, norm) for i, col, norm in keyed if norm}
        with self._engine().connect() as conn:
            records = [primary[d] for d in self._present(conn, schema, PRIMARY, list(primary))]
            wanted: dict[bytes, tuple[int, str]] = {}
            for i, col, norm in records:
                window = candidates[i][2]
                for fcol, kind in spec.corroborating:
                    for v in field_values(kind, window):
                        wanted[self.hasher.field(schema, col, norm, fcol, v)] = (i, fcol)
            seen = self._present(conn, schema, FIELD, list(wanted)) if wanted else set()
        matched: dict[int, set[str]] = {}
        for d in seen:
            i, fcol = wanted[d]
            matched.setdefault(i, set()).add(fcol)
        by_index = {i: col for i, col, _ in records}
        return [(i, (by_index[i], *sorted(cols))) for i, cols in sorted(matched.items())]

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def service_from_config(config: Any, location: StoreLocation) -> EdmService | None:
    """The EDM look-up when a secret is configured; None otherwise (the check then says so)."""
    import os

    from outguard.edm.hashing import load_secret

    cfg = config.section("edm")
    if not cfg.get("secret_file") and not os.environ.get("OUTGUARD_EDM_SECRET"):
        return None
    return EdmService(location, Hasher(load_secret(cfg.get("secret_file"))), int(cfg.get("window") or 200))
