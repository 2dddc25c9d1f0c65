"""Inspection runners: the worker pool survives crashes and hangs, and reloads whole or not at all;
the daemon holds a message whose inspection ran out of time instead of tempfailing it forever."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from outguard.core.config import load_config
from outguard.core.decision import Decision
from outguard.core.message import Envelope
from outguard.daemon.milter import Daemon
from outguard.daemon.runner import InlineRunner, InspectionFailed, InspectionTimedOut, Payload, Setup, WorkerPool

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


HANG_MSG = b"Subject: s\n\n" + b"a" * 80 + b"!\n"   # catastrophic backtracking for the pattern below


def hang_setup(tmp_path: Path, pattern_timeout: float) -> Setup:
    """A custom pattern that backtracks for `pattern_timeout` seconds on HANG_MSG."""
    rules = tmp_path / "slow.yaml"
    rules.write_text("""
patterns:
  - id: org.evil
    regex: '(?:a|aa)+$'
rules: []
""")
    cfg = tmp_path / "slow-config.yaml"
    cfg.write_text(f"rules: {{local: [], override: []}}\nscan: {{pattern_timeout_seconds: {pattern_timeout}}}\n"
                   f"audit: {{path: '{tmp_path}/audit.jsonl'}}\n")
    return Setup(cfg, (rules,))


def test_pool_kills_a_hung_inspection_and_keeps_serving(setup: Setup, tmp_path: Path) -> None:
    pool = WorkerPool(hang_setup(tmp_path, 30), size=1, timeout=1.0)
    try:
        [pid] = pool.pids()
        started = time.monotonic()
        with pytest.raises(InspectionTimedOut, match="exceeded 1 s"):
            pool.inspect(HANG_MSG, ENV)
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


def test_inline_runner_reports_a_timeout_as_a_timeout(tmp_path: Path) -> None:
    runner = InlineRunner(hang_setup(tmp_path, 3), timeout=0.5)
    try:
        with pytest.raises(InspectionTimedOut, match="exceeded 0.5 s") as raised:
            runner.inspect(HANG_MSG, ENV)
        assert raised.value.seconds == 0.5
        with pytest.raises(InspectionFailed, match="spool unreadable") as unreadable:
            runner.inspect(str(tmp_path / "no-such-spool-file"), ENV)
        assert not isinstance(unreadable.value, InspectionTimedOut)   # on_error, not on_timeout
    finally:
        runner.close()


class Failing:
    """A runner whose every inspection fails with `exc` (the daemon's side is under test)."""

    def __init__(self, exc: InspectionFailed) -> None:
        self.exc = exc

    def inspect(self, payload: Payload, envelope: Envelope) -> Decision:
        raise self.exc

    def reload(self):  # pragma: no cover - not called
        raise NotImplementedError

    def close(self) -> None:
        pass


PLANTED = "Patient Philippa Quennell, SSN 219-09-9989, on metformin"


def daemon_with(tmp_path: Path, exc: InspectionFailed, extra: str = "") -> Daemon:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"rules: {{local: [], override: []}}\naudit: {{path: '{tmp_path}/audit.jsonl'}}\n{extra}")
    return Daemon.create(Failing(exc), load_config(cfg))


def test_a_timed_out_inspection_is_held_with_a_budget_finding_audited_and_logged(tmp_path: Path, caplog) -> None:
    daemon = daemon_with(tmp_path, InspectionTimedOut(60))
    with caplog.at_level(logging.DEBUG, logger="outguard"):
        decision = daemon.decide(lambda: f"Subject: s\n\n{PLANTED}\n".encode(), ENV, "<m@x>")
    assert decision.verdict == "quarantine" and decision.deciding_rule == "on_timeout" and decision.reply is None
    [finding] = decision.findings
    assert (finding.id, finding.plugin) == ("scan.budget_exceeded", "core")
    assert finding.detail == "inspection exceeded 60 s (daemon.inspect_timeout_seconds)"
    assert decision.quarantine_reason == "not fully inspected in time (scan.budget_exceeded); review and release"
    [record] = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert record["verdict"] == "quarantine" and record["deciding_rule"] == "on_timeout"
    assert record["findings"] == [{"id": "scan.budget_exceeded", "count": 1, "confidence": 1.0}]
    assert "4XyZ: inspection exceeded 60 s; applying on_timeout=quarantine" in caplog.text
    assert daemon.metrics is not None
    assert daemon.metrics.registry.get_sample_value("outguard_inspection_timeouts_total") == 1
    assert daemon.metrics.registry.get_sample_value("outguard_inspection_failures_total") == 0
    for value in ("Quennell", "219-09-9989", "metformin"):
        assert value not in caplog.text and value not in (tmp_path / "audit.jsonl").read_text()


@pytest.mark.parametrize("reason", ["no worker free within 60 s", "worker died during inspection",
                                    "spool unreadable: No such file or directory", "shutting down"])
def test_failures_other_than_a_timeout_still_get_on_error(tmp_path: Path, reason: str) -> None:
    decision = daemon_with(tmp_path, InspectionFailed(reason)).decide(lambda: b"Subject: s\n\nhi\n", ENV, None)
    assert decision.verdict == "tempfail" and decision.deciding_rule == "on_error"
    assert decision.reply is not None and (decision.reply.code, decision.reply.status) == ("451", "4.3.0")
    assert [f.id for f in decision.findings] == ["error.internal"]


@pytest.mark.parametrize(("on_timeout", "verdict", "reply"), [
    ("tempfail", "tempfail", ("451", "4.3.0")),
    ("reject", "reject", ("550", "5.3.4")),
    ("accept", "deliver", None),
])
def test_on_timeout_is_the_sites_choice(tmp_path: Path, on_timeout: str, verdict: str, reply: tuple | None) -> None:
    daemon = daemon_with(tmp_path, InspectionTimedOut(60), f"daemon: {{on_timeout: {on_timeout}}}\n")
    decision = daemon.decide(lambda: b"Subject: s\n\nhi\n", ENV, None)
    assert decision.verdict == verdict and decision.deciding_rule == "on_timeout"
    assert (decision.reply.code, decision.reply.status) == reply if reply else decision.reply is None
    assert [f.id for f in decision.findings] == ["scan.budget_exceeded"]


def test_an_unknown_on_timeout_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("daemon: {on_timeout: discard}\n")
    with pytest.raises(Exception, match="on_timeout"):
        load_config(cfg)


def test_a_hung_inspection_through_the_daemon_is_held_not_tempfailed(tmp_path: Path) -> None:
    """The real path: the inline runner times out, the daemon turns that into quarantine."""
    runner = InlineRunner(hang_setup(tmp_path, 3), timeout=0.5)
    try:
        daemon = Daemon.create(runner, load_config(runner.setup.config_path))
        decision = daemon.decide(lambda: HANG_MSG, ENV, None)
        assert decision.verdict == "quarantine" and [f.id for f in decision.findings] == ["scan.budget_exceeded"]
        assert json.loads((tmp_path / "audit.jsonl").read_text())["deciding_rule"] == "on_timeout"
    finally:
        runner.close()
