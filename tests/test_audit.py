"""The audit trail: hash-chained, rotated without loss, and tampering is named by line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from outguard.cli.main import main
from outguard.core.config import load_config
from outguard.core.decision import Decision
from outguard.core.message import Envelope
from outguard.daemon.milter import Daemon
from outguard.daemon.runner import InlineRunner, Setup
from outguard.ops.audit import AuditLog, verify


def write(log: AuditLog, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        log.write({"queue_id": f"Q{i}", "verdict": "deliver", "rules": [], "findings": []})


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    write(AuditLog(path), 6)
    return path


def test_untouched_log_verifies(trail: Path, capsys) -> None:
    assert verify([trail])[2] is None
    assert main(["audit", "verify", str(trail)]) == 0
    assert "ok: 6 records" in capsys.readouterr().out


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


@pytest.mark.parametrize("tamper, bad_line", [
    (lambda ls: ls[:3] + [ls[3].replace(b'"deliver"', b'"reject"')] + ls[4:], 4),   # line 4 edited
    (lambda ls: ls[:2] + ls[3:], 3),                                                  # line 3 deleted
    (lambda ls: ls[:2] + [ls[3], ls[2]] + ls[4:], 3),                                 # lines 3 and 4 swapped
    (lambda ls: ls[1:], 1),                                                           # first line deleted
    (lambda ls: ls[:5] + [ls[5][:-10] + b"\n"], 6),                                   # last line cut short
])
def test_tampering_is_named_by_file_and_line(trail: Path, tamper, bad_line: int, capsys) -> None:
    trail.write_bytes(b"".join(tamper(lines(trail))))
    broken = verify([trail])[2]
    assert broken is not None and broken.line == bad_line, broken
    assert main(["audit", "verify", str(trail)]) == 1
    assert f"{trail}:{bad_line}:" in capsys.readouterr().out


def test_rotation_keeps_every_line_and_the_chain_spans_files(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(AuditLog(path, fsync="never", rotate_bytes=400, keep=50), 20)
    write(AuditLog(path, fsync="never", rotate_bytes=400, keep=50), 5, start=20)  # a restart resumes the chain
    files = sorted(tmp_path.glob("audit.jsonl.*"), key=lambda p: -int(p.suffix[1:])) + [path]
    assert len(files) > 3
    count, _, broken = verify(files)
    assert broken is None and count == 25
    ids = [json.loads(line)["queue_id"] for f in files for line in f.read_bytes().splitlines()]
    assert ids == [f"Q{i}" for i in range(25)]
    assert verify(files[1:])[2] is not None and verify(files[1:], partial=True)[2] is None


def test_rotation_by_age(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, fsync="never", rotate_bytes=0, rotate_seconds=3600)
    write(log, 2)
    log._file_started -= 7200  # the current file began two hours ago
    write(log, 1, start=2)
    write(log, 1, start=3)
    rotated = tmp_path / "audit.jsonl.1"
    assert len(rotated.read_text().splitlines()) == 3 and len(path.read_text().splitlines()) == 1
    assert verify([rotated, path])[2] is None


def test_check_appends_the_same_records_and_search_filters(tmp_path: Path, capsys) -> None:
    project = Path(__file__).resolve().parent.parent / "examples"
    log = tmp_path / "check.jsonl"
    assert main(["check", "--config", "/dev/null", "--audit-log", str(log), "--rules", str(project / "rules"),
                 str(project / "messages")]) == 0
    capsys.readouterr()
    assert verify([log])[2] is None
    assert main(["audit", "search", "--rule", "riverside-mrn-bulk-quarantine", str(log)]) == 0
    [hit] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert hit["verdict"] == "quarantine" and hit["findings"] == [{"id": "phi.mrn.riverside", "count": 12,
                                                                   "confidence": 0.95}]
    assert "RV-" not in log.read_text()


def test_unwritable_audit_trail_gets_the_failure_action(tmp_path: Path) -> None:
    """A full disk (/dev/full answers every write with ENOSPC): no decision without its record."""
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text("rules: {local: [], override: []}\naudit: {path: /dev/full}\n")
    config = load_config(cfg_path)
    runner = InlineRunner(Setup(cfg_path), timeout=10)
    try:
        daemon = Daemon.create(runner, config)
        envelope = Envelope("a@example.org", ("b@example.net",), queue_id="Q1")
        decision: Decision = daemon.decide(lambda: b"Subject: hi\n\nhello\n", envelope, "<m@x>")
        assert decision.verdict == "tempfail" and decision.reply is not None and decision.reply.code == "451"
    finally:
        runner.close()


def test_a_message_that_cannot_be_spooled_gets_the_failure_action(tmp_path: Path) -> None:
    """A spool that cannot be written (here: its folder is gone; in life: a full disk)."""
    from outguard.daemon.milter import Spool

    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(f"rules: {{local: [], override: []}}\naudit: {{path: '{tmp_path}/a.jsonl'}}\n")
    runner = InlineRunner(Setup(cfg_path), timeout=10)
    try:
        daemon = Daemon.create(runner, load_config(cfg_path))
        spool = Spool(limit=10, directory=str(tmp_path / "no-such-folder"))
        spool.write(b"Subject: big\r\n\r\n" + b"x" * 100)   # past the limit: the file cannot be made
        assert spool.error is not None
        decision = daemon.decide(spool.payload, Envelope("a@example.org", ("b@example.net",), queue_id="Q2"), None)
        assert decision.verdict == "tempfail"
        assert json.loads((tmp_path / "a.jsonl").read_text())["verdict"] == "tempfail"
    finally:
        runner.close()
