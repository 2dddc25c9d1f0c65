#!/usr/bin/env python3
"""Derive the weights of the `spam` check from the SpamAssassin public corpus (reproducible).

    PYTHONSAFEPATH=1 .venv/bin/python bench/train_spam_weights.py [--corpus ../shared/corpora/spamassassin]
                                                                  [--out plugins/data/spam_weights.yaml]

The corpus is split deterministically: in every folder, the files sorted by name, the
even positions (0, 2, 4, ...) are the **calibration half** (this script fits on it) and
the odd positions the **report half** (bench/spam_accuracy.py reports on it). After a
retraining, re-run `outguard rules test`: the rule tests of rules/spam.yaml pin messages on
either side of the thresholds. Ham is
easy-ham-1, easy-ham-2 and hard-ham-1 (commercial mail that is not spam); spam is spam-1
and spam-2.

The model is an L2-regularised logistic regression (Newton's method, numpy) over the
features of outguard_plugins.spam.Features, with balanced class weights. The weights are
written back in the raw feature units, so a user can read and tune them. The tag threshold
is the log-odds that 0.5 % of calibration ham exceeds, the hold threshold the one 0.1 %
exceeds; the check maps them to scores 5 and 8.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from outguard.core.message import Envelope, parse_message
from outguard_plugins.spam import Features

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpora" / "spamassassin"
HAM = ("easy-ham-1", "easy-ham-2", "hard-ham-1")
SPAM = ("spam-1", "spam-2")
L2 = 1.0
TAG_HAM_FP = 0.005
HOLD_HAM_FP = 0.001


def read_raw(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw.startswith(b"From "):  # the corpus files start with an mbox separator line
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    return raw


def corpus_files(corpus: Path, folder: str, half: str) -> list[Path]:
    """`half` is "calibration" (even positions), "report" (odd positions) or "all"."""
    files = sorted(p for p in (corpus / folder).iterdir() if p.is_file() and not p.name.startswith("cmds"))
    if half == "all":
        return files
    return files[0::2] if half == "calibration" else files[1::2]


def load(corpus: Path, half: str) -> list[tuple[str, Path, bytes, int]]:
    """(folder, path, raw bytes, label 1=spam) for one half of the corpus."""
    out = []
    for folder in HAM + SPAM:
        for p in corpus_files(corpus, folder, half):
            out.append((folder, p, read_raw(p), 1 if folder in SPAM else 0))
    return out


def fit(x: np.ndarray, y: np.ndarray, l2: float = L2, iters: int = 50) -> tuple[np.ndarray, float]:
    """Balanced, L2-regularised logistic regression by Newton's method; x standardised by the caller."""
    n, d = x.shape
    sw = np.where(y == 1, n / (2 * y.sum()), n / (2 * (n - y.sum())))
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(xb @ w, -50, 50)))
        grad = xb.T @ (sw * (p - y)) + reg * w
        hess = (xb * (sw * p * (1 - p))[:, None]).T @ xb + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def auc(scores_ham: np.ndarray, scores_spam: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney probability (ties count half)."""
    allv = np.concatenate([scores_ham, scores_spam])
    order = allv.argsort(kind="mergesort")
    ranks = np.empty(len(allv))
    ranks[order] = np.arange(1, len(allv) + 1)
    # average ranks over ties
    sv = allv[order]
    i = 0
    while i < len(sv):
        j = i
        while j + 1 < len(sv) and sv[j + 1] == sv[i]:
            j += 1
        if j > i:
            ranks[order[i : j + 1]] = (i + j + 2) / 2
        i = j + 1
    r_spam = ranks[len(scores_ham):].sum()
    n1, n0 = len(scores_spam), len(scores_ham)
    return float((r_spam - n1 * (n1 + 1) / 2) / (n1 * n0))


def matrix(features: Features, items: list[tuple[str, Path, bytes, int]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    names = features.names()
    idx = {n: i for i, n in enumerate(names)}
    x = np.zeros((len(items), len(names)))
    y = np.zeros(len(items))
    for r, (_, _, raw, label) in enumerate(items):
        for k, v in features.extract(parse_message(raw, Envelope())).items():
            x[r, idx[k]] = v
        y[r] = label
    return x, y, names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--out", type=Path, default=ROOT / "plugins" / "data" / "spam_weights.yaml")
    args = ap.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 2
    features = Features()
    items = load(args.corpus, "calibration")
    x, y, names = matrix(features, items)
    mean, sd = x.mean(axis=0), x.std(axis=0)
    sd[sd == 0] = 1.0
    # Spam evidence only adds: a phrase family or a spam-like structure whose weight comes out
    # negative (collinearity with another family) is dropped and the model refitted, so every
    # shipped weight reads "more of this is more spam-like". Only the features that describe
    # ordinary correspondence (quoting, links in a reply, very short text) may be negative.
    may_be_negative = {"quoted_lines", "links", "urls_in_text", "short_text"}
    active = np.ones(len(names), dtype=bool)
    while True:
        w_act, b_std = fit(((x - mean) / sd)[:, active], y)
        w_std = np.zeros(len(names))
        w_std[active] = w_act
        bad = [i for i, n in enumerate(names) if active[i] and w_std[i] < 0 and n not in may_be_negative]
        if not bad:
            break
        active[min(bad, key=lambda i: w_std[i])] = False
    w = w_std / sd
    b = b_std - float((w_std * mean / sd).sum())
    logits = x @ w + b
    ham, spam = logits[y == 0], logits[y == 1]
    tag = float(np.quantile(ham, 1 - TAG_HAM_FP))
    hold = float(np.quantile(ham, 1 - HOLD_HAM_FP))
    a = auc(ham, spam)
    lines = [
        "# Weights of the `spam` check (outguard_plugins.spam), written by bench/train_spam_weights.py.",
        "# Do not hand-edit without reason: re-run the script after changing spam_phrases.yaml.",
        "# A message's log-odds = bias + sum(weight * feature); its score maps the log-odds linearly so",
        "# that tag_logit -> 5 (tag) and hold_logit -> 8 (quarantine), the numbers rules/spam.yaml uses.",
        "# Feature units: phrase.* = ln(1 + occurrences); caps_*, quoted_lines = shares 0..1;",
        "# exclaim = ln(1 + '!' per 100 words); counts (links, shortener, ...) = ln(1 + n); the rest 0/1.",
        f"trained: {datetime.now(UTC).strftime('%Y-%m-%d')}",
        "training: SpamAssassin public corpus, calibration half (even positions of each folder sorted by name);",
        f"  ham {int((y == 0).sum())} (easy-ham-1, easy-ham-2, hard-ham-1), spam {int(y.sum())} (spam-1, spam-2);",
        f"  L2-regularised logistic regression (lambda {L2}, standardised features), balanced classes;",
        "  spam-evidence features that came out negative were dropped (weight 0) and the model refitted",
        f"calibration_auc: {a:.4f}",
        f"bias: {b:.4f}",
        "calibration:",
        f"  tag_logit: {tag:.4f}    # {TAG_HAM_FP:.1%} of calibration ham above",
        f"  hold_logit: {hold:.4f}   # {HOLD_HAM_FP:.1%} of calibration ham above",
        "weights:",
    ]
    for n, wi in sorted(zip(names, w, strict=True), key=lambda t: -t[1]):
        lines.append(f"  {n}: {wi:.4f}")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"calibration half: {len(items)} messages, AUC {a:.4f}; tag logit {tag:.3f}, hold logit {hold:.3f}")
    print(f"spam caught at tag (calibration): {(spam >= tag).mean():.1%}; at hold: {(spam >= hold).mean():.1%}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
