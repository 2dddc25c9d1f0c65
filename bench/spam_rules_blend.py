#!/usr/bin/env python3
"""Exploration: does the SpamAssassin rules score add to the shipped blend across corpora?

    PYTHONSAFEPATH=1 .venv/bin/python bench/spam_rules_experiment.py --dump /tmp/rules.tsv
    PYTHONSAFEPATH=1 .venv/bin/python bench/spam_rules_blend.py --scores /tmp/rules.tsv [--corpora DIR]

For every training set of bench/spam_accuracy.py (one corpus, or two), the shipped blend
(text model + phrasing) is trained by train_spam_model.train on the training side only, then
each other corpus is scored with blend / s_b + k * rules / s_r, where s_b and s_r are the two
signals' spreads on the training side and k is fixed in advance (0 = today's blend). The rules
score is fitted on nothing, so each column is held-out for it; a k picked from this table would
be tuned on the tested corpora, so the table gives every k.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.sparse import vstack
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spam_corpora import CORPORA, LABEL, Reader, corpora_or_skip, load  # noqa: E402
from train_spam_model import blend, evidence, matrix, quantised_logits, train  # noqa: E402

K = (0.0, 0.25, 0.5, 1.0)


def read_scores(path: Path) -> dict[tuple[str, str], float]:
    """(corpus, name) -> rules score, from spam_rules_experiment.py --dump."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        corpus, name, _, score, _ = line.split("\t")
        out[(corpus, name)] = float(score)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scores", type=Path, required=True, help="the TSV of spam_rules_experiment.py --dump")
    ap.add_argument("--corpora", type=Path, default=None)
    args = ap.parse_args(argv)
    root = corpora_or_skip(args.corpora, "the rules blend bench")
    if root is None:
        return 0
    scores = read_scores(args.scores)
    reader = Reader()
    docs = {c: load(root, c, reader) for c in CORPORA}
    xs = {c: matrix(docs[c]) for c in CORPORA}
    rules = {c: np.array([scores[(c, d.name)] for d in docs[c]]) for c in CORPORA}
    labels = {c: np.array([d.label for d in docs[c]]) for c in CORPORA}
    print("rules score alone, ROC AUC: " + ", ".join(f"{LABEL[c]} {roc_auc_score(labels[c], rules[c]):.3f}" for c in CORPORA))
    print(f"  {'trained on':27} {'tested on':13} " + " ".join(f"{'k=' + str(k):>7}" for k in K))
    for tr in [(c,) for c in CORPORA] + [tuple(x for x in CORPORA if x != t) for t in CORPORA]:
        w, b, comb = train([d for c in tr for d in docs[c]], vstack([xs[c] for c in tr]).tocsr())

        def shipped(c: str, w: np.ndarray = w, b: float = b, comb: dict[str, float] = comb) -> np.ndarray:
            phrasing = np.array([d.phrasing_logit for d in docs[c]])
            return blend(comb, quantised_logits(xs[c], w, b), phrasing, evidence(xs[c]))

        s_b = float(np.concatenate([shipped(c) for c in tr]).std()) or 1.0
        s_r = float(np.concatenate([rules[c] for c in tr]).std()) or 1.0
        for te in (c for c in CORPORA if c not in tr):
            base = shipped(te)
            cells = [roc_auc_score(labels[te], base / s_b + k * rules[te] / s_r) for k in K]
            print(f"  {' + '.join(LABEL[c] for c in tr):27} {LABEL[te]:13} " + " ".join(f"{a:7.3f}" for a in cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
