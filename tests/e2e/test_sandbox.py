"""The quick start's main job: `outguard sandbox` sends the examples through a throw-away Postfix."""

from __future__ import annotations

import subprocess

import pytest

from conftest import outguard_script
from helpers import PROJECT

pytestmark = pytest.mark.postfix


def test_sandbox_runs_the_examples_through_postfix(shared_dir) -> None:
    proc = subprocess.run([outguard_script(), "sandbox", "--config", "/dev/null", "--once",
                           "--rules", str(PROJECT / "examples" / "rules"),
                           "--send", str(PROJECT / "examples" / "messages")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    blocks = {b.split("\n", 1)[0].rsplit("/", 1)[-1]: b for b in out.split("examples/messages/")[1:]}
    assert "held in quarantine" in blocks["export.eml"]
    assert "delivered over the encryption route" in blocks["referral.eml"]
    rules = "phi-with-health-context,phi-medical-record-number,riverside-mrn-encrypt"
    assert f"X-Outguard-Verdict: encrypt; rules={rules}" in blocks["referral.eml"]
    assert "delivered to the relay sink" in blocks["newsletter.eml"]
    assert "verdict=encrypt rules=phi-with-health-context,phi-medical-record-number,riverside-mrn-encrypt" in out
    assert "4821937" not in out
