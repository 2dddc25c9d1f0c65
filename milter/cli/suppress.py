"""`outguard suppress add|remove|list|show|import|export`: the suppression store by hand.

Every command takes `--store URL` (SQLAlchemy URL or an SQLite file path; default: the
config's `store.url`, then `suppression.sqlite3` in the state directory).

CSV import reads outguard's own export and the suppression exports of SES, SendGrid,
Mailgun and Postmark, recognised by their header row (or named with `--format`); the
formats and what each row becomes are in `outguard.store.esp_csv`, which does the reading.
A malformed line is reported with its line number; by default nothing is imported then,
with `--skip-bad` the good lines are. `--dry-run` reports the same summary and changes nothing.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import io
import json
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from outguard.cli.common import EXIT_BROKEN, EXIT_OK, EXIT_PROBLEM
from outguard.core.config import load_config
from outguard.store import (
    AddressError,
    Change,
    Event,
    Record,
    StoreError,
    StoreUnavailable,
    SuppressionStore,
    hand_to_state_dir_owner,
    normalise,
    normalise_scope,
)
from outguard.store.esp_csv import FORMATS, REASON_EVENTS, read_rows
from outguard.store.policy import bounce_reason_of

# a record's reason (as exported) -> --reason
EXPORTED_REASON = {"hard_bounce": "hard-bounce", "soft_bounce_threshold": "soft-bounce", "complaint": "complaint",
                   "unsubscribe": "unsubscribe", "manual": "manual", "invalid": "invalid", "trap_suspect": "trap"}
EXPORT_COLUMNS = ["address", "scope", "reason", "source", "status", "smtp_code", "diagnostic", "remote_mta",
                  "feedback_type", "created", "last_event", "count", "expires"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `outguard suppress ...` on the main parser's subparsers."""
    sp = subparsers.add_parser("suppress", help="the suppression store: add, remove, list, show, import, export")
    sp.add_argument("--config", type=Path, help="site config (default /etc/outguard/outguard.yaml if present)")
    sp.add_argument("--store", metavar="URL", help="SQLAlchemy URL or SQLite file (default: config store.url, "
                                                     "then suppression.sqlite3 in the state directory)")
    sp.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help=argparse.SUPPRESS)
    sub = sp.add_subparsers(dest="suppress_command", required=True)

    add = sub.add_parser("add", help="suppress addresses")
    add.add_argument("addresses", nargs="+", metavar="ADDRESS")
    add.add_argument("--reason", choices=sorted(REASON_EVENTS), default="manual")
    add.add_argument("--scope", default="global", help="global (default), list:<List-Id> or domain:<sender domain>")
    add.add_argument("--status", help="enhanced status code of a bounce (default 5.1.1 hard, 4.0.0 soft)")
    add.add_argument("--diagnostic", help="diagnostic text kept as evidence")
    add.add_argument("--expires-days", type=int, help="manual/invalid/trap entries: lift after this many days")
    add.add_argument("--note", help="why (kept in the event log)")
    add.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")

    rm = sub.add_parser("remove", help="lift suppressions (a complaint needs --force)")
    rm.add_argument("addresses", nargs="+", metavar="ADDRESS")
    rm.add_argument("--scope", default="global")
    rm.add_argument("--force", action="store_true", help="also lift a complaint (administrators only)")
    rm.add_argument("--note", help="why (kept in the event log)")
    rm.add_argument("--dry-run", action="store_true")

    ls = sub.add_parser("list", help="suppressed addresses")
    ls.add_argument("--reason", choices=sorted(EXPORTED_REASON))
    ls.add_argument("--scope")
    ls.add_argument("--all", action="store_true", help="also expired and lifted records")
    ls.add_argument("--json", action="store_true", help="one JSON object per line")

    sh = sub.add_parser("show", help="an address's records and its event history")
    sh.add_argument("address")
    sh.add_argument("--json", action="store_true")

    imp = sub.add_parser("import", help="import a CSV (outguard, SES, SendGrid, Mailgun, Postmark layouts)")
    imp.add_argument("file", metavar="FILE", help="CSV file, or - for stdin")
    imp.add_argument("--format", choices=FORMATS, default="auto")
    imp.add_argument("--reason", choices=sorted(REASON_EVENTS), help="reason for every row (plain lists; overrides the file)")
    imp.add_argument("--scope", help="scope for every row (default: the file's, else global)")
    imp.add_argument("--skip-bad", action="store_true", help="import the good lines even if some are malformed")
    imp.add_argument("--dry-run", action="store_true")

    exp = sub.add_parser("export", help="export as CSV (outguard layout, which import reads back)")
    exp.add_argument("file", nargs="?", default="-", metavar="FILE")
    exp.add_argument("--reason", choices=sorted(EXPORTED_REASON))
    exp.add_argument("--scope")
    exp.add_argument("--all", action="store_true", help="also expired and lifted records")
    return sp


