"""The shipped unit's hardening, as systemd itself scores it (offline: no running systemd needed)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from helpers import PROJECT

UNIT = PROJECT / "systemd" / "outguard.service"


def test_unit_exposure_is_ok_or_better() -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    proc = subprocess.run([tool, "security", "--offline=true", str(UNIT)], capture_output=True, text=True)
    m = re.search(r"Overall exposure level for outguard.service: ([0-9.]+)", proc.stdout)
    assert m, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert float(m.group(1)) <= 2.0


def test_unit_reloads_with_sigusr1_and_notifies() -> None:
    text = UNIT.read_text()
    assert "Type=notify" in text and "ExecReload=/bin/kill -USR1 $MAINPID" in text
    assert "ExecStartPre=/usr/bin/outguard check-config" in text and "User=outguard" in text
