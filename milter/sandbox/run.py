"""`outguard sandbox`: the milter on its embedded defaults inside a throw-away Postfix on
loopback, so an admin can watch verdicts become Postfix behaviour before installing it.
Nothing can leave the machine, and the machine's own Postfix configuration is untouched."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from outguard.core.message import Envelope, envelope_from_headers, parse_message
from outguard.core.sources import read_sources
from outguard.sandbox.install import ensure_postfix_installed
from outguard.sandbox.postfix import PostfixInstance
from outguard.sandbox.process import make_shared_tmpdir


@dataclass(frozen=True)
class Outcome:
    label: str
    reply: str
    where: str
    verdict_header: str


def _outguard() -> str:
    script = Path(sys.executable).parent / "outguard"
    return str(script) if script.exists() else (shutil.which("outguard") or "outguard")


def start_daemon(base: Path, config: Path | None, rules: list[Path], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    sock_dir = base / "milter"
    sock_dir.mkdir(parents=True, exist_ok=True)
    sock_dir.chmod(0o755)
    spec = f"unix:{sock_dir}/outguard.sock"
    cmd = [_outguard(), "run", "--socket", spec, "--audit-log", str(base / "audit.jsonl")]
    if config is not None:
        cmd += ["--config", str(config)]
    for r in rules:
        cmd += ["--rules", str(r)]
    proc = subprocess.Popen(cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while not (sock_dir / "outguard.sock").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"outguard run did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)
    return proc, spec


def _where(pf: PostfixInstance, queue_id: str, timeout: float = 15) -> tuple[str, str]:
    needle = re.compile(rb"\bid " + re.escape(queue_id.encode()) + rb"\b")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, sink in (("delivered to the relay sink", pf.sink), ("delivered over the encryption route", pf.tls_sink)):
            for record in sink.records():
                if needle.search(record.headers):
                    m = re.search(rb"(?mi)^X-Outguard-Verdict:\s*(.*)$", record.headers)
                    return f"{name} ({record.path.parent})", (m.group(1).decode() if m else "-")
        if any(e["queue_id"] == queue_id and e["queue_name"] == "hold" for e in pf.queue()):
            return "held in quarantine (outguard quarantine list)", "quarantine"
        time.sleep(0.2)
    return "still in the queue", "-"


def send_examples(pf: PostfixInstance, paths: list[str]) -> list[Outcome]:
    outcomes = []
    for source in read_sources(paths):
        if source.raw is None:
            continue
        env = envelope_from_headers(parse_message(source.raw), Envelope())
        sender = env.sender or "sandbox@example.org"
        rcpts = list(env.recipients) or ["someone@example.net"]
        code, text = pf.send(source.raw, sender, rcpts)
        if code == 250:
            queue_id = text.rsplit(" ", 1)[-1]
            where, verdict = _where(pf, queue_id)
        else:
            where, verdict = "refused at SMTP time", "-"
        outcomes.append(Outcome(source.label, f"{code} {text}", where, verdict))
    return outcomes


def run(config: Path | None, rules: list[Path], send: list[str], once: bool) -> int:
    ensure_postfix_installed()
    base = make_shared_tmpdir(prefix="outguard-sandbox-")
    log = base / "outguard.log"
    proc = None
    try:
        proc, spec = start_daemon(base, config, rules, log)
        with PostfixInstance(base / "postfix", milter=spec) as pf:
            for o in send_examples(pf, send):
                print(f"{o.label}\n    SMTP reply: {o.reply}\n    {o.where}\n    X-Outguard-Verdict: {o.verdict_header}")
            print("\noutguard's log (one line per message, with the Postfix queue id):\n")
            print("".join(f"    {line}\n" for line in log.read_text(errors="replace").splitlines() if "verdict=" in line))
            if once:
                return 0
            print(f"""The sandbox is running. Send your own message:
    swaks --server 127.0.0.1:{pf.port} --from a@clinic.example --to b@partner.example \\
          --header "Subject: referral" --body "MRN: RV-4821937, started metoprolol"
Verdicts: {log} (outguard), {base / "audit.jsonl"} (audit trail),
{pf.sink.dump_dir} and {pf.tls_sink.dump_dir} (what left),
held mail: {_outguard()} quarantine --postfix-config {pf.config_dir} list
Postfix log: {pf.log_path}.  Ctrl-C stops everything and removes {base}.""", flush=True)
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(base, ignore_errors=True)

