"""`outguard postfix-snippets`: the main.cf, master.cf, milter_header_checks and transport
entries for the milter, every configured route and the per-provider pacing, checked with `postconf` when Postfix is installed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from outguard.cli.common import EXIT_OK, EXIT_PROBLEM, config_args, load
from outguard.ops.snippets import FILES, postconf_problems, render


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("postfix-snippets", help="Postfix main.cf / master.cf / header_checks entries "
                                                        "for the milter and every route")
    config_args(p)
    p.add_argument("--file", choices=FILES, help="print only this one")
    p.add_argument("--write", type=Path, metavar="DIR", help="write the files into DIR instead of printing them")
    p.add_argument("--no-check", action="store_true", help="do not check them with postconf/postmap")
    return p


def run(args: argparse.Namespace) -> int:
    config = load(args, "warning")
    files = render(config)
    chosen = {args.file: files[args.file]} if args.file else files
    for name, text in chosen.items():
        if args.write:
            args.write.mkdir(parents=True, exist_ok=True)
            (args.write / name).write_text(text)
            print(f"wrote {args.write / name}", file=sys.stderr)
        elif args.file:
            sys.stdout.write(text)
        else:
            sys.stdout.write(f"==> {name} <==\n{text}\n")
    if args.no_check:
        return EXIT_OK
    problems = postconf_problems(config)
    if problems is None:
        print("postfix-snippets: Postfix is not installed here; not checked with postconf", file=sys.stderr)
        return EXIT_OK
    for problem in problems:
        print(f"postfix-snippets: {problem}", file=sys.stderr)
    return EXIT_PROBLEM if problems else EXIT_OK
