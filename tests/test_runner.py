"""Inspection runners: the worker pool survives crashes and hangs, and reloads whole or not at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from outguard.core.message import Envelope
from outguard.daemon.runner import InlineRunner, InspectionFailed, Setup, WorkerPool

RULES_OK = """
patterns:
  - id: org.ticket
    regex: 'TCK-\\d{4}'
rules:
  - id: tickets-held
    description: hold tickets
    status: experimental
    when: {finding: org.ticket}
    then: {quarantine: ticket}
"""
MSG = b"Subject: s\n\nsee TCK-1234\n"
ENV = Envelope(sender="a@example.org", recipients=("b@example.net",), queue_id="4XyZ")


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES_OK)
    cfg = tmp_path / "outguard.yaml"
    cfg.write_text("rules: {local: [], override: []}\n")
    return Setup(cfg, (rules,))


def test_inline_runner_gives_the_same_decision_as_the_pool(setup: Setup) -> None:
    inline = InlineRunner(setup, timeout=10)
    pool = WorkerPool(setup, size=1, timeout=10)
    try:
        a, b = inline.inspect(MSG, ENV), pool.inspect(MSG, ENV)
        assert a == b and a.verdict == "quarantine"
        assert [(f.id, f.count, f.confidence) for f in a.findings] == [("org.ticket", 1, 0.9)]
    finally:
        inline.close()
        pool.close()


def test_pool_replaces_a_worker_that_dies(setup: Setup) -> None:
    pool = WorkerPool(setup, size=1, timeout=10)
    try:
        [pid] = pool.pids()
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        # the dead worker is noticed when taken and replaced in the background; until the
        # replacement is up, callers get InspectionFailed (on_error), never a hang or a crash
        deadline = time.monotonic() + 30
        decision = None
        while time.monotonic() < deadline:
            try:
                decision = pool.inspect(MSG, ENV)
                break
            except InspectionFailed:
                time.sleep(0.2)
        assert decision is not None and decision.verdict == "quarantine"
        assert pool.pids() and pool.pids() != [pid]
    finally:
        pool.close()


def test_pool_kills_a_hung_inspection_and_keeps_serving(setup: Setup, tmp_path: Path) -> None:
    rules = tmp_path / "slow.yaml"
    rules.write_text("""
patterns:
  - id: org.evil
    regex: '(?:a|aa)+$'
rules: []
""")
    cfg = tmp_path / "slow-config.yaml"
    cfg.write_text("rules: {local: [], override: []}\nscan: {pattern_timeout_seconds: 30}\n")
    pool = WorkerPool(Setup(cfg, (rules,)), size=1, timeout=1.0)
    try:
        [pid] = pool.pids()
        started = time.monotonic()
        with pytest.raises(InspectionFailed, match="exceeded"):
            pool.inspect(b"Subject: s\n\n" + b"a" * 80 + b"!\n", ENV)
        assert time.monotonic() - started < 5
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not pool.pids():
            time.sleep(0.1)
        assert pool.pids() and pool.pids() != [pid]
        assert pool.inspect(b"Subject: fine\n\nhello\n", ENV).verdict == "deliver"
    finally:
        pool.close()


def test_reload_keeps_old_rules_on_error_and_takes_fixed_ones(setup: Setup) -> None:
    pool = WorkerPool(setup, size=2, timeout=10)
    try:
        rules = setup.rule_paths[0]
        rules.write_text(RULES_OK.replace("quarantine: ticket", "shred: now"))
        with pytest.raises(Exception, match="shred"):
            pool.reload()
        assert pool.inspect(MSG, ENV).verdict == "quarantine"
        rules.write_text(RULES_OK.replace("quarantine: ticket", "reject: no tickets outside"))
        pool.reload()
        for _ in range(4):  # every worker, old generation retired
            assert pool.inspect(MSG, ENV).verdict == "reject"
    finally:
        pool.close()


STARTS_POOL = """
import signal, sys
from pathlib import Path
from outguard.daemon.milter import block_signals
from outguard.daemon.runner import Setup, WorkerPool
block_signals()
before = signal.pthread_sigmask(signal.SIG_BLOCK, ())
pool = WorkerPool(Setup(Path(sys.argv[1]), ()), size=1, timeout=10)
after = signal.pthread_sigmask(signal.SIG_BLOCK, ())
pool.close()
print(sorted(int(s) for s in before - after))
"""


def test_starting_the_pool_keeps_the_stop_signals_blocked(tmp_path: Path) -> None:
    """A fresh process (the resource tracker starts once per process): a thread started after
    the pool must still leave TERM to libmilter's sigwait, or TERM kills the daemon."""
    cfg = tmp_path / "outguard.yaml"
    cfg.write_text("rules: {local: [], override: []}\n")
    proc = subprocess.run([sys.executable, "-c", STARTS_POOL, str(cfg)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONSAFEPATH": "1"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", "signals unblocked by starting the pool"
