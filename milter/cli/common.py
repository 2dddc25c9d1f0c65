"""What every command shares: exit codes, the --config/--log-level/--rules options, and
loading the config with the one logging setup."""

from __future__ import annotations

import argparse
from pathlib import Path

from outguard.core.config import Config, load_config
from outguard.ops.logs import setup_logging

EXIT_OK, EXIT_PROBLEM, EXIT_BROKEN = 0, 1, 2
LOG_LEVELS = ["debug", "info", "warning", "error"]


def config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="site config (default /etc/outguard/outguard.yaml if present)")
    p.add_argument("--log-level", choices=LOG_LEVELS, help="override the config's log_level")


def rules_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rules", type=Path, action="append", default=[], metavar="PATH",
                   help="a rule file, or a site folder read like /etc/outguard (its *.yaml, local.d/ and "
                        "override.d/); repeatable")
    p.add_argument("--no-defaults", action="store_true", help="leave out the shipped default rules")


def load(args: argparse.Namespace, level: str | None = None) -> Config:
    """The config, with logging set up at --log-level, else `level`, else the config's."""
    config = load_config(args.config)
    setup_logging(getattr(args, "log_level", None) or level or str(config.raw["log_level"]))
    return config


def include_defaults(args: argparse.Namespace) -> bool | None:
    return False if getattr(args, "no_defaults", False) else None
