#!/usr/bin/env python3
"""Train the text model of the `spam` check and write plugins/data/spam_text_model.bin.

    PYTHONSAFEPATH=1 .venv/bin/python bench/train_spam_model.py [--train spamassassin,enron,lingspam]
                                                                [--corpora DIR] [--out FILE]

Needs numpy, scipy and scikit-learn (dev tools: `pip install -e '.[bench]'`); the runtime
reads the file with the standard library only (outguard_plugins.spam_model).

What it fits, on the corpora named by --train (default all three: every message of the
SpamAssassin public corpus, Enron-Spam enron1 and Ling-Spam bare):

1. the text model: an L2-regularised logistic regression (liblinear) over the hashed,
   binary word, word-pair and subject-word features of spam_model.hashed, divided by
   sqrt(max(n, MIN_EVIDENCE)) as the runtime does, counting only the words of `vocabulary()`
   (the VOCABULARY most frequent words of general English, wordfreq; stored in the file):
   a corpus's own names, codes and jargon separate its ham from its spam and nothing else,
   plus a share (NB_GRID) of the naive Bayes log-count ratios of the same features (fit_texts),
   each corpus weighted equally and ham and spam weighted equally within it, so the
   largest corpus or class does not decide alone; its regularisation and naive Bayes share are
   the pair of C_GRID x NB_GRID with the best mean AUC on held-out training data (whole corpora
   held out, see 2);
2. the blend with the phrasing features (the shipped score): the text model's and the phrasing
   model's log-odds, each divided by its spread and added with equal weight, one slope and
   intercept fitted (fit_blend says why not one weight per signal), on held-out text log-odds:
   with two or more training corpora each corpus is predicted by a text model fitted on the
   others (leave one corpus out, inside the training set), so the blend and the thresholds
   see the text model as it behaves on senders it never saw, which is how it meets live
   mail; with one corpus, K-fold out-of-fold log-odds; the text log-odds of a text with fewer
   than MIN_EVIDENCE features are shrunk toward `text_prior_logit`, the median of the training
   corpora's held-out ham text medians (spam_model.shrink), before the blend is fitted, so a
   two-word note's text part reads like typical mail, not like the model's intercept (the
   phrasing part is not shrunk: a near-empty spam is still spam);
3. the calibration: the blended held-out log-odds of the training ham, per training corpus;
   the tag threshold (score 5) is the highest of the corpora's 99.5 % quantiles and the hold
   threshold (score 8) the highest held-out ham score of all, so on each training corpus at
   most 0.5 % of ham is tagged and none is held. (The top of held-out ham is shop and travel
   newsletters, the mail an outgoing relay's users send: a 99.9 % quantile, 2-4 messages of
   a corpus, would hold the next such newsletter.) Nothing of any test corpus is used.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spam_corpora import CORPORA, LABEL, Doc, Reader, find_corpora, load  # noqa: E402

from outguard_plugins import spam_model  # noqa: E402

VOCABULARY = 30_000  # wordfreq's most frequent English words kept as features (15k-80k measured alike)

BITS = 20
C_GRID = (16.0, 64.0, 256.0)  # inverse L2 strengths tried; train() keeps the best on held-out training data
NB_GRID = (0.0, 1.0, 2.0)  # shares of naive Bayes ratios added to the regression's weights (fit_texts); chosen likewise
FOLDS = 4
TAG_HAM_FP = 0.005
HOLD_HAM_FP = 0.0  # hold at the highest held-out training ham
SEED = 13
MIN_EVIDENCE = 40  # distinct features of a message of a few lines; fewer count as less evidence


@cache
def vocabulary(size: int = VOCABULARY) -> tuple[str, ...]:
    """The `size` most frequent words of general English (wordfreq) that may be vocabulary words
    (letters only, one token): the only words the model counts."""
    from wordfreq import top_n_list

    return tuple(w for w in top_n_list("en", size) if spam_model.vocabulary_word(w))


@cache
def vocab_buckets(size: int = VOCABULARY, bits: int = BITS) -> spam_model.Vocabulary:
    return spam_model.Vocabulary.of(vocabulary(size), bits)


def matrix(docs: list[Doc], bits: int = BITS) -> csr_matrix:
    """The model's features as a sparse matrix: exactly what TextModel.logit sums at run time."""
    indptr, indices, data = [0], [], []
    vocab = vocab_buckets(bits=bits)
    for d in docs:
        idx = spam_model.hashed(*spam_model.normalise(d.subject, d.body), bits, vocab)
        indices.extend(idx)
        data.extend([1.0 / np.sqrt(max(len(idx), MIN_EVIDENCE))] * len(idx))
        indptr.append(len(indices))
    return csr_matrix((np.array(data), np.array(indices), np.array(indptr)), shape=(len(docs), 1 << bits))


