"""`outguard check`: JSON shape, explanations, inputs (file, folder, mbox, stdin), exit codes, no PHI."""

from __future__ import annotations

import json
import logging
import mailbox
import subprocess
from pathlib import Path

import pytest

from helpers import PROJECT, outguard_command
from outguard.cli.main import main

EXAMPLES = PROJECT / "examples"
RIVERSIDE = EXAMPLES / "rules" / "riverside.yaml"
VERDICTS = {"deliver", "encrypt", "quarantine", "reject", "tempfail", "discard"}


def run_json(args: list[str], capsys) -> list[dict]:
    assert main(["check", "--config", "/dev/null", "--json", *args]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_json_has_the_documented_shape(capsys) -> None:
    [doc] = run_json(["--rules", str(RIVERSIDE), str(EXAMPLES / "messages" / "referral.eml")], capsys)
    assert doc["file"].endswith("referral.eml") and doc["verdict"] == "encrypt"
    # MRN + "started metoprolol"; the MRN alone is a record of care (the shipped rule) and the site's own rule
    assert doc["rules"] == ["phi-with-health-context", "phi-medical-record-number", "riverside-mrn-encrypt"]
    finding = next(f for f in doc["findings"] if f["id"] == "phi.mrn.riverside")
    assert {"id", "confidence", "count", "where", "recipient", "score"} <= set(finding)
    assert finding["id"] == "phi.mrn.riverside" and finding["count"] == 1 and finding["where"] == ["body"]
    assert {"action": "encrypt", "route": "tls-required"} in doc["actions"]


def test_explain_names_rule_reason_and_redacted_finding(capsys) -> None:
    assert main(["check", "--config", "/dev/null", "--explain", "--rules", str(RIVERSIDE),
                 str(EXAMPLES / "messages" / "referral.eml")]) == 0
    out = capsys.readouterr().out
    assert "Verdict: ENCRYPT (route tls-required) - decided by rule phi-with-health-context" in out
    assert "riverside-mrn-encrypt" in out
    assert "phi.mrn.riverside" in out and 'near "MRN"' in out and "riverside.yaml:13" in out
    assert "RV-4821937" not in out and "4821937" not in out


def test_folder_mbox_and_stdin_inputs(tmp_path, capsys) -> None:
    box = mailbox.mbox(tmp_path / "sent.mbox")
    for i in range(3):
        box.add(f"From: a@example.org\nTo: b@example.net\nSubject: m{i}\n\nFrom the desk of nobody\n".encode())
    box.flush()
    box.close()
    docs = run_json([str(tmp_path / "sent.mbox")], capsys)
    assert [d["file"] for d in docs] == [f"{tmp_path / 'sent.mbox'}#{i}" for i in (1, 2, 3)]
    docs = run_json([str(EXAMPLES / "messages")], capsys)
    assert sorted(Path(d["file"]).name for d in docs) == ["export.eml", "newsletter.eml", "referral.eml"]
    proc = subprocess.run([*outguard_command(), "check", "--config", "/dev/null", "--json", "-"],
                          input=b"Subject: stdin\n\nhello\n", capture_output=True, check=True)
    assert json.loads(proc.stdout)["file"] == "-"


def test_exit_codes(tmp_path, capsys) -> None:
    msg = EXAMPLES / "messages" / "export.eml"
    base = ["check", "--config", "/dev/null", "--rules", str(RIVERSIDE)]
    assert main([*base, str(msg)]) == 0
    assert main([*base, "--fail-on", "quarantine,reject", str(msg)]) == 1
    assert main([*base, str(tmp_path / "missing.eml")]) == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("{")
    assert main(["check", "--config", str(bad), str(msg)]) == 2
    assert f"{bad}:" in capsys.readouterr().err


def test_envelope_flags_override_headers(capsys) -> None:
    rules = PROJECT / "tests" / "data" / "domain-rule.yaml"
    [doc] = run_json(["--rules", str(rules), "--rcpt", "x@partner.example",
                      str(EXAMPLES / "messages" / "newsletter.eml")], capsys)
    assert doc["verdict"] == "quarantine"
    [doc] = run_json(["--rules", str(rules), str(EXAMPLES / "messages" / "newsletter.eml")], capsys)
    assert doc["verdict"] == "deliver"


def test_shipped_and_example_rule_tests_pass(capsys) -> None:
    assert main(["rules", "test", "--config", "/dev/null", str(EXAMPLES / "rules")]) == 0
    out = capsys.readouterr().out
    assert "0 failed" in out and "riverside-mrn-bulk-quarantine" in out


PLANTED = {
    "ssn": "219-09-9989",
    "mrn": "RV-7316642",
    "name": "Philippa Quennell-Abernathy",
    "dob": "03/17/1958",
}


LEAK_RULES = """
patterns:
  - id: site.ssn
    regex: '\\b\\d{3}-\\d{2}-\\d{4}\\b'
    keywords: [SSN]
    reveal_last: 0
  - id: phi.mrn.riverside
    regex: '\\bRV-\\d{7}\\b'
    keywords: [MRN]
rules:
  - id: ssn-refused
    description: a site refuses mail with SSNs
    status: experimental
    when: {finding: site.ssn}
    then:
      reject: "Message refused: it contains {finding_ids}"
      tag: {header: X-Found, value: "{finding_ids}"}
  - id: mrn-encrypt
    description: MRNs leave encrypted
    status: experimental
    when: {finding: phi.mrn.riverside}
    then: {encrypt: tls-required}
"""


def test_no_planted_phi_in_json_explain_or_debug_logs(tmp_path, capsys, caplog) -> None:
    rules = tmp_path / "site.yaml"
    rules.write_text(LEAK_RULES)
    msg = tmp_path / "leak.eml"
    msg.write_text(
        f"From: clinic@example.org\nTo: records@example.net\n"
        f"Subject: Results for {PLANTED['name']} (MRN {PLANTED['mrn']})\n\n"
        f"Patient {PLANTED['name']}, DOB {PLANTED['dob']}, SSN {PLANTED['ssn']}, MRN {PLANTED['mrn']}.\n")
    with caplog.at_level(logging.DEBUG, logger="outguard"):
        for mode in ("--json", "--explain"):
            args = ["check", "--config", "/dev/null", "--log-level", "debug", mode, "--rules", str(rules), str(msg)]
            assert main(args) == 0
            out = capsys.readouterr()
            assert "site.ssn" in out.out and "phi.mrn.riverside" in out.out and "reject" in out.out.lower()
            for value in PLANTED.values():
                for text in (out.out, out.err, caplog.text):
                    assert value not in text


@pytest.mark.parametrize("folder", ["mime", "spamassassin"])
def test_every_corpus_message_goes_through_check_json(corpora, folder) -> None:
    root = corpora / folder
    proc = subprocess.run([*outguard_command(), "check", "--config", "/dev/null", "--json", str(root)],
                          capture_output=True, timeout=900)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    docs = [json.loads(line) for line in proc.stdout.splitlines()]
    files = [p for p in root.rglob("*") if p.is_file()]
    assert len(docs) >= len(files)
    assert all(d["verdict"] in VERDICTS for d in docs)
    internal = [d["file"] for d in docs if any(f["id"] == "error.internal" for f in d["findings"])]
    assert internal == []
