"""outguard run inside a real Postfix: every verdict becomes the right Postfix behaviour."""

from __future__ import annotations

import itertools
import re
import signal
import subprocess
import time

import pytest

from conftest import OutguardDaemon, outguard_script
from outguard.sandbox.postfix import PostfixInstance

pytestmark = pytest.mark.postfix
SENDER = "alice@clinic.example"
_n = itertools.count()


def message(subject: str, body: str = "hello", headers: str = "") -> tuple[bytes, str]:
    marker = f"e2e-{time.time_ns()}-{next(_n)}"
    raw = (f"From: Alice <{SENDER}>\r\nTo: bob@partner.example\r\nSubject: {subject}\r\n"
           f"Message-ID: <{marker}@clinic.example>\r\n{headers}\r\n{body}\r\n{marker}\r\n")
    return raw.encode(), marker


def header(msg_headers: bytes, name: str) -> list[str]:
    return re.findall(rf"(?mi)^{re.escape(name)}:[ \t]*(.*)$", msg_headers.decode(errors="replace"))


def test_tag_and_subject_prefix_arrive_with_verdict_header(postfix: PostfixInstance, daemon: OutguardDaemon) -> None:
    raw, marker = message("Our newsletter", headers="X-Outguard-Route: tls-required\r\n")
    code, text = postfix.send(raw, SENDER, ["bob@partner.example"])
    assert code == 250, text
    [got] = postfix.sink.wait_for_match(marker.encode())
    assert header(got.headers, "X-Outguard-Test") == ["tagged by tag-newsletter"]
    assert header(got.headers, "X-Outguard-Verdict") == ["deliver; rules=tag-newsletter"]
    assert header(got.headers, "Subject") == ["[news] Our newsletter"]
    assert header(got.headers, "X-Outguard-Route") == [], "a sender's own route header is stripped"
    assert not postfix.tls_sink.find(marker.encode())
    queue_id = text.rsplit(" ", 1)[-1]
    daemon.wait_for_log(f"{queue_id}: verdict=deliver rules=tag-newsletter")


def test_encrypt_goes_to_the_encryption_relay_only(postfix: PostfixInstance, daemon: OutguardDaemon) -> None:
    raw, marker = message("Referral", body="Patient chart MRN-482193 attached, SSN 219-09-9989")
    code, text = postfix.send(raw, SENDER, ["bob@partner.example"])
    assert code == 250, text
    [got] = postfix.tls_sink.wait_for_match(marker.encode())
    assert header(got.headers, "X-Outguard-Route") == ["tls-required"]
    assert header(got.headers, "X-Outguard-Verdict") == ["encrypt; rules=phi-medical-record-number,mrn-encrypt"]
    time.sleep(0.5)
    assert not postfix.sink.find(marker.encode())
    log = daemon.log_text()
    assert "MRN-482193" not in log and "482193" not in log and "219-09-9989" not in log


def test_reject_returns_the_rules_text(postfix: PostfixInstance) -> None:
    raw, marker = message("top secret plans")
    code, text = postfix.send(raw, SENDER, ["bob@partner.example"])
    assert code == 550 and "5.7.1" in text
    assert "Refused: classified content may not leave (policy refuse-secret)" in text
    time.sleep(0.3)
    assert not postfix.sink.find(marker.encode())


def test_dropped_recipient_gets_nothing_while_others_do(postfix: PostfixInstance) -> None:
    raw, marker = message("hello both")
    code, text = postfix.send(raw, SENDER, ["bob@partner.example", "spy@rival.example"])
    assert code == 250, text
    [got] = postfix.sink.wait_for_match(marker.encode())
    assert got.rcpt_to == ("bob@partner.example",)
    code, text = postfix.send(message("only rival")[0], SENDER, ["spy@rival.example"])
    assert code == 550, text


