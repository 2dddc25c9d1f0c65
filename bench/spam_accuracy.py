#!/usr/bin/env python3
"""Cross-corpus accuracy of the `spam` check: train on one or two corpora, test on another.

    PYTHONSAFEPATH=1 .venv/bin/python bench/spam_accuracy.py [--corpora DIR] [--quick]

Needs numpy, scipy and scikit-learn (`pip install -e '.[bench]'`) and ../shared/corpora
(SpamAssassin, Enron-Spam enron1, Ling-Spam bare); without the corpora it says so and exits 0.

A score fitted and tested on halves of one corpus says little about mail from senders it
never saw, so every row here tests on a corpus the model was not trained on. For each
training set (one corpus, or two) the text model, its blend with the phrasing features and
the thresholds are fitted by bench/train_spam_model.py's `train` on the training corpora
only, then applied to each other corpus with the weights quantised as the shipped file
stores them. Three scores per row:

* old: the phrasing features alone, as shipped (plugins/data/spam_weights.yaml, fitted by
  bench/train_spam_weights.py on the SpamAssassin calibration half whatever the row says, so
  rows testing on SpamAssassin are partly in-sample for it);
* text: the hashed word model alone, its tag threshold from the training corpora;
* shipped: the blend of the two that the check reports as `spam.phrasing`.

Columns: ROC AUC, ham false positives at the tag threshold (score >= 5), spam recall at tag;
for the shipped blend also at the hold threshold (score >= 8); and the text model's
regularisation C and naive Bayes share nb as chosen on the training side.
Then the leave-one-corpus-out table (train on two, test on the third); the every-pair AUC
matrix of the shipped blend (rows: trained on, columns: tested on); for every training set
the ham false positives on ../shared/corpora/business-email (3,000 Enron business mails that
no model trains on) at the tag threshold and at score 2.5 (where a `spam.phrasing` finding
appears at all), also for the shipped file itself (trained on all three, never on
business-email); and what the shipped weights file was trained on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spam_corpora import CORPORA, LABEL, Doc, Reader, find_corpora, load, load_business  # noqa: E402
from train_spam_model import blend, evidence, matrix, quantised_logits, train  # noqa: E402

from outguard_plugins import spam, spam_model  # noqa: E402

TAG = 5.0
FINDING = 2.5  # the check's default min_score: below it there is no finding at all
BUSINESS = "business"


def metrics(ham: np.ndarray, sp: np.ndarray, tag: float) -> tuple[float, float, float]:
    """(AUC, ham FP rate at tag, spam recall at tag)."""
    y = np.r_[np.zeros(len(ham)), np.ones(len(sp))]
    return float(roc_auc_score(y, np.r_[ham, sp])), float((ham >= tag).mean()), float((sp >= tag).mean())


def score_logit(comb: dict[str, float], score: float) -> float:
    """The shipped log-odds at which the check's score is `score` (5 = tag, 8 = hold)."""
    return comb["tag_logit"] + (score - 5.0) / 3.0 * (comb["hold_logit"] - comb["tag_logit"])


def read_phrasing(model: spam_model.TextModel, d: Doc) -> tuple[float, float, int]:
    """(text log-odds, phrasing log-odds, evidence) of a document as the check computes them."""
    text, n = model.read(d.subject, d.body)
    return text, d.phrasing_logit, n


def rows_for(train_on: tuple[str, ...], test_on: list[str], docs: dict[str, list[Doc]], xs: dict,
             aucs: dict[tuple[str, str], float], business: dict[str, tuple[float, float]]) -> list[str]:
    """Table lines for one training set; fills `aucs` (shipped blend per test corpus) and
    `business` (ham FP on business-email at tag and at 2.5) on the way."""
    from scipy.sparse import vstack

    tr_docs = [d for c in train_on for d in docs[c]]
    w, b, comb = train(tr_docs, vstack([xs[c] for c in train_on]).tocsr())
    old_model = spam.Model.load(spam.WEIGHTS_FILE)
    out = []
    for test in test_on:
        ds = docs[test]
        y = np.array([d.label for d in ds])
        phr = np.array([d.phrasing_logit for d in ds])
        text = quantised_logits(xs[test], w, b)
        scores = {
            "old": (np.array([old_model.score(v) for v in phr]), TAG),
            "text": (text, comb["text_tag_logit"]),
            "shipped": (blend(comb, text, phr, evidence(xs[test])), comb["tag_logit"]),
        }
        cells = []
        for name in ("old", "text", "shipped"):
            s, tag = scores[name]
            a, fp, rec = metrics(s[y == 0], s[y == 1], tag)
            cells.append(f"{a:6.3f} {fp:6.2%} {rec:6.1%}")
        shipped = scores["shipped"][0]
        aucs[(" + ".join(train_on), test)] = float(roc_auc_score(y, shipped))
        _, hold_fp, hold_rec = metrics(shipped[y == 0], shipped[y == 1], comb["hold_logit"])
        out.append(f"  {' + '.join(LABEL[c] for c in train_on):27} {LABEL[test]:13} " + " | ".join(cells)
                   + f" | {hold_fp:6.2%} {hold_rec:6.1%}   C={comb['C']:g} nb={comb.get('nb', 0):g}")
    if BUSINESS in docs:
        ds = docs[BUSINESS]
        b_logits = blend(comb, quantised_logits(xs[BUSINESS], w, b), np.array([d.phrasing_logit for d in ds]),
                         evidence(xs[BUSINESS]))
        business[" + ".join(train_on)] = (float((b_logits >= comb["tag_logit"]).mean()),
                                          float((b_logits >= score_logit(comb, FINDING)).mean()))
    return out


