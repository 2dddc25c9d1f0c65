"""`outguard edm import FILE.csv --schema patients.yaml` and `outguard edm list`: the
organisation's own records as keyed hashes, for the `edm` check (exact data match)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from outguard.cli.common import EXIT_BROKEN, EXIT_OK, EXIT_PROBLEM, config_args, load
from outguard.edm import EdmError, EdmSchemaError, EdmSecretError, Hasher, import_csv, load_schema, load_secret
from outguard.store import resolve


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("edm", help="exact data match: import the organisation's records as keyed hashes")
    config_args(p)
    p.add_argument("--store", metavar="URL", help="SQLAlchemy URL or SQLite file (default: config store.url)")
    sub = p.add_subparsers(dest="edm_command", required=True)
    i = sub.add_parser("import", help="hash a CSV's identifier and corroborating columns into the store (idempotent)")
    i.add_argument("file", type=Path)
    i.add_argument("--schema", type=Path, required=True, help="the schema YAML (README, 'Exact data match')")
    i.add_argument("--replace", action="store_true", help="drop the schema's stored records first (a full refresh)")
    sub.add_parser("list", help="the imported schemas and how many records each holds")
    return p


def run(args: argparse.Namespace) -> int:
    config = load(args, "warning")
    location = resolve(args.store, config.section("store"))
    if args.edm_command == "list":
        return _list(location)
    try:
        schema = load_schema(args.schema)
        hasher = Hasher(load_secret(config.section("edm").get("secret_file")))
    except (EdmSchemaError, EdmSecretError) as exc:
        print(f"outguard: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    started = time.monotonic()
    try:
        counts = import_csv(location, args.file, schema, hasher, replace=args.replace)
    except (EdmError, OSError, UnicodeDecodeError) as exc:
        print(f"outguard: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    elapsed = time.monotonic() - started
    for problem in counts.bad[:20]:
        print(problem, file=sys.stderr)
    if len(counts.bad) > 20:
        print(f"... and {len(counts.bad) - 20} more rows without an identifier", file=sys.stderr)
    print(f"{args.file}: {counts.rows} rows, {counts.records_new} new records, {counts.records_known} already stored, "
          f"{counts.fields} corroborating values, {counts.without_fields} rows without a corroborating value, "
          f"{len(counts.bad)} bad rows; {elapsed:.1f} s ({counts.rows / max(elapsed, 1e-9):.0f} rows/s) "
          f"into {location.display} as phi.edm.{schema.name}")
    return EXIT_OK


def _list(location: Any) -> int:
    from sqlalchemy import select

    from outguard.store import SuppressionStore
    from outguard.store.schema import edm_schemas

    store = SuppressionStore(location, create=False)
    try:
        store.migrate()
        with store.engine.connect() as conn:
            rows = conn.execute(select(edm_schemas.c.name, edm_schemas.c.records, edm_schemas.c.updated)).all()
    finally:
        store.close()
    for name, records, updated in rows:
        print(f"phi.edm.{name}: {records} records, imported {time.strftime('%Y-%m-%d %H:%M', time.gmtime(updated))} UTC")
    return EXIT_OK
