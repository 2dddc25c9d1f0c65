"""`outguard check`: the dry run. The verdict the daemon would give each message, and why."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from outguard.cli.common import EXIT_OK, EXIT_PROBLEM, config_args, include_defaults, load, rules_args
from outguard.core.message import Envelope
from outguard.core.sources import read_sources
from outguard.core.verdict import Verdict
from outguard.ops.audit import AuditLog, record_of
from outguard.pipeline import Inspector
from outguard.rules.explain import as_json, explain


def verdict_list(text: str) -> set[Verdict]:
    """`--fail-on reject,tempfail`: unknown verdicts are a usage error naming the valid ones."""
    try:
        return {Verdict.parse(v) for v in text.split(",") if v.strip()}
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("check", help="dry run: the verdict the daemon would give, and why")
    config_args(p)
    rules_args(p)
    p.add_argument("-v", "--verbose", action="store_true", help="log what the checks say at start-up (INFO)")
    p.add_argument("--sender", help="envelope sender (default: from the headers)")
    p.add_argument("--rcpt", action="append", default=[], help="envelope recipient; repeatable (default: To/Cc/Bcc)")
    p.add_argument("--auth-user", help="SASL user the sender authenticated as")
    p.add_argument("--client-address", help="SMTP client address")
    p.add_argument("--explain", action="store_true", help="findings, matched rules and reasons, for people")
    p.add_argument("--json", action="store_true", help="one JSON object per message, one per line")
    p.add_argument("--all-findings", action="store_true",
                   help="run every check, also those whose findings no loaded rule reads (implied by --explain, --json)")
    p.add_argument("--audit-log", type=Path, metavar="FILE",
                   help="append the audit records the daemon would write (hash-chained JSON lines)")
    p.add_argument("--store", metavar="URL", help="suppression store (SQLAlchemy URL or SQLite file; default: config)")
    p.add_argument("--fail-on", type=verdict_list, default=set(), metavar="VERDICTS",
                   help="comma-separated verdicts that make the exit code 1 (e.g. reject,tempfail)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="message file, folder, mbox, or - for stdin")
    return p


def run(args: argparse.Namespace) -> int:
    config = load(args, "info" if args.verbose else "warning")
    services = None
    if args.store:
        from outguard.store import services_from_config

        services = services_from_config(config, args.store)
    inspector = Inspector.create(config, args.rules, include_defaults(args), services=services)
    inspector.all_findings = bool(args.all_findings or args.explain or args.json)
    envelope = Envelope(sender=args.sender or "", recipients=tuple(args.rcpt),
                        auth_user=args.auth_user, client_address=args.client_address)
    status = EXIT_OK
    audit = AuditLog(args.audit_log) if args.audit_log else None
    try:
        for source in read_sources(args.paths):
            if source.raw is None:
                print(f"outguard: {source.label}: {source.error}", file=sys.stderr)
                status = EXIT_PROBLEM
                continue
            result = inspector.dry_run(source.raw, envelope)
            if audit is not None and result.message is not None:
                env = result.message.envelope
                audit.write(record_of(result.decision, env.queue_id, result.message.header("Message-ID"),
                                      env.sender, len(env.recipients), f"check:{source.label}"))
            if args.json:
                print(json.dumps(as_json(source.label, result), ensure_ascii=False))
            elif args.explain:
                print(explain(source.label, result) + "\n")
            else:
                d = result.decision
                print(f"{source.label}: {d.verdict}" + (f" ({', '.join(d.rule_ids)})" if d.rule_ids else ""))
            if result.decision.verdict in args.fail_on:
                status = EXIT_PROBLEM
    finally:
        inspector.close()
        for service in (services or {}).values():
            service.close()
    return status
