#!/usr/bin/env python3
"""CPU of inspection per message: the real Inspector with every shipped check, per check too.

    PYTHONSAFEPATH=1 .venv/bin/python bench/inspect_cost.py [--kind mixed] [--count 220] [--repeat 3]
        [--profile FILE]

Messages: bench_messages.py (SpamAssassin easy ham and Enron business mail of 3-8 KB, and
PHI-dense clinical notes; `--kind mixed` is 45/45/10 %). Each message is inspected `--repeat`
times; the figure per message is its fastest run (the least disturbed by the other load on
the machine). Printed:

  inspect   `Inspector.inspect` as the daemon calls it (checks concurrently, each in its thread):
            process CPU, so the threads' time counts
  parse     parse_message (MIME, text views)
  <check>   each check's outguard_inspect alone, run in this thread one after another (thread CPU)
  decide    the rule set on the findings
  all but phi+spam  inspect less the PHI and spam checks: parse, views, the other checks, host, decide

`--profile FILE` writes a pyinstrument profile of the per-check loop (parse, checks, decide).
`--all-findings` runs every check even where no loaded rule uses its findings.
`--phi-baseline REV` also times the PHI check of git revision REV on the same parsed
messages, in the same run (row `phi@REV`; bench/phi_baseline.py).
Not a timed test: read the figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_messages  # noqa: E402

from outguard.checks.spec import InspectContext  # noqa: E402
from outguard.core.config import load_config  # noqa: E402
from outguard.core.message import Envelope, parse_message  # noqa: E402
from outguard.pipeline import Inspector  # noqa: E402
from outguard.rules.conditions import Facts  # noqa: E402
from outguard.rules.decide import decide  # noqa: E402

OWN_BUDGETS = ("phi", "spam")  # checks whose cost is budgeted on its own (issue 14)
ENVELOPE = Envelope("staff@clinic.example", ("office@partner.example",), queue_id="BENCH")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def per_step(inspector: Inspector, raw: bytes, all_findings: bool, baseline: tuple[str, Any, Any] | None = None) \
        -> dict[str, float]:
    """CPU ms of each step of one inspection, in this thread."""
    out: dict[str, float] = {}
    clock = time.thread_time
    t = clock()
    message = parse_message(raw, ENVELOPE, inspector.limits)
    for att in message.attachments:
        text, _ = inspector.host.extract_text(att, "BENCH")
        if text:
            message.add_text(f"attachment:{att.label}", text)
    out["parse"] = (clock() - t) * 1000
    rules = inspector.ruleset
    context = InspectContext(patterns=rules.patterns, pattern_timeout=1.0, services=inspector.host.services)
    findings = list(message.scan_findings)
    skipped = set() if all_findings else set(_skipped(inspector))
    for impl in inspector.host._impls("outguard_inspect"):
        if impl.plugin_name in skipped:
            continue
        t = clock()
        result = inspector.host._call(impl, message=message, context=context)
        out[impl.plugin_name] = (clock() - t) * 1000
        findings += inspector.host._validated(impl.plugin_name, result)
    if baseline is not None:
        label, module, state = baseline
        t = clock()
        module.inspect_message(message, state)
        out[label] = (clock() - t) * 1000
    t = clock()
    decide(rules, Facts(message, findings), inspector.config.mode)
    out["decide"] = (clock() - t) * 1000
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kind", choices=bench_messages.KINDS, default="mixed")
    ap.add_argument("--count", type=int, default=220)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", type=Path, default=None, help="write a pyinstrument profile here")
    ap.add_argument("--all-findings", action="store_true", help="run checks no loaded rule needs too")
    ap.add_argument("--phi-baseline", metavar="REV", default=None, help="time the PHI check of this git revision too")
    args = ap.parse_args()
    if not bench_messages.CORPORA.is_dir():
        print(f"corpora not found at {bench_messages.CORPORA}: nothing measured")
        return
    messages = bench_messages.by_kind(args.kind, args.count)
    sizes = sorted(len(m) for m in messages)
    print(f"{len(messages)} distinct {args.kind} messages, {sizes[0]}-{sizes[-1]} bytes (median {sizes[len(sizes) // 2]})")
    config = load_config(Path("/dev/null"), {"rules": {"local": [], "override": []}})
    t = time.process_time()
    inspector = Inspector.create(config)
    print(f"start-up: {(time.process_time() - t) * 1000:.0f} ms CPU; checks: {', '.join(inspector.host.names)}")
    if not args.all_findings:
        print(f"skipped (no loaded rule uses their findings): {', '.join(_skipped(inspector)) or 'none'}")
    baseline = None
    if args.phi_baseline:
        import phi_baseline

        old = phi_baseline.load(args.phi_baseline)
        baseline = (f"phi@{args.phi_baseline}", old, old.build_state({}))
    for raw in messages[:5]:   # warm caches (regex compilation, lazy imports)
        inspector.inspect(raw, ENVELOPE)
        per_step(inspector, raw, args.all_findings, baseline)
    whole: list[float] = []
    steps: dict[str, list[float]] = defaultdict(list)
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
    for raw in messages:
        whole.append(min(_timed_inspect(inspector, raw) for _ in range(args.repeat)))
        runs = [per_step(inspector, raw, args.all_findings, baseline) for _ in range(args.repeat)]
        for name in runs[0]:
            steps[name].append(min(r[name] for r in runs))
    if profiler:   # a pass of its own: the profiler's overhead stays out of the figures
        profiler.start()
        for raw in messages:
            per_step(inspector, raw, args.all_findings)
        profiler.stop()
    print(f"\n{'step':<18}{'median ms':>10}{'p95 ms':>10}{'mean ms':>10}")
    print(f"{'inspect (daemon)':<18}{statistics.median(whole):>10.2f}{pct(whole, 0.95):>10.2f}{statistics.mean(whole):>10.2f}")
    total = [sum(v) for v in zip(*(v for k, v in steps.items() if not k.startswith("phi@")), strict=True)]
    # the whole inspection less the two checks with budgets of their own (PHI, spam): parse, text
    # views, the other checks, the host, decide (each step's figure is its fastest of --repeat
    # runs, so the sum of steps is a little under the whole)
    others = [w - sum(steps[c][i] for c in OWN_BUDGETS if c in steps) for i, w in enumerate(whole)]
    for name, values in [*sorted(steps.items(), key=lambda kv: -statistics.mean(kv[1])), ("sum of steps", total),
                         (f"all but {'+'.join(OWN_BUDGETS)}", others)]:
        print(f"{name:<18}{statistics.median(values):>10.2f}{pct(values, 0.95):>10.2f}{statistics.mean(values):>10.2f}")
    if profiler:
        args.profile.write_text(profiler.output_text(unicode=True, show_all=False))
        print(f"\nprofile written to {args.profile}")
    inspector.close()


def _skipped(inspector: Inspector) -> list[str]:
    """The checks the inspector leaves out for the loaded rules (none before it could)."""
    return list(getattr(inspector, "skipped_checks", lambda: [])())


def _timed_inspect(inspector: Inspector, raw: bytes) -> float:
    t = time.process_time()
    inspector.inspect(raw, ENVELOPE)
    return (time.process_time() - t) * 1000


if __name__ == "__main__":
    main()
