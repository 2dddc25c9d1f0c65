"""`outguard reputation`: the sender's rates and pauses.

    outguard reputation status [--json]                       # every stream that sent in the longest window
    outguard reputation resume STREAM [--note TEXT]           # lift a pause (audited)
    outguard reputation report [--since DAYS|DATE] [--stream STREAM] [--json] [--plot FILE.png]
    outguard reputation pacing                                # Postfix transport/main.cf/master.cf lines

STREAM is `list:<List-Id>` (a bare List-Id means that), `stream:<value>` for a configured
stream header, or `domain:<sender domain>` for the sender's mail without a stream.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from outguard.cli.common import EXIT_BROKEN, EXIT_OK, EXIT_PROBLEM, config_args, load
from outguard.cli.suppress import _actor  # who ran it: the same answer as for `suppress`
from outguard.core.addresses import AddressError
from outguard.core.config import Config
from outguard.reputation.keys import parse_key
from outguard.reputation.settings import DAY


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("reputation", help="bounce and complaint rates, pauses, warm-up, pacing, report")
    config_args(p)
    p.add_argument("--store", metavar="URL", help="SQLAlchemy URL or SQLite file (default: config store.url)")
    sub = p.add_subparsers(dest="reputation_command", required=True)
    st = sub.add_parser("status", help="each stream's rates and pause state")
    st.add_argument("--json", action="store_true")
    rs = sub.add_parser("resume", help="lift a pause (written to the audit trail first)")
    rs.add_argument("stream", metavar="STREAM")
    rs.add_argument("--note", help="why (kept with the resume and in the audit record)")
    rs.add_argument("--audit-log", type=Path, help="audit trail (default: the config's audit.path)")
    rp = sub.add_parser("report", help="daily volumes and rates against the thresholds")
    rp.add_argument("--since", default="14", help="days back (default 14) or a date YYYY-MM-DD")
    rp.add_argument("--stream", metavar="STREAM", help="one stream (default: every stream that sent)")
    rp.add_argument("--json", action="store_true", help="the report as one JSON object")
    rp.add_argument("--plot", type=Path, metavar="FILE.png", help="draw volumes and rates (matplotlib)")
    sub.add_parser("pacing", help="print the Postfix pacing entries generated from reputation.pacing")
    return p


def _store(config: Config, url: str | None) -> Any:
    from outguard.reputation.store import ReputationStore
    from outguard.store.engine import resolve
    from outguard.store.policy import Policy

    cfg = config.section("store")
    return ReputationStore(resolve(url, cfg), Policy.from_config(cfg.get("policy")), create=False,
                           connect_timeout=float(cfg["connect_timeout_seconds"]))


def run(args: argparse.Namespace) -> int:
    config = load(args, "warning")
    command = args.reputation_command
    if command == "pacing":
        from outguard.reputation.pacing import pacing_files, render

        print(render(pacing_files(config)), end="")
        return EXIT_OK
    from outguard.store import StoreUnavailable

    store = _store(config, args.store)
    path = store.location.sqlite_path
    if path is not None and not path.exists():
        print(f"outguard: no store at {store.location.display} (nothing recorded yet)", file=sys.stderr)
        return EXIT_PROBLEM
    try:
        if command == "resume":
            return cmd_resume(store, config, args)
        if command == "status":
            return cmd_status(store, config, args)
        return cmd_report(store, config, args)
    except StoreUnavailable as exc:
        print(f"outguard: {store.location.display}: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    finally:
        store.close()


def cmd_resume(store: Any, config: Config, args: argparse.Namespace) -> int:
    try:
        key = parse_key(args.stream)
    except AddressError as exc:
        print(f"outguard: {args.stream!r}: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    pause, _ = store.pause_of(key)
    if pause is None:
        print(f"outguard: {key} is not paused", file=sys.stderr)
        return EXIT_PROBLEM
    audit_path = args.audit_log or config.section("audit").get("path")
    actor = _actor()
    if audit_path:
        from outguard.ops.audit import AuditLog

        audit = config.section("audit")
        record = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), "source": "reputation",
                  "action": "resume", "stream": key, "actor": actor, "paused_at": pause.at, "paused_for": pause.detail,
                  "note": args.note}
        try:
            AuditLog(Path(audit_path), audit.get("fsync", "always")).write(record)
        except OSError as exc:
            print(f"outguard: audit trail {audit_path} not writable ({exc.strerror}); the pause stays", file=sys.stderr)
            return EXIT_BROKEN
    store.set_action(key, "resume", args.note or "", actor=actor)
    print(f"{key}: resumed (paused since {_iso(pause.at)}: {pause.detail}); rates count afresh from now")
    return EXIT_OK


def _iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cmd_status(store: Any, config: Config, args: argparse.Namespace) -> int:
    from outguard.reputation.service import ReputationService
    from outguard.reputation.settings import ReputationSettings

    settings = ReputationSettings.from_config(config)
    service = ReputationService(store.location, store.policy, settings, store=store)
    now = int(dt.datetime.now(dt.UTC).timestamp())
    rows = []
    for key in store.keys(now - settings.longest_window):
        st = service.compute(key, now, record_pause=False)
        rows.append({"stream": key, "paused": bool(st.paused), "paused_at": st.paused.at if st.paused else None,
                     "today": st.today, "windows": [{"hours": w.hours, "accepted": w.accepted,
                                                     "hard_bounces": w.hard_bounces, "complaints": w.complaints,
                                                     "bounce_rate": round(w.bounce_rate, 5),
                                                     "complaint_rate": round(w.complaint_rate, 5), "counts": w.counts}
                                                    for w in st.windows]})
    if args.json:
        print(json.dumps(rows, indent=1))
        return EXIT_OK
    for r in rows:
        state = f"PAUSED since {_iso(r['paused_at'])}" if r["paused"] else "sending"
        wins = "; ".join(f"{w['hours']}h {w['accepted']} rcpt, bounces {w['bounce_rate']:.2%}, "
                         f"complaints {w['complaint_rate']:.3%}{'' if w['counts'] else ' (below minimum volume)'}"
                         for w in r["windows"])
        print(f"{r['stream']}: {state}; today {r['today']}; {wins}")
    return EXIT_OK


def since_day(text: str, today: int) -> int:
    """`--since`: days back, or a date."""
    if text.isdigit():
        return today - int(text) + 1
    return dt.date.fromisoformat(text).toordinal() - dt.date(1970, 1, 1).toordinal()


def cmd_report(store: Any, config: Config, args: argparse.Namespace) -> int:
    from outguard.reputation.report import ReportError, build_report, plot, render_table
    from outguard.reputation.settings import ReputationSettings

    settings = ReputationSettings.from_config(config)
    today = int(dt.datetime.now(dt.UTC).timestamp()) // DAY
    try:
        first = since_day(args.since, today)
        streams = [parse_key(args.stream)] if args.stream else None
    except (ValueError, AddressError) as exc:
        print(f"outguard: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    report = build_report(store, settings, first, today, streams)
    print(json.dumps(report, indent=1) if args.json else render_table(report), end="" if not args.json else "\n")
    if args.plot:
        try:
            plot(report, args.plot)
        except (ReportError, OSError) as exc:
            print(f"outguard: {exc}", file=sys.stderr)
            return EXIT_BROKEN
    return EXIT_OK
