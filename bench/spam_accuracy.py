#!/usr/bin/env python3
"""Accuracy and cost of the `spam` and `bulk` checks on the SpamAssassin public corpus.

    PYTHONSAFEPATH=1 .venv/bin/python bench/spam_accuracy.py [--corpus ../shared/corpora/spamassassin]

spam.phrasing: the weights were fitted by bench/train_spam_weights.py on the calibration
half (even positions of every folder sorted by name); this reports on the other half (odd
positions), which the training never saw: ROC AUC, and at the shipped thresholds (score 5
tag, 8 hold) the spam catch rate and the ham false-positive rate, per ham folder too. Then
the check's CPU time per message (feature extraction and scoring on an already parsed
message; the MIME parse is the core's and not counted), overall and for messages of 4-6 KB.

bulk: over all of hard-ham-1 (commercial ham) and the spam folders, the share of messages
with bulk.detected >= 0.5 and of each bulk.* compliance finding.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_spam_weights import CORPUS, HAM, SPAM, auc, corpus_files, load, read_raw  # noqa: E402

from outguard.core.message import Envelope, envelope_from_headers, parse_message  # noqa: E402
from outguard_plugins import bulk, spam  # noqa: E402

TAG, HOLD = 5.0, 8.0


def spam_report(corpus: Path) -> None:
    state = spam.State(features=spam.Features(), model=spam.Model.load(spam.WEIGHTS_FILE), min_score=float("-inf"))
    items = load(corpus, "report")
    scores: dict[str, list[float]] = {}
    cpu_all: list[float] = []
    cpu_5k: list[float] = []
    for folder, _, raw, _ in items:
        msg = parse_message(raw, Envelope())
        t0 = time.process_time_ns()
        f = spam.inspect(msg, state)
        dt = (time.process_time_ns() - t0) / 1e6
        cpu_all.append(dt)
        if 4000 <= len(raw) <= 6000:
            cpu_5k.append(dt)
        scores.setdefault(folder, []).append(f[0].score if f else float("-inf"))
    ham = np.array([s for k in HAM for s in scores[k]])
    sp = np.array([s for k in SPAM for s in scores[k]])
    print("spam.phrasing on the REPORT half of the SpamAssassin corpus (odd positions of each folder by name;")
    print("  the weights were fitted on the even positions by bench/train_spam_weights.py)")
    print(f"  messages: ham {len(ham)} ({', '.join(HAM)}), spam {len(sp)} ({', '.join(SPAM)})")
    print(f"  ROC AUC: {auc(ham, sp):.4f}")
    for name, th in (("tag", TAG), ("hold", HOLD)):
        print(f"  at the {name} threshold (score >= {th:g}): spam caught {(sp >= th).mean():.1%}, "
              f"ham false positives {(ham >= th).mean():.2%} ({int((ham >= th).sum())}/{len(ham)})")
        for k in HAM:
            a = np.array(scores[k])
            print(f"      {k}: {(a >= th).mean():.2%} ({int((a >= th).sum())}/{len(a)})")
    print(f"  CPU per message: median {statistics.median(cpu_all):.3f} ms, p95 {np.percentile(cpu_all, 95):.3f} ms "
          f"(all {len(cpu_all)}); 4-6 KB messages: median {statistics.median(cpu_5k):.3f} ms (n={len(cpu_5k)})")


def bulk_report(corpus: Path) -> None:
    state = bulk.make_state({})
    print("bulk on whole folders (headers' envelope: From/Return-Path sender, To/Cc recipients):")
    ids: list[str] = []
    table: dict[str, tuple[int, Counter[str]]] = {}
    cpu: list[float] = []
    for folder in ("hard-ham-1",) + SPAM + ("easy-ham-1",):
        c: Counter[str] = Counter()
        files = corpus_files(corpus, folder, "all")
        for p in files:
            msg = parse_message(read_raw(p), Envelope())
            msg.envelope = envelope_from_headers(msg, msg.envelope)
            t0 = time.process_time_ns()
            found = bulk.inspect(msg, state)
            cpu.append((time.process_time_ns() - t0) / 1e6)
            for f in found:
                if f.id == "bulk.detected":
                    if f.confidence >= 0.5:
                        c[f.id] += 1
                else:
                    c[f.id] += 1
                    if f.id not in ids:
                        ids.append(f.id)
        table[folder] = (len(files), c)
    cols = list(table)
    print(f"  {'finding':38}" + "".join(f"{k:>14}" for k in cols))
    print(f"  {'messages':38}" + "".join(f"{table[k][0]:>14}" for k in cols))
    for fid in ["bulk.detected"] + sorted(ids):
        label = fid + (" >=0.5" if fid == "bulk.detected" else "")
        print(f"  {label:38}" + "".join(f"{table[k][1][fid] / table[k][0]:>14.1%}" for k in cols))
    print("  (compliance findings are reported only for mail with bulk.detected >= 0.5; shares are of all messages)")
    print(f"  CPU per message: median {statistics.median(cpu):.3f} ms, p95 {np.percentile(cpu, 95):.3f} ms (n={len(cpu)})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    args = ap.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 2
    spam_report(args.corpus)
    print()
    bulk_report(args.corpus)
    return 0


if __name__ == "__main__":
    sys.exit(main())