def test_notify_adds_the_compliance_copy_and_discard_drops_silently(postfix: PostfixInstance) -> None:
    raw, marker = message("please audit me")
    assert postfix.send(raw, SENDER, ["bob@partner.example"])[0] == 250
    [got] = postfix.sink.wait_for_match(marker.encode())
    assert sorted(got.rcpt_to) == ["bob@partner.example", "compliance@clinic.example"]
    raw, marker = message("discard me now")
    code, _ = postfix.send(raw, SENDER, ["bob@partner.example"])
    assert code == 250, "discard accepts the message and drops it"
    time.sleep(1)
    assert not postfix.sink.find(marker.encode()) and not postfix.tls_sink.find(marker.encode())


def test_quarantine_holds_and_release_delivers(postfix: PostfixInstance) -> None:
    raw, marker = message("export of november")
    code, text = postfix.send(raw, SENDER, ["bob@partner.example"])
    assert code == 250, text
    queue_id = text.rsplit(" ", 1)[-1]
    postfix.wait_for_queue(lambda q: any(e["queue_id"] == queue_id and e["queue_name"] == "hold" for e in q))
    cmd = [outguard_script(), "quarantine", "--postfix-config", str(postfix.config_dir)]
    listing = subprocess.run([*cmd, "list"], capture_output=True, text=True, check=True).stdout
    assert queue_id in listing and "quarantine; rules=hold-export" in listing and "export held for review" in listing
    shown = subprocess.run([*cmd, "show", queue_id], capture_output=True, text=True, check=True).stdout
    assert "X-Outguard-Quarantine: export held for review" in shown
    assert "hello" not in shown, "show prints headers only: a held body may carry PHI"
    assert not postfix.sink.find(marker.encode())
    subprocess.run([*cmd, "release", queue_id], check=True)
    [got] = postfix.sink.wait_for_match(marker.encode(), timeout=30)
    assert header(got.headers, "X-Outguard-Verdict") == ["quarantine; rules=hold-export"]

    raw, marker = message("export to delete")
    code, text = postfix.send(raw, SENDER, ["bob@partner.example"])
    queue_id = text.rsplit(" ", 1)[-1]
    postfix.wait_for_queue(lambda q: any(e["queue_id"] == queue_id for e in q))
    subprocess.run([*cmd, "delete", queue_id], check=True)
    postfix.wait_for_queue(lambda q: all(e["queue_id"] != queue_id for e in q))
    as_json = subprocess.run([*cmd, "list", "--json"], capture_output=True, text=True, check=True).stdout
    assert queue_id not in as_json


def test_locally_submitted_mail_is_inspected(postfix: PostfixInstance) -> None:
    raw, marker = message("local newsletter")
    assert postfix.sendmail(raw, SENDER, ["bob@partner.example"]) == 0
    [got] = postfix.sink.wait_for_match(marker.encode(), timeout=30)
    assert header(got.headers, "X-Outguard-Test") == ["tagged by tag-newsletter"]


def test_reload_keeps_old_rules_on_error_and_applies_fixed_ones(postfix: PostfixInstance, daemon: OutguardDaemon) -> None:
    original = daemon.rules_path.read_text()
    try:
        mark = len(daemon.log_text())
        daemon.rules_path.write_text(original + "  - id: broken\n    description: x\n    status: stable\n")
        daemon.send_signal(signal.SIGUSR1)
        daemon.wait_for_log("reload failed, keeping the rules in force", after=mark)
        raw, marker = message("Our newsletter again")
        assert postfix.send(raw, SENDER, ["bob@partner.example"])[0] == 250
        [got] = postfix.sink.wait_for_match(marker.encode())
        assert header(got.headers, "X-Outguard-Test") == ["tagged by tag-newsletter"]

        mark = len(daemon.log_text())
        daemon.rules_path.write_text(original.replace('"tagged by {rule_id}"', '"retagged"'))
        daemon.send_signal(signal.SIGUSR1)
        daemon.wait_for_log("reloaded configuration and rules", after=mark)
        raw, marker = message("Our newsletter, reloaded")
        assert postfix.send(raw, SENDER, ["bob@partner.example"])[0] == 250
        [got] = postfix.sink.wait_for_match(marker.encode())
        assert header(got.headers, "X-Outguard-Test") == ["retagged"]
    finally:
        daemon.rules_path.write_text(original)
        daemon.send_signal(signal.SIGUSR1)
        time.sleep(1)
