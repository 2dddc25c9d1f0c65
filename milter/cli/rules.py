"""`outguard rules lint|test|findings`: rule files checked, their own tests run, and the
finding ids the running checks can produce."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from outguard.checks.host import PluginHost
from outguard.cli.common import EXIT_OK, EXIT_PROBLEM, config_args, include_defaults, load
from outguard.core.config import Config
from outguard.notify.templates import TemplateError, catalogue
from outguard.pipeline import Inspector
from outguard.rules.lint import errors, known_findings, lint
from outguard.rules.loader import RuleSet, load_rules
from outguard.rules.ruletests import run_all


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("rules", help="lint or test rule files; list the finding ids rules may name")
    rules_sub = p.add_subparsers(dest="rules_command", required=True)
    for name, text in (("lint", "validate the rule set: errors and warnings with file:line"),
                       ("test", "run the tests rules carry"),
                       ("findings", "the finding ids each running check (and the core) can produce")):
        sp = rules_sub.add_parser(name, help=text)
        config_args(sp)
        sp.add_argument("--no-defaults", action="store_true", help="leave out the shipped default rules")
        sp.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="local rule files or site folders to add")
    return p


def emits_of(config: Config) -> dict[str, tuple[str, ...] | None]:
    """What the checks this config runs declare they produce (loads them, starts none)."""
    return PluginHost.from_config(config.plugins).emits()


def lint_report(ruleset: RuleSet, config: Config, warn_only: bool = False) -> int:
    """Print lint issues to stderr; the number of errors."""
    try:
        templates: set[str] | None = set(catalogue(config.section("notify").get("templates") or {}))
        broken = 0
    except TemplateError as exc:  # a notice template names a field outguard does not fill
        print(f"{config.source}: error: {exc}", file=sys.stderr)
        templates, broken = None, 1
    issues = lint(ruleset, emits_of(config), templates)
    for issue in issues:
        print(f"warning: {issue}" if warn_only else str(issue), file=sys.stderr)
    return len(errors(issues)) + broken


def run(args: argparse.Namespace) -> int:
    config = load(args, "warning")
    if args.rules_command == "lint":
        ruleset = load_rules(config, args.paths, include_defaults(args))
        failed = lint_report(ruleset, config)
        print(f"{len(ruleset.rules)} rules, {len(ruleset.patterns)} patterns from {len(ruleset.files)} files: "
              f"{'ok' if not failed else f'{failed} error(s)'}")
        return EXIT_PROBLEM if failed else EXIT_OK
    if args.rules_command == "findings":
        ruleset = load_rules(config, args.paths, include_defaults(args))
        for producer, globs in known_findings(emits_of(config), ruleset).items():
            print(f"{producer}: {', '.join(globs) if globs is not None else '(declares none)'}")
        return EXIT_OK
    inspector = Inspector.create(config, args.paths, include_defaults=include_defaults(args))
    inspector.all_findings = True   # a rule test may expect any finding, read by a rule or not
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
