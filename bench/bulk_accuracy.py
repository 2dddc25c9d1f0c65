#!/usr/bin/env python3
"""Bulk-mail compliance findings on the SpamAssassin public corpus.

    PYTHONSAFEPATH=1 .venv/bin/python bench/bulk_accuracy.py [--corpus ../shared/corpora/spamassassin]

Over all of hard-ham-1 (commercial ham), the spam folders and easy-ham-1: the share of
messages with bulk.detected >= 0.5 and of each bulk.* compliance finding, and the check's CPU
time per message. (Formerly the second half of bench/spam_accuracy.py, which now measures
the spam check across corpora.)
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
from train_spam_weights import CORPUS, SPAM, corpus_files, read_raw  # noqa: E402

from outguard.core.message import Envelope, envelope_from_headers, parse_message  # noqa: E402
from outguard_plugins import bulk  # noqa: E402


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
        print(f"corpus not found: {args.corpus}; skipping the bulk bench")
        return 0
    bulk_report(args.corpus)
    return 0


if __name__ == "__main__":
    sys.exit(main())
