#!/usr/bin/env python3
"""Throughput through a real Postfix, with and without outguard, side by side in one run.

smtp-source -> Postfix (throw-away instance on loopback) -> smtp-sink, the same real-text
messages for every setup, setups interleaved round by round so machine noise hits all
alike. Prints msgs/s per setup (median of the rounds), the ratio to Postfix alone, the
daemon's CPU ms per message (milter process and its workers) and peak RSS.

    .venv/bin/python bench/postfix_throughput.py [--messages 1600] [--rounds 3] [--distinct 200]
        [--kind ham|clinical] [--warmup 40] [--baseline DIR --setups 'postfix alone,outguard pool,baseline pool']

`--baseline DIR`: DIR is a checkout of another revision (e.g. `git archive REV | tar -x -C DIR`,
then `./scripts/setup` in DIR); its daemon runs as the setups "baseline pool" / "baseline inline",
interleaved with this tree's in the same rounds, so a change is timed against its base under one load.

`--kind ham` (the default): easy-ham text cut to `--size` bytes under the bench's own headers.
`--kind clinical`: PHI-dense messages, MTSamples notes with planted patient identifiers
(bench_messages.py), 3-8 KB; most of them are held (quarantine), which is what outguard is for.
CPU per message is printed per process: the daemon in all (milter process and workers), the
milter process alone and the workers; and the whole machine's CPU per message (every process,
Postfix's and the bench's own) with the share of the cores left idle, which says whether a
setup is bound by CPU or by waiting. Each setup first takes `--warmup` messages (default 40)
unmeasured, so the figures are the steady state: Postfix's processes are up, the daemon's
first-use work (lazy loads, caches, the reputation recorder's thread) is done. The daemon keeps
its state (the default store file, absent as on a fresh install) in the bench's own directory.

Run as root (Postfix's master must start as root). Needs ../shared/corpora/spamassassin.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_messages  # noqa: E402

from outguard.sandbox.install import ensure_postfix_installed  # noqa: E402
from outguard.sandbox.postfix import PostfixInstance  # noqa: E402
from outguard.sandbox.process import make_shared_tmpdir, process_tree  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
HAM = bench_messages.CORPORA / "spamassassin" / "easy-ham-1"   # OUTGUARD_CORPORA, else ../shared/corpora


def real_text_messages(count: int, size: int, folder: Path) -> list[Path]:
    """`count` messages of about `size` bytes of real mail text (bench_messages.ham_text)."""
    files = []
    for i, raw in enumerate(bench_messages.ham_text(count, size)):
        path = folder / f"msg{i}.txt"
        path.write_bytes(raw)
        files.append(path)
    return files


def clinical_messages(count: int, folder: Path) -> list[Path]:
    """`count` PHI-dense clinical messages (bench_messages.clinical), one file each."""
    files = []
    for i, raw in enumerate(bench_messages.clinical(count)):
        path = folder / f"clin{i}.eml"
        path.write_bytes(raw)
        files.append(path)
    if len(files) < count:
        print(f"only {len(files)} clinical notes of 3-8 KB (asked {count})", file=sys.stderr)
    return files


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total / TICKS


def machine_jiffies() -> tuple[int, int]:
    """(busy, idle) clock ticks of the whole machine: every process's CPU, Postfix's and the
    bench's own included, so a setup's whole cost per message and how idle the cores stayed."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]          # idle + iowait
    return sum(fields[:8]) - idle, idle


def peak_rss_mb(pids: list[int]) -> float:
    peak = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
    return peak / 1024


AUDIT_FSYNC: str | None = None   # --audit-fsync; None: the config's default (always)
WARMUP = 40                      # --warmup: messages sent through each setup before measuring
BASELINE: Path | None = None     # --baseline: another checkout, for the setups "baseline pool" and "baseline inline"


def start_daemon(base: Path, workers: int, outguard: Path) -> tuple[subprocess.Popen[bytes], str]:
    sock_dir = base / "milter"
    sock_dir.mkdir(parents=True)
    sock_dir.chmod(0o755)
    config = base / "outguard.yaml"
    # store.state_dir: the default store file (absent: no suppression or reputation store, as on a
    # fresh install) is the bench's own, never the machine's /var/lib/outguard
    config.write_text(f"rules: {{local: [], override: []}}\nlog_level: warning\nstore: {{state_dir: '{base}/state'}}\n"
                      f"audit: {{path: '{base}/audit.jsonl'"
                      + (f", fsync: {AUDIT_FSYNC}" if AUDIT_FSYNC else "") + "}\n"
                      f"daemon: {{socket: 'unix:{sock_dir}/outguard.sock', workers: {workers}}}\n")
    proc = subprocess.Popen([str(outguard), "run", "--config", str(config)], stderr=(base / "log").open("wb"))
    deadline = time.monotonic() + 60
    while not (sock_dir / "outguard.sock").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"outguard did not start: {(base / 'log').read_text()}")
        time.sleep(0.1)
    return proc, f"unix:{sock_dir}/outguard.sock"


