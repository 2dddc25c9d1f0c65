"""End-to-end fixtures: a real outguard daemon (`outguard run`) wired into a throw-away Postfix."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from outguard.sandbox.install import ensure_postfix_installed, postfix_missing_reason
from outguard.sandbox.postfix import PostfixInstance
from outguard.sandbox.process import free_port, make_shared_tmpdir

E2E_RULES = r"""
patterns:
  - id: phi.mrn.e2e
    regex: '\bMRN-\d{6}\b'
rules:
  - id: tag-newsletter
    description: newsletters get a tag
    status: experimental
    when: {header: Subject, matches: newsletter}
    then:
      tag: {header: X-Outguard-Test, value: "tagged by {rule_id}"}
      subject_prefix: "[news]"
  - id: mrn-encrypt
    description: record numbers leave over the TLS-enforcing route
    status: experimental
    when: {finding: phi.mrn.e2e}
    then: {encrypt: tls-required}
  - id: hold-export
    description: exports are held
    status: experimental
    when: {header: Subject, matches: "^export"}
    then: {quarantine: export held for review}
  - id: refuse-secret
    description: classified mail is refused
    status: experimental
    when: {header: Subject, matches: "top secret"}
    then: {reject: "Refused: classified content may not leave (policy {rule_id})"}
  - id: audit-copy
    description: audit requests copy compliance
    status: experimental
    when: {header: Subject, matches: "audit me"}
    then: {notify: compliance@clinic.example}
  - id: discard-test
    description: test traffic is dropped silently
    status: experimental
    when: {header: Subject, matches: "^discard me"}
    then: {discard: true}
  - id: drop-rival
    description: never mail the competitor
    status: experimental
    when: {recipient_domain: rival.example}
    then: {drop_recipients: true}
"""


def outguard_script() -> str:
    script = Path(sys.executable).parent / "outguard"
    return str(script) if script.exists() else (shutil.which("outguard") or "outguard")


class OutguardDaemon:
    """`outguard run` as Postfix would have it: a subprocess on a unix socket."""

    def __init__(self, base: Path, rules: str, workers: int = 1, extra_config: str = "",
                 inspect_timeout: float = 20) -> None:
        self.base = base
        self.socket = base / "milter" / "outguard.sock"
        self.rules_path = base / "rules.yaml"
        self.config_path = base / "outguard.yaml"
        self.log_path = base / "outguard.log"
        self.audit_path = base / "audit.jsonl"
        self.metrics_port = free_port()
        self.rules_path.write_text(rules)
        self.config_path.write_text(
            "rules: {local: [], override: []}\n"
            f"audit: {{path: '{self.audit_path}'}}\n"
            f"metrics: {{listen: '127.0.0.1:{self.metrics_port}'}}\n"
            f"daemon:\n  socket: unix:{self.socket}\n  socket_group: postfix\n  workers: {workers}\n"
            f"  inspect_timeout_seconds: {inspect_timeout}\n" + extra_config)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def spec(self) -> str:
        return f"unix:{self.socket}"

    def start(self, timeout: float = 60) -> None:
        self.socket.parent.mkdir(parents=True, exist_ok=True)
        self.socket.parent.chmod(0o755)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([outguard_script(), "run", "--config", str(self.config_path),
                                      "--rules", str(self.rules_path), "--log-level", "debug"],
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"outguard run exited {self.proc.returncode}:\n{self.log_text()}")
            if self.socket.exists():
                with socket.socket(socket.AF_UNIX) as s:
                    try:
                        s.connect(str(self.socket))
                        return
                    except OSError:
                        pass
            time.sleep(0.1)
        raise RuntimeError(f"outguard did not listen within {timeout}s:\n{self.log_text()}")

    def send_signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)

    def metrics_text(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as resp:
            return resp.read().decode()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, needle: str, timeout: float = 30, after: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log_text()[after:]:
                return
            time.sleep(0.1)
        raise TimeoutError(f"{needle!r} not in outguard's log:\n{self.log_text()[-3000:]}")


def _require_postfix() -> None:
    reason = postfix_missing_reason()
    if reason is not None and os.geteuid() != 0:
        pytest.skip(reason)
    ensure_postfix_installed()


@pytest.fixture(scope="module")
def shared_dir() -> Iterator[Path]:
    _require_postfix()
    base = make_shared_tmpdir()
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def daemon(shared_dir: Path) -> Iterator[OutguardDaemon]:
    base = shared_dir / "outguard"
    base.mkdir()
    base.chmod(0o755)
    d = OutguardDaemon(base, E2E_RULES, workers=2)
    d.start()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def postfix(shared_dir: Path, daemon: OutguardDaemon) -> Iterator[PostfixInstance]:
    with PostfixInstance(shared_dir / "postfix", milter=daemon.spec) as pf:
        yield pf