def header() -> list[str]:
    h = (f"  {'trained on':27} {'tested on':13} " + " | ".join(f"{n:^21}" for n in ("old", "text", "shipped"))
         + f" | {'shipped at hold':^13}")
    sub = (f"  {'':27} {'':13} " + " | ".join(f"{'AUC':>6} {'hamFP':>6} {'recall':>6}" for _ in range(3))
           + f" | {'hamFP':>6} {'recall':>6}")
    return [h, sub]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpora", type=Path, default=None)
    args = ap.parse_args(argv)
    root = args.corpora or find_corpora()
    if root is None or not root.is_dir():
        print("shared corpora not found (../shared/corpora beside the checkout); skipping the spam accuracy bench")
        return 0
    reader = Reader()
    docs = {c: load(root, c, reader) for c in CORPORA}
    if (root / "business-email").is_dir():
        docs[BUSINESS] = load_business(root, reader)
    xs = {c: matrix(ds) for c, ds in docs.items()}
    aucs: dict[tuple[str, str], float] = {}
    business: dict[str, tuple[float, float]] = {}
    for c in CORPORA:
        print(f"{LABEL[c]}: ham {sum(1 for d in docs[c] if not d.label)}, spam {sum(d.label for d in docs[c])}")
    print("\nCross-corpus, train on one, test on another (tag threshold = score 5, from the training side only)")
    print("\n".join(header()))
    for tr in CORPORA:
        for line in rows_for((tr,), [c for c in CORPORA if c != tr], docs, xs, aucs, business):
            print(line, flush=True)
    print("\nLeave one corpus out: train on two, test on the third")
    print("\n".join(header()))
    for test in CORPORA:
        for line in rows_for(tuple(c for c in CORPORA if c != test), [test], docs, xs, aucs, business):
            print(line, flush=True)
    print("\nEvery pair, shipped blend, ROC AUC (rows: trained on; columns: tested on; target >= 0.97 each)")
    print(f"  {'trained on':27} " + " ".join(f"{LABEL[c]:>13}" for c in CORPORA))
    for tr in dict.fromkeys(k for k, _ in aucs):
        print(f"  {' + '.join(LABEL[c] for c in tr.split(' + ')):27} "
              + " ".join(f"{aucs[(tr, c)]:13.3f}" if (tr, c) in aucs else f"{'-':>13}" for c in CORPORA))
    print(f"  lowest: {min(aucs.values()):.3f}; pairs at or above 0.97: {sum(v >= 0.97 for v in aucs.values())} of {len(aucs)}")
    if business:
        n = len(docs[BUSINESS])
        print(f"\nHeld-out ham: business-email ({n} Enron business mails, no model trained on them), shipped blend")
        print(f"  {'trained on':27} {'score >= 5 (tag)':>17} {'score >= 2.5':>13}")
        for tr, (at_tag, at_finding) in business.items():
            print(f"  {' + '.join(LABEL[c] for c in tr.split(' + ')):27} {at_tag:17.2%} {at_finding:13.2%}")
        shipped_model = spam_model.load_model()
        scores = np.array([shipped_model.score(shipped_model.combined_logit(*read_phrasing(shipped_model, d)))
                           for d in docs[BUSINESS]])
        print(f"  {'shipped file (all three)':27} {(scores >= TAG).mean():17.2%} {(scores >= FINDING).mean():13.2%}")
    shipped = spam_model.load_model()
    h = shipped.header
    print(f"\nShipped weights: {spam_model.MODEL_FILE.name} (text model and blend) trained {h.get('trained')} on "
          f"{', '.join(h.get('training_corpora', []))} ({h.get('training_messages')});")
    print(f"  {spam.WEIGHTS_FILE.name} (phrasing features) on the SpamAssassin calibration half (bench/train_spam_weights.py).")
    print("  No row above uses the shipped text model: each is refitted on its own training side.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