def _actor() -> str:
    try:
        return os.environ.get("SUDO_USER") or getpass.getuser()
    except Exception:
        return "unknown"


def _store(args: argparse.Namespace, create: bool) -> SuppressionStore:
    config = load_config(args.config)
    return SuppressionStore.from_config(config, args.store, create=create)


def _iso(epoch: int | None) -> str:
    return "" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run(args: argparse.Namespace) -> int:
    command = args.suppress_command
    writes = command in ("add", "remove", "import")
    store = _store(args, create=writes)
    try:
        if store.location.is_sqlite and not writes and store.location.sqlite_path \
                and not store.location.sqlite_path.exists():
            print(f"outguard: no suppression store at {store.location.display} (nothing suppressed yet)",
                  file=sys.stderr)
            return EXIT_PROBLEM if command == "show" else EXIT_OK
        return int(COMMANDS[command](store, args))
    except StoreUnavailable as exc:
        print(f"outguard: {store.location.display}: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    finally:
        store.close()
        if writes and store.location.sqlite_path is not None and store.location.sqlite_path.exists():
            hand_to_state_dir_owner(store.location.sqlite_path)


# -- add / remove -----------------------------------------------------------------------------

_OUTCOME_TEXT = {
    "ignored": "ignored", "newly_suppressed": "newly suppressed", "lifted": "lifted",
    "already_suppressed": "already suppressed (updated)",
    "recorded": "recorded, not suppressed (policy rejection or below the soft-bounce threshold)",
}


def _summary(changes: list[Change], dry_run: bool, extra: Counter[str] | None = None) -> str:
    c: Counter[str] = Counter(_OUTCOME_TEXT[ch.outcome] for ch in changes)
    c.update(extra or {})
    parts = [f"{n} {what}" for what, n in c.items() if n]
    return ("dry run, nothing changed: " if dry_run else "") + (", ".join(parts) or "nothing to do")


def cmd_add(store: SuppressionStore, args: argparse.Namespace) -> int:
    kind, default_status = REASON_EVENTS[args.reason]
    now = int(time.time())
    expires = now + args.expires_days * 86400 if args.expires_days else None
    if expires and kind not in ("manual", "invalid", "trap", "unsubscribe"):
        print("outguard: --expires-days applies to manual, invalid, trap and unsubscribe entries", file=sys.stderr)
        return EXIT_BROKEN
    try:
        scope = normalise_scope(args.scope)
        events = [Event(normalise(a), kind, now, scope=scope, source="manual",
                        status=(args.status or default_status) if kind == "bounce" else args.status,
                        diagnostic=args.diagnostic, expires=expires, actor=_actor(), note=args.note)
                  for a in args.addresses]
    except AddressError as exc:
        print(f"outguard: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    changes = store.record(events, dry_run=args.dry_run)
    print(_summary(changes, args.dry_run))
    return EXIT_OK


def cmd_remove(store: SuppressionStore, args: argparse.Namespace) -> int:
    status = EXIT_OK
    changes = []
    for address in args.addresses:
        try:
            changes.append(store.remove(normalise(address), args.scope, actor=_actor(), force=args.force,
                                        note=args.note, dry_run=args.dry_run))
        except (StoreError, AddressError) as exc:
            if isinstance(exc, StoreUnavailable):
                raise
            print(f"outguard: {address}: {exc}", file=sys.stderr)
            status = EXIT_PROBLEM
    print(_summary(changes, args.dry_run))
    return status


# -- list / show / export ---------------------------------------------------------------------

def _record_dict(rec: Record) -> dict[str, Any]:
    return {"address": rec.address, "scope": rec.scope, "reason": rec.reason, "source": rec.source,
            "status": rec.status, "smtp_code": rec.smtp_code, "diagnostic": rec.diagnostic,
            "remote_mta": rec.remote_mta, "feedback_type": rec.feedback_type, "created": _iso(rec.created),
            "last_event": _iso(rec.last_event), "count": rec.count, "expires": _iso(rec.expires),
            "in_force": rec.in_force(int(time.time()))}


def cmd_list(store: SuppressionStore, args: argparse.Namespace) -> int:
    n = 0
    for rec in store.records(args.reason, args.scope, in_force_only=not args.all):
        n += 1
        if args.json:
            print(json.dumps(_record_dict(rec)))
        else:
            until = f" until {_iso(rec.expires)}" if rec.expires else ""
            print(f"{rec.address}  {rec.scope}  {rec.reason or '-'}{' (' + rec.status + ')' if rec.status else ''}  "
                  f"since {_iso(rec.created)}  events {rec.count}{until}")
    if not args.json:
        print(f"{n} record(s)", file=sys.stderr)
    return EXIT_OK


def _event_dict(e: Event) -> dict[str, Any]:
    """An event as `show --json` prints it: a bounce's reason token under `reason` wherever it was stored."""
    d = {k: v for k, v in e.__dict__.items() if v is not None}
    if e.kind == "bounce" and (token := bounce_reason_of(e)):
        d["reason"] = token
        if token == e.feedback_type and not e.reason:
            d.pop("feedback_type")  # written before schema v3: the token rode there
    return {**d, "at": _iso(e.at), "expires": _iso(e.expires) or None}


def cmd_show(store: SuppressionStore, args: argparse.Namespace) -> int:
    try:
        address = normalise(args.address)
    except AddressError as exc:
        print(f"outguard: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    records, history = store.get(address), store.history(address)
    if args.json:
        print(json.dumps({"records": [_record_dict(r) for r in records],
                          "events": [_event_dict(e) for e in history]}))
        return EXIT_OK if records or history else EXIT_PROBLEM
    if not records and not history:
        print(f"{address}: not in the store")
        return EXIT_PROBLEM
    for r in records:
        state = "SUPPRESSED" if r.in_force(int(time.time())) else "not suppressed"
        print(f"{address}  scope {r.scope}: {state}" + (f", {r.reason}" if r.reason else "")
              + (f" ({r.status})" if r.status else "") + f", since {_iso(r.created)}, last event {_iso(r.last_event)}, "
              f"{r.count} event(s)" + (f", expires {_iso(r.expires)}" if r.expires else ""))
    print("events:")
    for e in history:
        token = bounce_reason_of(e)
        why = (f"reason={token}" if token else None) if e.kind == "bounce" else e.feedback_type
        bits = [b for b in (e.status, e.smtp_code, why, e.remote_mta) if b]
        print(f"  {_iso(e.at)}  {e.kind:<11} {e.scope}  source={e.source}" + (f"  [{' '.join(bits)}]" if bits else "")
              + (f"  by {e.actor}" if e.actor else "") + (f"  {e.diagnostic}" if e.diagnostic else "")
              + (f"  note: {e.note}" if e.note else ""))
    return EXIT_OK


def cmd_export(store: SuppressionStore, args: argparse.Namespace) -> int:
    out: TextIO = sys.stdout if args.file == "-" else open(args.file, "w", newline="", encoding="utf-8")
    try:
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        n = 0
        for rec in store.records(args.reason, args.scope, in_force_only=not args.all):
            d = _record_dict(rec)
            d["reason"] = EXPORTED_REASON.get(rec.reason or "", rec.reason or "")
            writer.writerow(["" if d[c] is None else d[c] for c in EXPORT_COLUMNS])
            n += 1
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"exported {n} record(s)", file=sys.stderr)
    return EXIT_OK


def cmd_import(store: SuppressionStore, args: argparse.Namespace) -> int:
    if args.format == "plain" and not args.reason:
        args.reason = "manual"
    try:
        src: TextIO = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", errors="replace", newline="") \
            if args.file == "-" else open(args.file, encoding="utf-8-sig", errors="replace", newline="")
    except OSError as exc:
        print(f"outguard: {args.file}: {exc.strerror}", file=sys.stderr)
        return EXIT_BROKEN
    with src:
        rows, bad, used = read_rows(src, args.format, args.reason, args.scope, _actor())
    label = "-" if args.file == "-" else args.file
    for line, problem in bad:
        print(f"{label}:{line}: {problem}", file=sys.stderr)
    if bad and not args.skip_bad:
        print(f"{len(bad)} bad line(s), {len(rows)} good: nothing imported (fix the file, or --skip-bad "
              f"to import the good lines)", file=sys.stderr)
        return EXIT_PROBLEM
    changes = store.record([r.event for r in rows], dry_run=args.dry_run) if rows else []
    extra: Counter[str] = Counter({"bad lines skipped": len(bad)}) if bad else Counter()
    print(f"{label} ({used}): {len(rows)} row(s): " + _summary(changes, args.dry_run, extra))
    return EXIT_PROBLEM if bad else EXIT_OK


COMMANDS = {"add": cmd_add, "remove": cmd_remove, "list": cmd_list, "show": cmd_show, "import": cmd_import,
            "export": cmd_export}
