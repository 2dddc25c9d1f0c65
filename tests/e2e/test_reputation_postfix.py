"""Reputation end to end: the daemon counts what Postfix hands it, `outguard ingest` brings
hard bounces for 12 % of them, the next bulk message of that list gets 451 with the pause
text, a transactional one goes through, `outguard reputation resume` lets bulk through again."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from test_daemon_postfix import SENDER, message

from conftest import E2E_RULES, OutguardDaemon, outguard_script
from helpers import dsn
from outguard.sandbox.postfix import PostfixInstance

pytestmark = pytest.mark.postfix

LIST = ("List-Id: Clinic news <news.clinic.example>\r\nList-Unsubscribe: <https://clinic.example/u/1>\r\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nPrecedence: bulk\r\n")
BODY = "This month's clinic news. Unsubscribe: https://clinic.example/u/1\r\nClinic, PO Box 1520, Elmhurst IL 60126"


def status(config: Path) -> dict[str, dict[str, object]]:
    out = subprocess.run([outguard_script(), "reputation", "--config", str(config), "status", "--json"],
                         capture_output=True, text=True, check=True).stdout
    return {r["stream"]: r for r in json.loads(out)}


def test_bounces_pause_bulk_through_postfix_and_resume_lifts_it(shared_dir: Path) -> None:
    base = shared_dir / "reputation"
    (base / "og").mkdir(parents=True)
    for d in (base, base / "og"):
        d.chmod(0o755)
    store = base / "store.sqlite3"
    extra = (f"store: {{url: 'sqlite:///{store}'}}\n"
             "reputation: {minimum_volume: 20, cache_seconds: 0, flush_seconds: 0.2}\n")
    daemon = OutguardDaemon(base / "og", E2E_RULES, workers=1, extra_config=extra)
    subprocess.run([outguard_script(), "suppress", "--config", str(daemon.config_path), "add", "seed@example.org"],
                   check=True, capture_output=True)  # creates the store
    readers = [f"reader{i}@partner.example" for i in range(25)]
    daemon.start()
    try:
        with PostfixInstance(base / "pf", milter=daemon.spec) as pf:
            raw, _ = message("Clinic news", BODY, LIST)
            code, text = pf.send(raw, SENDER, readers)
            assert code == 250, text
            deadline = time.monotonic() + 20
            while status(daemon.config_path).get("list:news.clinic.example", {}).get("windows", [{}])[0].get(
                    "accepted") != 25:
                assert time.monotonic() < deadline, daemon.log_text()[-2000:]
                time.sleep(0.3)
            for n, rcpt in enumerate(readers[:3]):   # 12 %
                (base / f"b{n}.eml").write_bytes(dsn("5.1.1", "550 5.1.1 user unknown", rcpt=rcpt))
            subprocess.run([outguard_script(), "ingest", "--config", str(daemon.config_path),
                            *[str(base / f"b{n}.eml") for n in range(3)]], check=True, capture_output=True)

            raw, _ = message("Clinic news again", BODY, LIST)
            code, text = pf.send(raw, SENDER, ["late@partner.example"])
            assert code == 451 and "paused" in text and "outguard reputation resume" in text, (code, text)
            raw, marker = message("Your appointment is confirmed", "See you on Monday at 9.")
            code, text = pf.send(raw, SENDER, ["ann@partner.example"])
            assert code == 250, text
            pf.sink.wait_for_match(marker.encode())

            subprocess.run([outguard_script(), "reputation", "--config", str(daemon.config_path), "resume",
                            "news.clinic.example"], check=True, capture_output=True)
            raw, marker = message("Clinic news, resumed", BODY, LIST)
            code, text = pf.send(raw, SENDER, ["after@partner.example"])
            assert code == 250, text
            pf.sink.wait_for_match(marker.encode())
    finally:
        daemon.stop()
    records = [json.loads(line) for line in daemon.audit_path.read_text().splitlines()]
    assert [r["stream"] for r in records if r.get("source") == "reputation"] == ["list:news.clinic.example"]
