"""The `outguard` command. Exit codes:

  0  done (check: every message inspected, whatever its verdict; lint/test: all good)
  1  check: a message could not be read, or a verdict listed in --fail-on occurred;
     rules lint/test: a problem or a failing rule test
  2  the configuration, a rule file or a plugin is broken, or the command line is wrong
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from outguard import __version__
from outguard.checks.host import PluginError
from outguard.cli import ingest as ingest_cli
from outguard.cli import suppress as suppress_cli
from outguard.core.config import Config, ConfigError, load_config, merge
from outguard.core.message import Envelope
from outguard.core.sources import read_sources
from outguard.core.verdict import VERDICTS
from outguard.ops.audit import AuditLog, record_of
from outguard.ops.logs import setup_logging
from outguard.pipeline import Inspector
from outguard.rules.explain import as_json, explain
from outguard.rules.loader import RuleSetError, lint, load_rules
from outguard.rules.ruletests import run_all
from outguard.store import services_from_config
from outguard.unsubscribe import server as oneclick_server

log = logging.getLogger("outguard.cli.main")
EXIT_OK, EXIT_PROBLEM, EXIT_BROKEN = 0, 1, 2


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="site config (default /etc/outguard/outguard.yaml if present)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="override the config's log_level")


def _rules_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rules", type=Path, action="append", default=[], metavar="PATH",
                   help="extra local rule file or folder (its override.d/ too); repeatable")
    p.add_argument("--no-defaults", action="store_true", help="leave out the shipped default rules")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="outguard", description="Inspect outgoing mail by YAML rules.")
    parser.add_argument("--version", action="version", version=f"outguard {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="dry run: the verdict the daemon would give, and why")
    _common(check)
    _rules_args(check)
    check.add_argument("--sender", help="envelope sender (default: from the headers)")
    check.add_argument("--rcpt", action="append", default=[], help="envelope recipient; repeatable (default: To/Cc/Bcc)")
    check.add_argument("--auth-user", help="SASL user the sender authenticated as")
    check.add_argument("--client-address", help="SMTP client address")
    check.add_argument("--explain", action="store_true", help="findings, matched rules and reasons, for people")
    check.add_argument("--json", action="store_true", help="one JSON object per message, one per line")
    check.add_argument("--audit-log", type=Path, metavar="FILE",
                       help="append the audit records the daemon would write (hash-chained JSON lines)")
    check.add_argument("--store", metavar="URL", help="suppression store (SQLAlchemy URL or SQLite file; default: config)")
    check.add_argument("--fail-on", default="", metavar="VERDICTS",
                       help="comma-separated verdicts that make the exit code 1 (e.g. reject,tempfail)")
    check.add_argument("paths", nargs="+", metavar="PATH", help="message file, folder, mbox, or - for stdin")

    rules = sub.add_parser("rules", help="lint or test rule files")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    for name, text in (("lint", "validate the rule set (file:line errors)"), ("test", "run the tests rules carry")):
        p = rules_sub.add_parser(name, help=text)
        _common(p)
        p.add_argument("--no-defaults", action="store_true", help="leave out the shipped default rules")
        p.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="local rule files or folders to add")
    run = sub.add_parser("run", help="serve the milter protocol for Postfix until stopped")
    _common(run)
    _rules_args(run)
    run.add_argument("--socket", help="libmilter socket: unix:/path or inet:PORT@127.0.0.1 (default: config)")
    run.add_argument("--workers", type=int, help="inspection worker processes; 0 = in the milter process")
    run.add_argument("--store", metavar="URL", help="suppression store (SQLAlchemy URL or SQLite file; default: config)")
    run.add_argument("--audit-log", type=Path, metavar="FILE", help="audit trail file (overrides audit.path)")

    cc = sub.add_parser("check-config", help="validate config, rules and plugins (systemd ExecStartPre)")
    _common(cc)
    _rules_args(cc)

    au = sub.add_parser("audit", help="verify or search the audit trail")
    au_sub = au.add_subparsers(dest="audit_command", required=True)
    av = au_sub.add_parser("verify", help="prove a log unbroken, or name its first bad line")
    av.add_argument("--partial", action="store_true", help="the oldest rotated file is gone: do not require record 1")
    av.add_argument("files", nargs="+", type=Path, metavar="FILE", help="oldest first (FILE.2 FILE.1 FILE)")
    asr = au_sub.add_parser("search", help="records by time, queue id, verdict or rule (JSON lines)")
    asr.add_argument("--since", help="ISO time, e.g. 2026-11-27T10:00")
    asr.add_argument("--until", help="ISO time")
    asr.add_argument("--queue-id")
    asr.add_argument("--verdict", choices=VERDICTS)
    asr.add_argument("--rule", help="a rule id that matched")
    asr.add_argument("files", nargs="+", type=Path, metavar="FILE")

    sb = sub.add_parser("sandbox", help="run outguard inside a throw-away Postfix on loopback (needs root)")
    _common(sb)
    sb.add_argument("--rules", type=Path, action="append", default=[], metavar="PATH", help="extra local rules")
    sb.add_argument("--send", action="append", default=[], metavar="PATH", help="messages to send through it first")
    sb.add_argument("--once", action="store_true", help="exit after sending instead of running until Ctrl-C")

    q = sub.add_parser("quarantine", help="messages held in Postfix's hold queue")
    q.add_argument("--postfix-config", metavar="DIR", help="Postfix config dir of a non-default instance")
    q_sub = q.add_subparsers(dest="quarantine_command", required=True)
    q_list = q_sub.add_parser("list", help="held messages with their verdict and rules")
    q_list.add_argument("--json", action="store_true")
    q_show = q_sub.add_parser("show", help="headers of a held message (never its body)")
    q_show.add_argument("queue_id")
    for name, text in (("release", "deliver held messages"), ("delete", "delete held messages")):
        qp = q_sub.add_parser(name, help=text)
        qp.add_argument("queue_ids", nargs="+", metavar="QUEUE_ID")
    suppress_cli.add_parser(sub)
    ingest_cli.add_parser(sub)
    oneclick_server.add_parser(sub)
    return parser


def _load_config(args: argparse.Namespace) -> Config:
    config = load_config(args.config)
    setup_logging(args.log_level or str(config.raw.get("log_level", "info")))
    return config


def cmd_check(args: argparse.Namespace) -> int:
    config = _load_config(args)
    services = services_from_config(config, args.store) if args.store else None
    inspector = Inspector.create(config, args.rules, include_defaults=False if args.no_defaults else None,
                                 services=services)
    fail_on = {v.strip() for v in args.fail_on.split(",") if v.strip()}
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
            result = inspector.inspect(source.raw, envelope, envelope_from_headers=True)
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
            if result.decision.verdict in fail_on:
                status = EXIT_PROBLEM
    finally:
        inspector.close()
        for service in (services or {}).values():
            service.close()
    return status


def cmd_rules(args: argparse.Namespace) -> int:
    config = _load_config(args)
    include = False if args.no_defaults else None
    if args.rules_command == "lint":
        ruleset = load_rules(config, args.paths, include)
        problems = lint(ruleset)
        for p in problems:
            print(p, file=sys.stderr)
        print(f"{len(ruleset.rules)} rules, {len(ruleset.patterns)} patterns from {len(ruleset.files)} files: "
              f"{'ok' if not problems else f'{len(problems)} problem(s)'}")
        return EXIT_PROBLEM if problems else EXIT_OK
    inspector = Inspector.create(config, args.paths, include_defaults=include)
    try:
        outcomes, problems = run_all(inspector.ruleset, inspector.dry_run)
    finally:
        inspector.close()
    for o in outcomes:
        print(f"{'PASS' if o.passed else 'FAIL'} {o.rule} :: {o.test}" + ("" if o.passed else f"   ({o.origin})"))
        for problem in o.problems:
            print(f"     {problem}")
    for p in problems:
        print(f"FAIL {p}")
    failed = sum(not o.passed for o in outcomes) + len(problems)
    print(f"{len(outcomes) - sum(not o.passed for o in outcomes)} passed, {failed} failed")
    return EXIT_PROBLEM if failed else EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from outguard.ops import audit

    if args.audit_command == "verify":
        count, head, broken = audit.verify(args.files, partial=args.partial)
        if broken is not None:
            print(f"BROKEN {broken}")
            return EXIT_PROBLEM
        print(f"ok: {count} records, chain head {head}")
        return EXIT_OK
    for record in audit.search(args.files, args.since, args.until, args.queue_id, args.verdict, args.rule):
        print(json.dumps(record, ensure_ascii=False))
    return EXIT_OK


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load_config(args)
    inspector = Inspector.create(config, args.rules, include_defaults=False if args.no_defaults else None)
    try:
        ruleset = inspector.ruleset
        for problem in lint(ruleset):
            print(f"warning: {problem}", file=sys.stderr)
        print(f"ok: {config.source}; {len(ruleset.rules)} rules, {len(ruleset.patterns)} patterns; "
              f"plugins: {', '.join(inspector.host.names) or 'none'}")
    finally:
        inspector.close()
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from outguard.daemon.milter import Daemon, block_signals, serve
    from outguard.daemon.runner import InlineRunner, InspectionFailed, Setup, WorkerPool

    block_signals()  # before any thread: see docs/postfix-and-pymilter.md#trap-3
    config = _load_config(args)
    if args.audit_log:
        config = Config(raw=merge(config.raw, {"audit": {"path": str(args.audit_log)}}), source=config.source)
    settings = config.section("daemon")
    setup = Setup(args.config, tuple(args.rules), False if args.no_defaults else None, store_url=args.store)
    setup.validate()
    workers = settings.get("workers", 2) if args.workers is None else args.workers
    timeout = float(settings.get("inspect_timeout_seconds", 60))
    try:
        runner = WorkerPool(setup, workers, timeout) if workers > 0 else InlineRunner(setup, timeout)
    except InspectionFailed as exc:
        print(f"outguard: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    daemon = Daemon.create(runner, config)
    spec = args.socket or settings.get("socket", "unix:/var/spool/postfix/outguard/outguard.sock")
    log.info("starting: %s, %s", f"{workers} worker processes" if workers else "inline inspection", config.source)
    try:
        serve(daemon, spec, int(settings.get("milter_timeout_seconds", 600)))
    finally:
        runner.close()
    log.info("stopped after %d messages", daemon.messages)
    return EXIT_OK


def cmd_quarantine(args: argparse.Namespace) -> int:
    from outguard.ops import queue as q

    conf = args.postfix_config
    try:
        if args.quarantine_command == "list":
            held = q.list_held(conf)
            for h in held:
                if args.json:
                    print(json.dumps(h.__dict__))
                else:
                    print(f"{h.queue_id}  {h.size:>8}  from=<{h.sender}> nrcpt={len(h.recipients)}  "
                          f"verdict: {h.verdict}  reason: {h.reason}")
            if not args.json:
                print(f"{len(held)} held")
        elif args.quarantine_command == "show":
            print(q.show(args.queue_id, conf), end="")
        elif args.quarantine_command == "release":
            q.release(args.queue_ids, conf)
        else:
            q.delete(args.queue_ids, conf)
    except q.QueueError as exc:
        print(f"outguard: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    return EXIT_OK


def cmd_sandbox(args: argparse.Namespace) -> int:
    from outguard.sandbox.run import run

    _load_config(args)
    return run(args.config, args.rules, args.send, args.once)


COMMANDS: dict[str, Any] = {"audit": cmd_audit, "sandbox": cmd_sandbox, "check": cmd_check, "rules": cmd_rules, "run": cmd_run,
                            "check-config": cmd_check_config, "quarantine": cmd_quarantine,
                            "suppress": suppress_cli.run, "ingest": ingest_cli.run,
                            "oneclick": oneclick_server.run}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(COMMANDS[args.command](args))
    except (ConfigError, RuleSetError, PluginError) as exc:
        print(f"outguard: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
