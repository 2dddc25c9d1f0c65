"""Big messages through a real Postfix on the shipped rules (issue 12): a 10 MB census of
patients and a 5 MB Subject each end encrypted or held with their findings, never deferred,
decided well within the inspection budget.

Postfix's own limits, as a site meets them: `message_size_limit` (default 10240000) counts
the message as sent, so a 10 MB CSV attachment (13.7 MB in base64) is refused at DATA with
552 unless the site raises it; here it is raised to 40 MB. A 5 MB Subject is cut by Postfix
before any milter sees it: Postfix 3.7 keeps about the first 60 KB of the header and
discards the rest without a log line (seen with header_size_limit at its default and at
10 MB alike), so outguard inspects, and the recipient gets, the cut Subject; the test
asserts exactly that. The whole 5 MB Subject is decided by `outguard check`
(tests/test_overrun.py)."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import bigmail
import pytest

from conftest import OutguardDaemon, outguard_script
from outguard.sandbox.postfix import PostfixInstance

pytestmark = pytest.mark.postfix
SENDER = "nurse@clinic.example"
INSPECT_TIMEOUT = 30.0


@pytest.fixture(scope="module")
def big(shared_dir: Path) -> Iterator[tuple[OutguardDaemon, PostfixInstance]]:
    """outguard on its shipped rules only (no test rules), one worker, behind a Postfix that
    takes messages up to 40 MB."""
    base = shared_dir / "big"
    (base / "og").mkdir(parents=True)
    for d in (base, base / "og"):
        d.chmod(0o755)
    daemon = OutguardDaemon(base / "og", "rules: []\n", workers=1, inspect_timeout=INSPECT_TIMEOUT)
    daemon.start()
    with PostfixInstance(base / "pf", milter=daemon.spec, main_cf={"message_size_limit": "40000000"}) as pf:
        yield daemon, pf
    daemon.stop()


def decided(daemon: OutguardDaemon, queue_id: str) -> tuple[str, float]:
    """The daemon's verdict line for `queue_id`: (the line, seconds from end of message to decision)."""
    daemon.wait_for_log(f"{queue_id}: verdict=", timeout=INSPECT_TIMEOUT + 30)
    line = next(ln for ln in daemon.log_text().splitlines() if f"{queue_id}: verdict=" in ln)
    return line, float(re.search(r" ms=([\d.]+)", line).group(1)) / 1000   # type: ignore[union-attr]


def never_deferred(pf: PostfixInstance, queue_id: str, seconds: float = 5.0) -> None:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        assert all(e["queue_name"] != "deferred" for e in pf.queue() if e["queue_id"] == queue_id), pf.queue()
        time.sleep(0.25)


def test_a_ten_megabyte_census_is_held_with_its_findings_never_deferred(big) -> None:
    daemon, pf = big
    raw = bigmail.census_message("big-census")
    assert len(raw) > 13_000_000 and len(bigmail.census_csv()) > 9_900_000
    started = time.monotonic()
    code, text = pf.send(raw, SENDER, ["bob@partner.example"])
    assert code == 250, text
    assert time.monotonic() - started < INSPECT_TIMEOUT
    queue_id = text.rsplit(" ", 1)[-1]
    line, seconds = decided(daemon, queue_id)
    assert seconds < INSPECT_TIMEOUT, line
    # a census is PHI (encrypt) and bulk identifiers (quarantine): held, with the route kept for release
    assert "verdict=quarantine rules=phi-with-health-context,phi-medical-record-number,phi-bulk-identifiers" in line, line
    assert "phi.mrn:" in line and "phi.health_context:" in line and "scan.budget_exceeded" not in line, line
    [held] = [e for e in pf.queue() if e["queue_id"] == queue_id]
    assert held["queue_name"] == "hold"
    cmd = [outguard_script(), "quarantine", "--postfix-config", str(pf.config_dir)]
    listing = subprocess.run([*cmd, "list"], capture_output=True, text=True, check=True).stdout
    assert queue_id in listing and "reason: bulk patient identifiers" in listing, listing
    shown = subprocess.run([*cmd, "show", queue_id], capture_output=True, text=True, check=True).stdout
    assert "X-Outguard-Quarantine: bulk patient identifiers" in shown
    assert "X-Outguard-Route: tls-required" in shown and "X-Outguard-PHI: " in shown
    never_deferred(pf, queue_id)
    for where, written in (("quarantine list", listing), ("quarantine show", shown), ("daemon log", daemon.log_text())):
        for value in bigmail.PLANTED.values():
            assert value not in written, f"{value} in {where}"


def test_a_five_megabyte_subject_is_cut_by_postfix_then_decided_never_deferred(big) -> None:
    daemon, pf = big
    raw = bigmail.big_subject_message("big-subject")
    assert len(raw) > 5_000_000
    code, text = pf.send(raw, SENDER, ["bob@partner.example"])
    assert code == 250, text
    queue_id = text.rsplit(" ", 1)[-1]
    line, seconds = decided(daemon, queue_id)
    assert seconds < INSPECT_TIMEOUT, line
    size = int(re.search(r" size=(\d+)", line).group(1))   # type: ignore[union-attr]
    assert size < 102_400, f"outguard saw {size} bytes: Postfix no longer cuts the header?"
    # the part Postfix kept is still patient rows: encrypted, or held if bulk identifiers
    verdict = re.search(r"verdict=(\w+) rules=(\S+) findings=(\S+)", line)
    assert verdict is not None and verdict.group(1) in ("encrypt", "quarantine"), line
    assert "phi-with-health-context" in verdict.group(2) and "phi.health_context:" in verdict.group(3), line
    if verdict.group(1) == "encrypt":
        [got] = pf.tls_sink.wait_for_match(b"<big-subject@clinic.example>", timeout=60)
        headers = got.headers
    else:
        [held] = [e for e in pf.queue() if e["queue_id"] == queue_id]
        assert held["queue_name"] == "hold"
        headers = subprocess.run([outguard_script(), "quarantine", "--postfix-config", str(pf.config_dir), "show",
                                  queue_id], capture_output=True, check=True).stdout
        assert b"X-Outguard-Quarantine: " in headers
    subject = re.search(rb"(?mi)^Subject:(.*(?:\r?\n[ \t].*)*)", headers)
    assert subject is not None and 1_000 < len(subject.group(1)) < 102_400   # cut, not dropped
    assert not pf.sink.find(b"<big-subject@clinic.example>")
    never_deferred(pf, queue_id)