def sample_weights(docs: list[Doc]) -> np.ndarray:
    """Each (corpus, class) cell weighs the same in total."""
    cells: dict[tuple[str, int], int] = {}
    for d in docs:
        cells[(d.corpus, d.label)] = cells.get((d.corpus, d.label), 0) + 1
    w = np.array([len(docs) / (len(cells) * cells[(d.corpus, d.label)]) for d in docs])
    return w


def nb_ratios(x: csr_matrix, y: np.ndarray, sw: np.ndarray) -> np.ndarray:
    """Naive Bayes log-count ratios of the features: log P(feature | spam) - log P(feature | ham)
    over the (weighted) presence counts, add-one smoothed."""
    present = (x > 0).astype(np.float64)
    spam = 1.0 + present.T @ (sw * (y == 1))
    ham = 1.0 + present.T @ (sw * (y == 0))
    return np.log(spam / spam.sum()) - np.log(ham / ham.sum())


def fit_texts(x: csr_matrix, y: np.ndarray, sw: np.ndarray, c: float,
              nb_weights: tuple[float, ...]) -> dict[float, tuple[np.ndarray, float]]:
    """The text model's weights and bias for each naive Bayes share of `nb_weights`: the logistic
    regression's weights plus that share of the naive Bayes ratios, scaled to the same spread over
    the training messages. Both are linear in the same features, so the sum is one weight per
    bucket and the runtime does not change. The regression alone weighs a feature by how much it
    adds to the others on the training corpus; naive Bayes by how much more often it is in spam,
    which holds up better on other senders (the bench's every-pair table)."""
    lr = LogisticRegression(C=c, solver="liblinear", max_iter=200)
    lr.fit(x, y, sample_weight=sw)
    w, b = lr.coef_[0].astype(np.float64), float(lr.intercept_[0])
    out = {0.0: (w, b)}
    if any(nb_weights):
        r = nb_ratios(x, y, sw)
        spread = float(np.std(x @ w)) / (float(np.std(x @ r)) or 1.0)
        out.update({a: (w + a * spread * r, b) for a in nb_weights if a})
    return out


def fit_text(x: csr_matrix, y: np.ndarray, sw: np.ndarray, c: float, nb: float = 0.0) -> tuple[np.ndarray, float]:
    return fit_texts(x, y, sw, c, (nb,))[nb]


def folds(docs: list[Doc], k: int = FOLDS) -> np.ndarray:
    """A fold number per document, stratified by corpus and class, deterministic."""
    rng = np.random.default_rng(SEED)
    out = np.zeros(len(docs), dtype=int)
    cells: dict[tuple[str, int], list[int]] = {}
    for i, d in enumerate(docs):
        cells.setdefault((d.corpus, d.label), []).append(i)
    for members in cells.values():
        order = rng.permutation(len(members))
        for rank, j in enumerate(order):
            out[members[j]] = rank % k
    return out


def quantised_logits(x: csr_matrix, w: np.ndarray, b: float) -> np.ndarray:
    """Log-odds with the weights as the runtime reads them back from the file (int8 codes)."""
    q, scale = spam_model.quantise(w.tolist())
    table = np.array([spam_model.dequantise(v, scale) for v in range(-128, 128)])
    wq = table[np.frombuffer(q.tobytes(), dtype=np.int8).astype(int) + 128]
    return x @ wq + b


def held_out_groups(docs: list[Doc]) -> np.ndarray:
    """Which documents are held out together: whole corpora when there are two or more (how
    the model meets senders it never saw), else stratified folds of the one corpus."""
    corpora = list(dict.fromkeys(d.corpus for d in docs))
    if len(corpora) >= 2:
        return np.array([corpora.index(d.corpus) for d in docs])
    return folds(docs)


