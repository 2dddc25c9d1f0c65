"""Failure modes through a real Postfix: a killed daemon loses no mail, a hung inspection is held
in quarantine (daemon.on_timeout), never tempfailed at every retry."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_daemon_postfix import SENDER, message

from conftest import E2E_RULES, OutguardDaemon, outguard_script
from outguard.sandbox.postfix import PostfixInstance

pytestmark = pytest.mark.postfix


@pytest.fixture
def stack(shared_dir: Path, request) -> Iterator[tuple[OutguardDaemon, PostfixInstance]]:
    """A daemon of its own (these tests kill it) with one worker; a test may add a pattern
    (indirect parametrisation), which then also gets a 1 s inspection timeout."""
    base = shared_dir / f"fail-{request.node.name[:40]}"
    (base / "og").mkdir(parents=True)
    for d in (base, base / "og"):
        d.chmod(0o755)
    extra_pattern = getattr(request, "param", "")
    rules = E2E_RULES.replace("patterns:\n", "patterns:\n" + extra_pattern, 1)
    daemon = OutguardDaemon(base / "og", rules, workers=1, inspect_timeout=1 if extra_pattern else 20,
                            extra_config="scan: {pattern_timeout_seconds: 60}\n" if extra_pattern else "")
    daemon.start()
    with PostfixInstance(base / "pf", milter=daemon.spec) as pf:
        yield daemon, pf
    daemon.stop()


def test_killing_the_daemon_mid_load_loses_no_accepted_message(stack) -> None:
    daemon, pf = stack
    accepted: list[str] = []
    refused: list[tuple[int, str]] = []
    lock = threading.Lock()

    stop = threading.Event()

    def sender() -> None:
        while not stop.is_set():
            raw, marker = message("load", body="steady traffic")
            code, text = pf.send(raw, SENDER, ["bob@partner.example"])
            with lock:
                (accepted.append(marker) if code == 250 else refused.append((code, text)))
            time.sleep(0.02)

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    daemon.stop(signal.SIGKILL)          # no goodbye: socket left behind, workers orphaned
    time.sleep(1.5)
    daemon.start()
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join(120)
    assert accepted, "nothing was accepted at all"
    assert refused, "the daemon was down for 1.5 s: some transactions must have been refused"
    assert all(400 <= code < 500 for code, _ in refused), f"while down Postfix must tempfail, got {refused[:3]}"
    records = pf.sink.wait_for_records(len(accepted), timeout=60)
    delivered = {m.decode() for r in records for m in re.findall(rb"(?m)^(e2e-\d+-\d+)\r?$", r.body)}
    assert set(accepted) <= delivered
    assert len(pf.sink.records()) == len(accepted), "every accepted message arrives exactly once"


def test_locally_submitted_mail_waits_for_the_daemon(stack) -> None:
    daemon, pf = stack
    daemon.stop()
    raw, marker = message("local while down newsletter")
    assert pf.sendmail(raw, SENDER, ["bob@partner.example"]) == 0
    time.sleep(2)
    assert not pf.sink.find(marker.encode()), "uninspected mail must not leave"
    daemon.start()
    [got] = pf.sink.wait_for_match(marker.encode(), timeout=90)
    assert b"X-Outguard-Test: tagged by tag-newsletter" in got.headers


HANG = """  - id: org.evil
    regex: '(?:a|aa)+$'
"""


@pytest.mark.parametrize("stack", [HANG], indirect=True)
def test_inspection_timeout_is_held_in_quarantine_and_the_daemon_recovers(stack) -> None:
    """Issue 12: this message overruns at every attempt, so tempfail (the old answer, 451)
    would keep it at the client until it expires. It is accepted into the hold queue."""
    daemon, pf = stack
    raw, marker = message("slow", body="a" * 90 + "!")
    code, text = pf.send(raw, SENDER, ["bob@partner.example"])
    assert code == 250, text
    queue_id = text.rsplit(" ", 1)[-1]
    daemon.wait_for_log(f"{queue_id}: inspection exceeded 1 s; applying on_timeout=quarantine")
    daemon.wait_for_log(f"{queue_id}: verdict=quarantine rules=- findings=scan.budget_exceeded:1")
    [held] = pf.wait_for_queue(lambda q: any(e["queue_id"] == queue_id for e in q))
    assert held["queue_name"] == "hold"
    listing = subprocess.run([outguard_script(), "quarantine", "--postfix-config", str(pf.config_dir), "list"],
                             capture_output=True, text=True, check=True).stdout
    assert queue_id in listing and "not fully inspected in time (scan.budget_exceeded)" in listing
    assert '"deciding_rule":"on_timeout"' in daemon.audit_path.read_text()
    assert not pf.sink.find(marker.encode())
    deadline = time.monotonic() + 60
    while True:
        raw, marker = message("fine now")
        code, text = pf.send(raw, SENDER, ["bob@partner.example"])
        if code == 250 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert code == 250, text
    pf.sink.wait_for_match(marker.encode())