def start_null_milter(base: Path) -> tuple[subprocess.Popen[bytes], str]:
    base.mkdir(parents=True)
    base.chmod(0o755)
    sock = base / "null.sock"
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("null_milter.py")), f"unix:{sock}"])
    deadline = time.monotonic() + 30
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("null milter did not start")
        time.sleep(0.05)
    return proc, f"unix:{sock}"


def run_setup(name: str, files: list[Path], per_file: int, sessions: int, work: Path) -> dict[str, float]:
    base = work / f"{name.replace(' ', '-')}-{time.time_ns()}"
    base.mkdir()
    base.chmod(0o755)
    proc, milter = None, None
    if name == "null pymilter":
        proc, milter = start_null_milter(base / "null")
    elif name != "postfix alone":
        # "baseline pool|inline": the same daemon from the --baseline checkout (its own .venv)
        outguard = (BASELINE / ".venv" / "bin" if name.startswith("baseline") and BASELINE
                    else Path(sys.executable).parent) / "outguard"
        proc, milter = start_daemon(base / "og", 0 if name.endswith("inline") else 2, outguard)
    total = per_file * len(files)
    try:
        with PostfixInstance(base / "pf", milter=milter, main_cf={"smtpd_client_connection_count_limit": "0"}) as pf:
            def done() -> int:  # delivered to either sink (encrypt goes to the second), or held
                return (len(list(pf.sink.dump_dir.iterdir())) + len(list(pf.tls_sink.dump_dir.iterdir()))
                        + sum(1 for e in pf.queue() if e.get("queue_name") == "hold"))

            # `sessions` lanes, each sending its share of the distinct messages one file after
            # another: no body repeats often enough to look like bulk (outguard would then
            # rightly refuse bulk without an unsubscribe, which is not what this measures).
            def send(chosen: list[Path], each: int, expected: int) -> None:
                def lane(mine: list[Path]) -> None:
                    for f in mine:
                        subprocess.run(["/usr/sbin/smtp-source", "-F", str(f), "-m", str(each), "-s", "1",
                                        "-f", "bench@clinic.example", "-t", "rcpt@partner.example",
                                        f"127.0.0.1:{pf.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

                lanes = [threading.Thread(target=lane, args=(chosen[i::sessions],)) for i in range(sessions)]
                for t in lanes:
                    t.start()
                for t in lanes:
                    t.join()
                deadline = time.monotonic() + 600
                while done() < expected and time.monotonic() < deadline:
                    if not any(e.get("queue_name") != "hold" for e in pf.queue()) and done() < expected:
                        time.sleep(0.5)  # nothing in flight: what is missing was refused at SMTP time
                        if not any(e.get("queue_name") != "hold" for e in pf.queue()):
                            break
                    time.sleep(0.1)

            # Warm-up, not measured: Postfix starts its smtpd/cleanup/smtp processes, the daemon's
            # workers take their first messages (lazy loads, first-use caches), the reputation
            # recorder's thread starts. What is measured after it is the steady state.
            warm = files[:WARMUP] if WARMUP else []
            send(warm, 1, len(warm))
            warmed = done()
            pids = process_tree(proc.pid) if proc else []
            cpu0, main0 = cpu_seconds(pids), cpu_seconds(pids[:1])
            busy0, idle0 = machine_jiffies()
            started = time.monotonic()
            send(files, per_file, warmed + total)
            elapsed = time.monotonic() - started
            busy1, idle1 = machine_jiffies()
            got = done() - warmed
            pids = process_tree(proc.pid) if proc else []
            cpu = cpu_seconds(pids) - cpu0
            main_cpu = cpu_seconds(pids[:1]) - main0
            rss = peak_rss_mb(pids)
            timeouts = sum(1 for line in pf.log_text().splitlines() if "milter" in line and "timeout" in line)
    finally:
        if proc:
            proc.terminate()
            proc.wait(30)
        shutil.rmtree(base, ignore_errors=True)
    return {"msgs_per_s": got / elapsed, "delivered": got, "sent": total,
            "cpu_ms_per_msg": cpu * 1000 / max(got, 1), "milter_ms_per_msg": main_cpu * 1000 / max(got, 1),
            "peak_rss_mb": rss, "milter_timeouts": timeouts,
            "machine_ms_per_msg": (busy1 - busy0) * 1000 / TICKS / max(got, 1),
            "idle_share": (idle1 - idle0) / max(busy1 - busy0 + idle1 - idle0, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1600, help="messages per setup and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=8, help="parallel SMTP sessions in all")
    parser.add_argument("--size", type=int, default=5000, help="bytes of real text per message")
    parser.add_argument("--setups", default="postfix alone,null pymilter,outguard pool,outguard inline")
    parser.add_argument("--distinct", type=int, default=200, help="distinct messages, each sent messages/distinct times")
    parser.add_argument("--kind", choices=("ham", "clinical"), default="ham")
    parser.add_argument("--audit-fsync", choices=("always", "interval", "never"), default=None,
                        help="the daemon's audit.fsync (default: the config default, always)")
    parser.add_argument("--warmup", type=int, default=40,
                        help="messages sent through each setup, unmeasured, before the measured ones (0: none)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a checkout of another revision with its own .venv (./scripts/setup there): adds the "
                             "setups 'baseline pool' and 'baseline inline' (name them in --setups) to time it side by side")
    args = parser.parse_args()
    global AUDIT_FSYNC, WARMUP, BASELINE
    BASELINE = args.baseline
    if BASELINE is not None and not (BASELINE / ".venv" / "bin" / "outguard").exists():
        raise SystemExit(f"--baseline {BASELINE}: no .venv/bin/outguard there (run ./scripts/setup in it)")
    AUDIT_FSYNC = args.audit_fsync
    WARMUP = min(args.warmup, args.distinct)
    if not HAM.is_dir():
        raise SystemExit(f"needs the SpamAssassin corpus at {HAM}")
    ensure_postfix_installed()
    setups = [s.strip() for s in args.setups.split(",")]
    files_count = args.distinct
    work = make_shared_tmpdir(prefix="outguard-bench-")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            files = (real_text_messages(files_count, args.size, Path(tmp)) if args.kind == "ham"
                     else clinical_messages(files_count, Path(tmp)))
            per_file = args.messages // files_count
            results: dict[str, list[dict[str, float]]] = {s: [] for s in setups}
            for r in range(args.rounds):
                for s in setups:
                    res = run_setup(s, files, per_file, args.sessions, work)
                    results[s].append(res)
                    print(f"round {r + 1} {s:16s} {res['msgs_per_s']:7.1f} msgs/s  "
                          f"({res['delivered']}/{res['sent']} delivered)  cpu {res['cpu_ms_per_msg']:.2f} ms/msg  "
                          f"machine {res['machine_ms_per_msg']:.2f} ms/msg, idle {res['idle_share']:.0%}  "
                          f"load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(x["msgs_per_s"] for x in results[setups[0]])
    what = f"~{args.size} B real text" if args.kind == "ham" else "PHI-dense clinical (3-8 KB)"
    print(f"\n{per_file * len(files)} messages ({len(files)} distinct) of {what}, {args.sessions} sessions, "
          f"{args.rounds} rounds, medians; ratio to '{setups[0]}'")
    print(f"{'setup':18s} {'msgs/s':>8s} {'ratio':>6s} {'cpu ms/msg':>11s} {'milter proc':>12s} {'workers':>8s} "
          f"{'peak RSS MB':>12s} {'milter timeouts':>16s} {'machine ms/msg':>15s} {'idle':>5s}")
    for s in setups:
        rate = statistics.median(x["msgs_per_s"] for x in results[s])
        cpu = statistics.median(x["cpu_ms_per_msg"] for x in results[s])
        main_cpu = statistics.median(x["milter_ms_per_msg"] for x in results[s])
        rss = max(x["peak_rss_mb"] for x in results[s])
        tmo = sum(x["milter_timeouts"] for x in results[s])
        machine = statistics.median(x["machine_ms_per_msg"] for x in results[s])
        idle = statistics.median(x["idle_share"] for x in results[s])
        print(f"{s:18s} {rate:8.1f} {rate / base:6.2f} {cpu:11.2f} {main_cpu:12.2f} {cpu - main_cpu:8.2f} "
              f"{rss:12.1f} {tmo:16d} {machine:15.2f} {idle:5.0%}")


if __name__ == "__main__":
    main()
