"""Two outguard instances (two relays) on one PostgreSQL see each other's suppressions at once."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from helpers import outguard_command
from outguard.checks.host import exactly
from outguard.core.config import load_config
from outguard.core.message import Envelope
from outguard.pipeline import Inspector
from outguard.store import Event, SuppressionStore, resolve

NOTE = b"From: news@clinic.example\nSubject: Saturday opening\n\nThe lab is open on Saturday.\n"
RCPTS = ("ann@partner.example", "bob@partner.example", "cat@partner.example")


def relay(url: str) -> Inspector:
    """One relay's inspector, built the way a daemon worker builds it (services from the config)."""
    config = load_config(Path("/dev/null"), {"rules": {"local": [], "override": []}, "store": {"url": url},
                                             "plugins": exactly(["recipients"])})
    return Inspector.create(config)


def dropped(inspector: Inspector) -> list[str]:
    return sorted(inspector.inspect(NOTE, Envelope(sender="news@clinic.example", recipients=RCPTS)).decision.drop_recipients)


def cli_check(url: str) -> list[str]:
    """A third instance: `outguard check --store URL` in its own process."""
    out = subprocess.run([*outguard_command(), "check", "--config", "/dev/null", "--store", url, "--json",
                          "--sender", "news@clinic.example", *sum((["--rcpt", r] for r in RCPTS), []), "-"],
                         input=NOTE, capture_output=True, check=True).stdout
    return sorted(a["recipient"] for a in json.loads(out)["actions"] if a["action"] == "drop_recipient")


def test_two_relays_share_one_postgres_list(pg_url: str) -> None:
    store = SuppressionStore(resolve(pg_url), create=True)
    store.migrate()
    relay_a, relay_b = relay(pg_url), relay(pg_url)
    try:
        assert dropped(relay_a) == dropped(relay_b) == []
        # relay A's bounce processing records a hard bounce: relay B drops that recipient on its next message
        store.record([Event("bob@partner.example", "bounce", int(time.time()), status="5.1.1")])
        assert dropped(relay_b) == ["bob@partner.example"]
        assert dropped(relay_a) == ["bob@partner.example"]
        # an admin on relay B's host adds one with the CLI (another process): both see it at once
        subprocess.run([*outguard_command(), "suppress", "--config", "/dev/null", "--store", pg_url, "add",
                        "cat@partner.example", "--reason", "complaint"], check=True, capture_output=True)
        assert dropped(relay_a) == dropped(relay_b) == ["bob@partner.example", "cat@partner.example"]
        assert cli_check(pg_url) == ["bob@partner.example", "cat@partner.example"]
        # and a lift is seen at once too
        subprocess.run([*outguard_command(), "suppress", "--config", "/dev/null", "--store", pg_url, "remove",
                        "bob@partner.example"], check=True, capture_output=True)
        assert dropped(relay_a) == dropped(relay_b) == ["cat@partner.example"]
    finally:
        relay_a.close()
        relay_b.close()
        store.close()