def out_of_fold(x: csr_matrix, y: np.ndarray, sw: np.ndarray, groups: np.ndarray, c: float,
                nb_weights: tuple[float, ...] = (0.0,)) -> dict[float, np.ndarray]:
    """Text log-odds of each training document from a model fitted without its group, per naive Bayes share."""
    oof = {a: np.zeros(len(y)) for a in nb_weights}
    for k in range(int(groups.max()) + 1):
        tr, te = groups != k, groups == k
        for a, (w, b) in fit_texts(x[tr], y[tr], sw[tr], c, nb_weights).items():
            if a in oof:
                oof[a][te] = x[te] @ w + b
    return oof


def choose_c(docs: list[Doc], x: csr_matrix, y: np.ndarray, sw: np.ndarray) \
        -> tuple[tuple[float, float], np.ndarray, dict[str, float]]:
    """The (regularisation, naive Bayes share) with the best mean held-out AUC (groups as in
    held_out_groups), its held-out log-odds, and every candidate's AUC: chosen on the training
    corpora alone."""
    groups = held_out_groups(docs)
    best: tuple[float, tuple[float, float], np.ndarray] | None = None
    tried: dict[str, float] = {}
    for c in C_GRID:
        for a, oof in out_of_fold(x, y, sw, groups, c, NB_GRID).items():
            aucs = [roc_auc_score(y[groups == k], oof[groups == k]) for k in range(int(groups.max()) + 1)]
            key = f"{c:g}_nb{a:g}"
            tried[key] = round(float(np.mean(aucs)), 4)
            if best is None or tried[key] > best[0]:
                best = (tried[key], (c, a), oof)
    assert best is not None
    return best[1], best[2], tried


def fit_blend(text: np.ndarray, phrasing: np.ndarray, y: np.ndarray, sw: np.ndarray) -> dict[str, float]:
    """Both signals divided by their spread on the training side and added with equal weight, then
    one slope and intercept fitted so the sum reads as log-odds. Weights learned per signal would
    trust whichever looks best on the training side: on one corpus's own folds that is the text
    model, which carries over to other senders far less well than it separates its own corpus."""
    spread_text, spread_phrasing = float(np.std(text)) or 1.0, float(np.std(phrasing)) or 1.0
    lr = LogisticRegression(C=1.0, solver="lbfgs")
    lr.fit((text / spread_text + phrasing / spread_phrasing)[:, None], y, sample_weight=sw)
    slope = float(lr.coef_[0][0])
    return {"text": slope / spread_text, "phrasing": slope / spread_phrasing, "bias": float(lr.intercept_[0])}


def evidence(x: csr_matrix) -> np.ndarray:
    """Distinct features per message (the rows of `matrix`), what TextModel.read counts."""
    return np.diff(x.indptr)


def shrunk(text: np.ndarray, n: np.ndarray | None, prior: float | None) -> np.ndarray:
    """Text log-odds shrunk toward `prior` under MIN_EVIDENCE features, as spam_model.shrink does."""
    if n is None or prior is None:
        return text
    return prior + (text - prior) * np.minimum(1.0, n / MIN_EVIDENCE)


def blend(c: dict[str, float], text: np.ndarray, phrasing: np.ndarray, n: np.ndarray | None = None) -> np.ndarray:
    """The shipped log-odds; with `n` (evidence per message) the text part shrunk as the runtime does."""
    return c["bias"] + c["text"] * shrunk(text, n, c.get("text_prior_logit")) + c["phrasing"] * phrasing


def ham_prior(docs: list[Doc], logits: np.ndarray) -> float:
    """The median of the training corpora's ham medians: typical mail, whichever corpus."""
    return float(np.median([np.median(logits[[d.corpus == c and d.label == 0 for d in docs]])
                            for c in dict.fromkeys(d.corpus for d in docs)]))


