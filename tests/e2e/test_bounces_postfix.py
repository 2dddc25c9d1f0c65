"""Real DSNs from a real Postfix into the suppression store: a recipient the remote server
refuses with 550 5.1.1 becomes a hard suppression, one it tempfails (452 4.2.2) a soft
count, both through the bounce message Postfix sends back and through its delivery log."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import outguard_script
from outguard.sandbox.postfix import PostfixInstance
from outguard.sandbox.sink import SmtpSink
from outguard.store import SuppressionStore, resolve

pytestmark = pytest.mark.postfix

MESSAGE = (b"From: News <news@sender.example>\r\nTo: {rcpt}\r\nSubject: November news\r\n"
           b"Message-ID: <{mid}@sender.example>\r\n\r\nHello.\r\n")


@pytest.fixture(scope="module")
def bouncing_postfix(shared_dir: Path) -> Iterator[PostfixInstance]:
    base = shared_dir / "bounces"
    hard = SmtpSink(base / "hard-sink", name="hard", extra_args=["-f", "RCPT", "-B",
                                                                  "550 5.1.1 Recipient address rejected: User unknown"])
    soft = SmtpSink(base / "soft-sink", name="soft", extra_args=["-r", "RCPT", "-b", "452 4.2.2 Mailbox full"])
    hard.start()
    soft.start()
    try:
        # gone.example refuses, busy.example tempfails; everything else (the DSNs Postfix
        # sends back to the envelope sender at sender.example) reaches the instance's sink.
        transport = (f"inline:{{ gone.example=smtp:{hard.nexthop}, busy.example=smtp:{soft.nexthop} }}")
        with PostfixInstance(base / "postfix", main_cf={"transport_maps": transport,
                                                        "delay_warning_time": "2s"}) as pf:
            yield pf
    finally:
        hard.stop()
        soft.stop()


def _ingest(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([outguard_script(), "ingest", "--config", "/dev/null", *args], input=stdin,
                          capture_output=True, timeout=120)


def _history(store_path: Path, address: str) -> list[tuple[str, str | None, str]]:
    store = SuppressionStore(resolve(str(store_path)))
    try:
        return [(e.kind, e.status, e.source) for e in store.history(address)]
    finally:
        store.close()


def _state(store_path: Path, address: str):
    store = SuppressionStore(resolve(str(store_path)))
    try:
        recs = store.get(address)
        return recs[0] if recs else None
    finally:
        store.close()


def test_bounce_messages_and_log_feed_the_store(bouncing_postfix: PostfixInstance, tmp_path: Path) -> None:
    pf = bouncing_postfix
    for rcpt, mid in (("gone@gone.example", "m-hard"), ("busy@busy.example", "m-soft")):
        code, text = pf.send(MESSAGE.replace(b"{rcpt}", rcpt.encode()).replace(b"{mid}", mid.encode()),
                             "bounces@sender.example", [rcpt])
        assert code == 250, text
    pf.wait_for_log(r"to=<gone@gone\.example>.*status=bounced", timeout=60)
    pf.wait_for_log(r"to=<busy@busy\.example>.*status=deferred", timeout=60)
    hard_dsn = pf.sink.wait_for_match(b"gone@gone.example", timeout=60)[0]
    soft_dsn = pf.sink.wait_for_match(b"busy@busy.example", timeout=90)[0]
    assert b"report-type=delivery-status" in hard_dsn.raw and b"Action: delayed" in soft_dsn.raw

    # 1. the bounce messages, as a pipe transport would hand them over
    store = tmp_path / "from-dsn.sqlite3"
    for dsn in (hard_dsn, soft_dsn):
        proc = _ingest("--store", str(store), stdin=dsn.raw)
        assert proc.returncode == 0, proc.stderr
    gone, busy = _state(store, "gone@gone.example"), _state(store, "busy@busy.example")
    assert gone is not None and gone.active and gone.reason == "hard_bounce" and gone.status == "5.1.1"
    assert busy is not None and not busy.active and len(busy.soft_days) == 1  # counted, not suppressed
    assert _history(store, "busy@busy.example") == [("bounce", "4.2.2", "dsn")]
    again = _ingest("--store", str(store), stdin=hard_dsn.raw)  # the same bounce twice: nothing changes
    assert again.returncode == 0 and _state(store, "gone@gone.example").count == gone.count

    # 2. the delivery log, read by the follower from the start of Postfix's maillog
    store2 = tmp_path / "from-log.sqlite3"
    state = tmp_path / "log-position.json"
    proc = _ingest("--store", str(store2), "--postfix-log", str(pf.log_path), "--state", str(state),
                   "--from-start")
    assert proc.returncode == 0, proc.stderr
    gone, busy = _state(store2, "gone@gone.example"), _state(store2, "busy@busy.example")
    assert gone is not None and gone.reason == "hard_bounce" and gone.source == "postfix-log"
    assert busy is not None and not busy.active and busy.soft_days
    assert {h for h in _history(store2, "busy@busy.example")} == {("bounce", "4.2.2", "postfix-log")}
    assert state.exists()


def test_log_follower_runs_alongside_postfix(bouncing_postfix: PostfixInstance, tmp_path: Path) -> None:
    """`--follow`: new lines are picked up as Postfix writes them."""
    pf = bouncing_postfix
    store = tmp_path / "follow.sqlite3"
    follower = subprocess.Popen([outguard_script(), "ingest", "--config", "/dev/null", "--store", str(store),
                                 "--postfix-log", str(pf.log_path), "--follow", "--state",
                                 str(tmp_path / "pos.json")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # The follower starts at the end of the file, like tail -F, and saves its position once it
        # has read what is there: only then is a new line sure to be new to it (a fixed sleep was
        # too short on a loaded machine).
        started = time.monotonic() + 60
        while not (tmp_path / "pos.json").exists():
            assert follower.poll() is None, follower.stderr.read() if follower.stderr else ""
            assert time.monotonic() < started, "the follower never saved its position"
            time.sleep(0.1)
        code, text = pf.send(MESSAGE.replace(b"{rcpt}", b"late@gone.example").replace(b"{mid}", b"m-late"),
                             "bounces@sender.example", ["late@gone.example"])
        assert code == 250, text
        pf.wait_for_log(r"to=<late@gone\.example>.*status=bounced", timeout=60)
        deadline = time.monotonic() + 30
        rec = None
        while time.monotonic() < deadline:
            if store.exists():
                rec = _state(store, "late@gone.example")
                if rec is not None:
                    break
            time.sleep(0.5)
        assert rec is not None and rec.reason == "hard_bounce"
        assert _state(store, "gone@gone.example") is None  # older lines were not re-read
    finally:
        follower.terminate()
        follower.wait(timeout=30)
    assert follower.returncode == 0, follower.stderr.read() if follower.stderr else ""
