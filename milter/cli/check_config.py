"""`outguard check-config`: config, rules and checks as the daemon would load them
(systemd's ExecStartPre). Fails on anything that would start but protect less than it says."""

from __future__ import annotations

import argparse
from typing import Any

from outguard.checks.host import shipped_checks
from outguard.cli.common import EXIT_OK, EXIT_PROBLEM, config_args, include_defaults, load, rules_args
from outguard.cli.rules import lint_report
from outguard.pipeline import Inspector


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("check-config", help="validate config, rules and checks (systemd ExecStartPre)")
    config_args(p)
    rules_args(p)
    return p


def run(args: argparse.Namespace) -> int:
    config = load(args, "warning")
    inspector = Inspector.create(config, args.rules, include_defaults(args))
    try:
        ruleset = inspector.ruleset
        failed = lint_report(ruleset, config)
        names = inspector.host.names
        off = sorted(set(shipped_checks()) - set(names))
        print(f"{'ok' if not failed else 'FAILED'}: {config.source}; {len(ruleset.rules)} rules, "
              f"{len(ruleset.patterns)} patterns; checks: {', '.join(names) or 'none'}"
              + (f"; shipped checks disabled: {', '.join(off)}" if off else ""))
    finally:
        inspector.close()
    return EXIT_PROBLEM if failed else EXIT_OK