def thresholds(docs: list[Doc], logits: np.ndarray) -> tuple[float, float]:
    """(tag, hold) log-odds: the highest per-corpus ham quantile, so every training corpus keeps its FP target."""
    tag = hold = -np.inf
    for corpus in dict.fromkeys(d.corpus for d in docs):
        ham = logits[[d.corpus == corpus and d.label == 0 for d in docs]]
        tag = max(tag, float(np.quantile(ham, 1 - TAG_HAM_FP)))
        hold = max(hold, float(np.quantile(ham, 1 - HOLD_HAM_FP)))
    return tag, max(hold, tag + 1e-3)


def train(docs: list[Doc], x: csr_matrix | None = None) -> tuple[np.ndarray, float, dict[str, float]]:
    """Text weights, bias, and the blend and calibration of the shipped score (keys of `combine`);
    `x` is matrix(docs) when the caller has it already."""
    x = matrix(docs) if x is None else x
    y = np.array([d.label for d in docs])
    sw = sample_weights(docs)
    phrasing = np.array([d.phrasing_logit for d in docs])
    (c, nb), oof, tried = choose_c(docs, x, y, sw)
    prior = ham_prior(docs, oof)
    combine = fit_blend(shrunk(oof, evidence(x), prior), phrasing, y, sw)
    combine["text_prior_logit"] = prior
    text_tag, text_hold = thresholds(docs, oof)
    tag, hold = thresholds(docs, blend(combine, oof, phrasing, evidence(x)))
    combine.update(tag_logit=tag, hold_logit=hold, text_tag_logit=text_tag, text_hold_logit=text_hold, C=c, nb=nb)
    combine.update({f"held_out_auc_C{k}": v for k, v in tried.items()})
    w, b = fit_text(x, y, sw, c, nb)
    return w, b, combine


def write(out: Path, docs: list[Doc]) -> tuple[np.ndarray, dict[str, Any]]:
    """Train on `docs` and write the model file; (the float weights, the header as written)."""
    names = list(dict.fromkeys(d.corpus for d in docs))
    w, b, combine = train(docs)
    header = {
        "trained": datetime.now(UTC).strftime("%Y-%m-%d"),
        "training_corpora": [LABEL.get(c, c) for c in names],
        "training_messages": {LABEL.get(c, c): {"ham": sum(1 for d in docs if d.corpus == c and not d.label),
                                                "spam": sum(1 for d in docs if d.corpus == c and d.label)} for c in names},
        "features": ("binary crc32-hashed body words, body word pairs, subject words (also as body words); "
                     f"numbers dropped; only the {VOCABULARY} most frequent English words of wordfreq "
                     f"(those read as one token); divided by sqrt(max(n, {MIN_EVIDENCE}))"),
        "min_evidence": MIN_EVIDENCE,
        "model": (f"logistic regression, liblinear, L2, C={combine['C']:g} (of {C_GRID}), corpus- and class-balanced, "
                  f"plus {combine['nb']:g} (of {NB_GRID}) x the naive Bayes log-count ratios at the same spread"),
        "combine": combine,
        "combine_note": ("blend fitted on leave-one-training-corpus-out text log-odds, under min_evidence features "
                         "shrunk toward text_prior_logit (median of the corpora's held-out ham text medians); tag = highest "
                         f"per-corpus {1 - TAG_HAM_FP:.1%} quantile of held-out training ham, hold = highest held-out "
                         "training ham"),
    }
    return w, spam_model.write_model(out, w.tolist(), b, BITS, header, vocabulary())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpora", type=Path, default=None, help="the shared corpora folder (default: found beside the checkout)")
    ap.add_argument("--train", default=",".join(CORPORA), help=f"comma-separated, of {', '.join(CORPORA)}")
    ap.add_argument("--out", type=Path, default=spam_model.MODEL_FILE)
    args = ap.parse_args(argv)
    root = args.corpora or find_corpora()
    if root is None or not root.is_dir():
        print("shared corpora not found (../shared/corpora beside the checkout); nothing trained")
        return 0
    names = [c for c in args.train.split(",") if c]
    if unknown := set(names) - set(CORPORA):
        ap.error(f"unknown corpora: {', '.join(sorted(unknown))}")
    reader = Reader()
    docs = [d for c in names for d in load(root, c, reader)]
    w, full = write(args.out, docs)
    print(f"trained on {', '.join(full['training_corpora'])}: {len(docs)} messages, {int((w != 0).sum())} non-zero weights")
    print(f"blend and calibration: {full['combine']}")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
