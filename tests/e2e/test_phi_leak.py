"""PHI leak guard: planted identifiers go through every path and show up nowhere outguard writes."""

from __future__ import annotations

import re
import subprocess

import pytest
from test_daemon_postfix import SENDER, message

from conftest import OutguardDaemon, outguard_script
from outguard.ops.audit import verify
from outguard.sandbox.postfix import PostfixInstance

pytestmark = pytest.mark.postfix

PLANTED = {
    "ssn": "219-09-9989",
    "mbi": "1EG4-TE5-MK73",
    "mrn": "MRN-739201",
    "name": "Philippa Quennell-Abernathy",
    "dob": "03/17/1958",
}
BODY = (f"Patient {PLANTED['name']}, DOB {PLANTED['dob']}, SSN {PLANTED['ssn']}, "
        f"Medicare {PLANTED['mbi']}, chart {PLANTED['mrn']}, HbA1c 9.1, started metformin.")


def test_planted_phi_appears_in_no_log_audit_metric_reply_or_quarantine_listing(
        postfix: PostfixInstance, daemon: OutguardDaemon) -> None:
    outputs: dict[str, str] = {}
    # one message per verdict path: encrypt (the MRN), reject, quarantine, and local submission
    for subject in (f"Results for {PLANTED['name']}", "top secret results", "export of results"):
        raw, _ = message(subject, body=BODY)
        code, text = postfix.send(raw, SENDER, ["bob@partner.example"])
        outputs[f"SMTP reply to {subject[:20]}"] = f"{code} {text}"
    assert outputs["SMTP reply to top secret results"].startswith("550")
    raw, marker = message("local results", body=BODY)
    postfix.sendmail(raw, SENDER, ["bob@partner.example"])
    postfix.tls_sink.wait_for_match(marker.encode(), timeout=30)
    postfix.wait_for_queue(lambda q: any(e["queue_name"] == "hold" for e in q))

    cmd = [outguard_script(), "quarantine", "--postfix-config", str(postfix.config_dir), "list"]
    outputs["quarantine list"] = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    outputs["daemon log (debug level)"] = daemon.log_text()
    outputs["audit trail"] = daemon.audit_path.read_text()
    # metric names and labels only: sample values are floats whose digits (timestamps,
    # seconds) can contain a planted number's digits by chance
    outputs["metrics"] = "\n".join(line.rsplit(" ", 1)[0] for line in daemon.metrics_text().splitlines())

    assert "export held for review" in outputs["quarantine list"]
    decided = "verdict=encrypt rules=phi-with-health-context,phi-medical-record-number,mrn-encrypt"
    assert decided in outputs["daemon log (debug level)"]
    assert '"verdict":"reject"' in outputs["audit trail"] and verify([daemon.audit_path])[2] is None
    assert 'outguard_messages_total{verdict="encrypt"}' in outputs["metrics"]
    assert 'outguard_findings_total{finding="phi.mrn.e2e"}' in outputs["metrics"]
    for where, text in outputs.items():
        for kind, value in PLANTED.items():
            assert value not in text, f"{kind} leaked into {where}"
        assert "Quennell" not in text, where
        # the SSN's last four and part of the MRN as tokens of their own: a hex hash or a
        # timestamp in the audit trail can hold the same digits inside a longer run by chance
        for fragment in ("9989", "739201"):
            assert re.search(rf"(?<![0-9A-Fa-f]){fragment}(?![0-9A-Fa-f])", text) is None, (fragment, where)
