"""`outguard ingest`: bounces (RFC 3464 DSNs and the common non-standard ones), complaint
reports (RFC 5965 ARF) and Postfix's delivery log into the suppression store.

    outguard ingest [--store URL] [--dry-run] [--json] [PATH ...]    # files, folders, Maildirs, mboxes, - (default)
    outguard ingest [--store URL] --postfix-log /var/log/mail.log [--follow] [--state FILE] [--from-start]
    outguard ingest [--store URL] --postfix-log journal [--follow] [--state FILE]

As a Postfix pipe transport on a bounce or FBL address it reads one message from stdin
and exits with a code Postfix understands: 0 when the message was handled (including a
report it could not read: that is logged and counted, never bounced back), 75
(EX_TEMPFAIL) when the store cannot be reached, so the message stays queued and is retried.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from outguard.checks.host import where_it_broke
from outguard.core.config import ConfigError, load_config
from outguard.core.sources import read_sources
from outguard.intake import parse_message
from outguard.intake.events import Report
from outguard.intake.ingest import Ingestor, Outcome, report_key
from outguard.intake.postfix_log import FileFollower, journal_lines, parse_line
from outguard.store import StoreUnavailable, SuppressionStore, hand_to_state_dir_owner
from outguard.store.policy import Policy

log = logging.getLogger("outguard.intake")

EX_OK, EX_PROBLEM, EX_USAGE, EX_TEMPFAIL, EX_CONFIG = 0, 1, 64, 75, 78


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("ingest", help="bounces, complaint reports and Postfix's log into the suppression store")
    p.add_argument("paths", nargs="*", metavar="PATH", help="messages: files, folders (Maildir too), mboxes, - "
                                                          "(stdin, the default)")
    p.add_argument("--config", type=Path, help="site config (default /etc/outguard/outguard.yaml if present)")
    p.add_argument("--store", metavar="URL", help="SQLAlchemy URL or SQLite file (default: config store.url)")
    p.add_argument("--dry-run", action="store_true", help="parse and report, change nothing")
    p.add_argument("--json", action="store_true", help="one JSON object per message (or log event) per line")
    p.add_argument("--postfix-log", metavar="FILE|journal", help="read Postfix's delivery log instead of messages")
    p.add_argument("--follow", action="store_true", help="with --postfix-log: keep reading new lines (tail -F)")
    p.add_argument("--state", type=Path, help="with --postfix-log: where to remember the position "
                                              "(default: intake.log_state in the config)")
    p.add_argument("--from-start", action="store_true", help="with --postfix-log FILE and no saved position: read "
                                                             "the whole file (default: only new lines when following)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help=argparse.SUPPRESS)
    return p


def _event_json(ev: Any) -> dict[str, Any]:
    return {"recipient": ev.recipient, "type": ev.type, "status": ev.status, "code": ev.code, "reason": ev.reason,
            "remote_mta": ev.remote_mta, "feedback_type": ev.feedback_type}


def _report_json(label: str, report: Report, outcome: Outcome | None, dry_run: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"file": label, "kind": report.kind, "events": [_event_json(e) for e in report.events]}
    if report.events:  # the reason token per recipient (README: bounce reasons)
        out["reasons"] = {e.recipient: e.cause for e in report.events}
    if report.original_message_id:
        out["original_message_id"] = report.original_message_id
    if report.problems:
        out["problems"] = report.problems
    if outcome is not None:
        out["store"] = outcome.summary()
        if outcome.skipped:
            out["skipped"] = outcome.skipped
    if dry_run:
        out["dry_run"] = True
    return out


def run(args: argparse.Namespace) -> int:
    """Never lets an exception out: whatever goes wrong is EX_TEMPFAIL, so a piped message
    stays in Postfix's queue until it can be handled."""
    try:
        return _run(args)
    except ConfigError as exc:
        print(f"outguard: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    except Exception as exc:  # type and line only: an exception's text may quote the report
        log.error("ingest failed: %s; the message stays queued", where_it_broke(exc))
        return EX_TEMPFAIL


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    logging.basicConfig(level=getattr(logging, (args.log_level or "warning").upper()), stream=sys.stderr,
                        format="outguard ingest: %(message)s")
    intake_cfg = config.section("intake")
    store = SuppressionStore.from_config(config, args.store, create=not args.dry_run)
    policy, location = store.policy, store.location
    if args.dry_run and location.sqlite_path is not None and not location.sqlite_path.exists():
        store_for_ingest: SuppressionStore | None = None  # nothing to compare with, nothing to write
    else:
        store_for_ingest = store
    ingestor = Ingestor(store_for_ingest, intake_cfg.get("sender_domains") or (), dry_run=args.dry_run)
    max_bytes = int(intake_cfg["max_message_bytes"])
    try:
        if args.postfix_log:
            return _run_log(args, ingestor, policy, intake_cfg)
        return _run_messages(args, ingestor, policy, max_bytes)
    except StoreUnavailable as exc:
        print(f"outguard: {location.display}: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    finally:
        store.close()
        if not args.dry_run and location.sqlite_path is not None and location.sqlite_path.exists():
            hand_to_state_dir_owner(location.sqlite_path)


def _run_messages(args: argparse.Namespace, ingestor: Ingestor, policy: Policy, max_bytes: int) -> int:
    totals: Counter[str] = Counter()
    sender_side: Counter[str] = Counter()
    status = EX_OK
    for source in read_sources(args.paths or ["-"]):
        if source.raw is None:
            print(f"outguard: {source.label}: {source.error}", file=sys.stderr)
            totals["unreadable"] += 1
            status = EX_PROBLEM
            continue
        report = parse_message(source.raw, policy, max_bytes)
        sender_side.update(e.cause or "undefined" for e in report.events if e.type == "policy")
        totals["messages"] += 1
        totals[f"kind_{report.kind}"] += 1
        if report.problems:
            totals["with_problems"] += 1
            log.info("%s: %s", source.label, "; ".join(report.problems))
        outcome = ingestor.ingest(report, report_key(source.raw))
        for k, v in outcome.summary().items():
            totals[k] += v
        if args.json:
            print(json.dumps(_report_json(source.label, report, outcome, args.dry_run), ensure_ascii=False),
                  flush=True)
    if not args.json:
        print(("dry run, nothing changed: " if args.dry_run else "")
              + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in totals.items() if n), file=sys.stderr)
    sender_alert(sender_side)
    return status


def sender_alert(counts: Counter[str]) -> None:
    """The receivers refused the message or the sender (spam, blocklist, policy, size, ...):
    no recipient is suppressed for it, so say it once, per reason, for whoever sends the
    mail to fix (no address, no report text)."""
    if counts:
        print("outguard: sender-side rejections, recipients not suppressed (the sending needs fixing): "
              + ", ".join(f"{why} {n}" for why, n in counts.most_common()), file=sys.stderr)


def _run_log(args: argparse.Namespace, ingestor: Ingestor, policy: Policy, cfg: dict[str, Any]) -> int:
    totals: Counter[str] = Counter()
    sender_side: Counter[str] = Counter()
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    state = args.state or (Path(cfg["log_state"]) if cfg.get("log_state") else None)

    def handle(line: str) -> None:
        parsed = parse_line(line, policy)
        if parsed is None:
            return
        totals["log_events"] += 1
        if parsed.event.type == "policy":
            sender_side[parsed.event.cause or "undefined"] += 1
        outcome = ingestor.ingest(Report(kind="log", events=[parsed.event]),
                                  report_key(line.encode("utf-8", "replace")), source="postfix-log")
        for k, v in outcome.summary().items():
            totals[k] += v
        if args.json:
            print(json.dumps({"file": args.postfix_log, "kind": "log", "queue_id": parsed.queue_id,
                              "events": [_event_json(parsed.event)], "store": outcome.summary(),
                              **({"dry_run": True} if args.dry_run else {})}), flush=True)

    try:
        if args.postfix_log == "journal":
            for line in journal_lines(state, args.follow):
                handle(line)
                if stopping:
                    break
        else:
            follower = FileFollower(Path(args.postfix_log), state, from_start=args.from_start or not args.follow)
            if args.follow:
                follower.follow(handle, lambda: stopping, float(cfg.get("poll_seconds", 1.0)))
            else:
                for line in follower.read_available():
                    handle(line)
                if not args.dry_run:
                    follower.save()
    except KeyboardInterrupt:
        pass
    if not args.json:
        print(("dry run, nothing changed: " if args.dry_run else "")
              + (", ".join(f"{n} {k.replace('_', ' ')}" for k, n in totals.items() if n) or "no delivery lines"),
              file=sys.stderr)
    sender_alert(sender_side)
    return EX_OK
