"""`outguard ingest`: the corpus of real bounces, stdin as a Postfix pipe transport (exit
codes), mboxes and Maildirs, --postfix-log, idempotent re-ingestion."""

from __future__ import annotations

import json
import mailbox
import subprocess
from pathlib import Path

import pytest

from helpers import outguard_command
from outguard.cli.main import main
from outguard.store import SuppressionStore, resolve

DATA = Path(__file__).parent / "data" / "intake"
EXPECTED = json.loads((DATA / "bounces_flufl_expected.json").read_text())["messages"]
LOG_LINES = [
    "Nov 27 10:00:00 mx postfix/smtp[1]: 4A1: to=<gone@partner.example>, relay=mx.partner.example[192.0.2.9]:25, "
    "delay=0.2, delays=0/0/0/0.2, dsn=5.1.1, status=bounced (host mx.partner.example[192.0.2.9] said: 550 5.1.1 "
    "User unknown (in reply to RCPT TO command))",
    "Nov 27 10:00:01 mx postfix/qmgr[2]: 4A1: removed",
    "Nov 27 10:00:02 mx postfix/smtp[1]: 4A2: to=<busy@partner.example>, relay=mx.partner.example[192.0.2.9]:25, "
    "delay=1, delays=0/0/0/1, dsn=4.2.2, status=deferred (host mx.partner.example[192.0.2.9] said: 452 4.2.2 "
    "Mailbox full (in reply to RCPT TO command))",
]


@pytest.fixture
def og(tmp_path: Path, capsys):
    def run(*args: str) -> tuple[int, str, str]:
        code = main(["ingest", "--config", "/dev/null", "--store", str(tmp_path / "s.sqlite3"), *args])
        out, err = capsys.readouterr()
        return code, out, err
    return run


def records(tmp_path: Path) -> dict[str, str | None]:
    store = SuppressionStore(resolve(str(tmp_path / "s.sqlite3")))
    try:
        return {r.address: r.reason for r in store.records()}
    finally:
        store.close()


def test_corpus_recipients_and_class(og, corpora: Path, tmp_path: Path) -> None:
    """Every bounce of the corpus through `ingest --dry-run --json`: the recipients and the
    hard/soft/policy class (expected values written by reading each message)."""
    folder = corpora / "bounces-flufl"
    code, out, _ = og("--dry-run", "--json", str(folder))
    assert code == 0
    got = {}
    for line in out.splitlines():
        obj = json.loads(line)
        assert set(obj) >= {"file", "kind", "events"} and obj["kind"] in ("dsn", "arf", "autoreply", "other")
        for e in obj["events"]:
            assert set(e) >= {"recipient", "type", "status", "code", "reason", "remote_mta"}
        got[Path(obj["file"]).name] = {e["recipient"].lower(): e["type"] for e in obj["events"]}
    assert set(got) == set(EXPECTED) == {p.name for p in folder.iterdir()}
    misses = {name for name, want in EXPECTED.items() if got[name] != want["events"]}
    # the two that name only a bare local part are deliberately not guessed (see the file's notes)
    assert misses == {"bounce_01.txt", "yale_01.txt"}
    assert not (tmp_path / "s.sqlite3").exists()


def test_dry_run_json_changes_nothing(og, tmp_path: Path) -> None:
    code, out, _ = og("--dry-run", "--json", str(DATA / "dsn_multi.eml"), str(DATA / "vacation.eml"))
    rows = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and [r["kind"] for r in rows] == ["dsn", "autoreply"]
    assert rows[0]["events"][0] == {"recipient": "Gone@Partner.Example", "type": "hard", "status": "5.1.1",
                                    "code": "550", "reason": "user unknown", "remote_mta": "mx.partner.example",
                                    "feedback_type": None}
    assert not (tmp_path / "s.sqlite3").exists()


def test_mbox_maildir_and_idempotent(og, tmp_path: Path) -> None:
    box = mailbox.mbox(tmp_path / "bounces.mbox")
    for name in ("dsn_multi.eml", "arf_abuse.eml"):
        box.add((DATA / name).read_bytes())
    box.close()
    md = mailbox.Maildir(tmp_path / "Maildir")
    md.add((DATA / "qmail.eml").read_bytes())
    md.close()
    code, _, err = og(str(tmp_path / "bounces.mbox"), str(tmp_path / "Maildir"))
    assert code == 0 and "3 messages" in err and "4 newly suppressed" in err, err
    assert records(tmp_path) == {"gone@partner.example": "hard_bounce", "vague@partner.example": "hard_bounce",
                                 "angry@isp.example": "complaint", "nobody@partner.example": "hard_bounce"}
    code, _, err = og(str(tmp_path / "bounces.mbox"), str(tmp_path / "Maildir"))
    assert code == 0 and "newly suppressed" not in err and "duplicates" in err


def test_stdin_pipe_exit_codes(tmp_path: Path) -> None:
    """As a Postfix pipe transport: 0 when handled (a malformed report too), 75 when the
    store is down, so Postfix keeps the message queued."""
    cmd = [*outguard_command(), "ingest", "--config", "/dev/null"]
    raw = (DATA / "dsn_multi.eml").read_bytes()
    ok = subprocess.run([*cmd, "--store", str(tmp_path / "s.sqlite3")], input=raw, capture_output=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert records(tmp_path)["gone@partner.example"] == "hard_bounce"
    bad = subprocess.run([*cmd, "--store", str(tmp_path / "s.sqlite3")], input=b"\x00garbage\xff",
                         capture_output=True, timeout=60)
    assert bad.returncode == 0
    down = subprocess.run([*cmd, "--store", "postgresql://nobody@127.0.0.1:1/none"], input=raw,
                          capture_output=True, timeout=60)
    assert down.returncode == 75, down.stderr
    assert b"gone@" not in down.stderr  # no address in the failure message


def test_postfix_log_file(og, tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text("\n".join(LOG_LINES) + "\n")
    state = tmp_path / "pos.json"
    code, out, _ = og("--postfix-log", str(log), "--state", str(state), "--json")
    rows = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and [(r["queue_id"], r["events"][0]["type"]) for r in rows] == [("4A1", "hard"), ("4A2", "soft")]
    assert records(tmp_path) == {"gone@partner.example": "hard_bounce"}
    code, out, _ = og("--postfix-log", str(log), "--state", str(state), "--json")
    assert out == ""  # resumed after the last line: nothing new
    code, out, _ = og("--postfix-log", str(log), "--json")  # no state: the whole file again, idempotent
    assert all(r["store"] == {"duplicates": 1} for r in map(json.loads, out.splitlines()))
