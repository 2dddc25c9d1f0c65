#!/usr/bin/env python3
"""Experiment: does a mean of static word embeddings carry across spam corpora where words do not?

    PYTHONSAFEPATH=1 .venv/bin/python bench/spam_embed_experiment.py --vectors VECTORS.npz
        [--dims 128] [--weighting sif|mean|distinct] [--cache FILE] [--write-words FILE]

Needs numpy, scipy, scikit-learn and wordfreq (`pip install -e '.[bench]'`) and ../shared/corpora.
VECTORS.npz comes from bench/spam_embed_build.py (run in a separate virtualenv with torch and
sentence-transformers; `--write-words FILE` writes the word list it reads: the text model's
vocabulary, the only words the vectors are for).

For every training set of bench/spam_accuracy.py (each corpus alone against each other one, and
leave one corpus out) it fits, on the training corpora only:

* text: the shipped text model (bench/train_spam_model.py's fit, C and naive Bayes share chosen
  on the training side), its weights quantised as the file stores them; and `shipped`, its blend
  with the phrasing features, as the check reports it;
* emb: a logistic regression over a message's embedding, the weighted mean of its vocabulary
  words' vectors (PCA'd to --dims on the vocabulary, as model2vec does; SIF weights a/(a+p(w))
  from wordfreq by default), standardised, corpus- and class-balanced, C from EMB_C_GRID by the
  same held-out rule (whole training corpora held out, or folds of a single corpus);
* text+emb: text and emb log-odds, each divided by its held-out spread, added;
* shipped+emb: the shipped blend with emb as a third signal the same way (text, phrasing, emb
  each over its held-out spread, equal weight, one slope and intercept), the emb part shrunk for
  short texts like the text part; tag threshold from held-out training ham as shipped.

Prints ROC AUC per pair for each, ham false positives / spam recall at the tag threshold for
shipped and shipped+emb, the lowest pair and the lift of shipped+emb over shipped. Never fitted
on a test corpus, nor on TREC 2007 or CSDMC2010.

The README's rows: `--dims 384` on spam_embed_build.py's default vectors (a pass per word);
`--dims 256 --weighting mean` on its `--model2vec` vectors (model2vec's SIF weights are in them).
`--write-texts` / `--doc-vectors` compare whole messages through the transformer (not shippable:
an upper bound for what the static vectors could keep).
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spam_corpora import CORPORA, LABEL, Doc, Reader, find_corpora, load  # noqa: E402
from train_spam_model import (  # noqa: E402
    MIN_EVIDENCE,
    blend,
    choose_c,
    evidence,
    fit_blend,
    fit_text,
    ham_prior,
    held_out_groups,
    matrix,
    quantised_logits,
    sample_weights,
    shrunk,
    thresholds,
    vocabulary,
)

from outguard_plugins import spam_model  # noqa: E402

EMB_C_GRID = (0.001, 0.01, 0.1, 1.0)
SIF_A = 1e-3
Row = tuple[tuple[str, ...], str]


def training_sets() -> list[Row]:
    rows: list[Row] = [((tr,), te) for tr in CORPORA for te in CORPORA if te != tr]
    return rows + [(tuple(c for c in CORPORA if c != te), te) for te in CORPORA]


def word_weights(words: list[str], how: str) -> np.ndarray:
    """Per-word weight of the mean: SIF a/(a+p(w)) (frequent words say little), or 1."""
    if how != "sif":
        return np.ones(len(words))
    from wordfreq import word_frequency

    return np.array([SIF_A / (SIF_A + word_frequency(w, "en")) for w in words])


def pca(vectors: np.ndarray, dims: int, drop_top: int = 0) -> np.ndarray:
    """The vocabulary's vectors centred and projected on their `dims` main axes (model2vec's step),
    less the first `drop_top` of them ("all-but-the-top": the main axes carry word frequency, not meaning)."""
    centred = vectors - vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    dims = vectors.shape[1] if dims <= 0 else min(dims, vectors.shape[1])
    return centred @ vt[drop_top:dims].T


def token_matrix(docs: list[Doc], index: dict[str, int], distinct: bool) -> csr_matrix:
    """Rows: documents; columns: vocabulary words; values: occurrences (or 1) of the subject and body words."""
    indptr, indices, data = [0], [], []
    for d in docs:
        subject, body = spam_model.normalise(d.subject, d.body)
        counts: dict[int, int] = {}
        for t in subject + body:
            j = index.get(t)
            if j is not None:
                counts[j] = 1 if distinct else counts.get(j, 0) + 1
        indices.extend(counts)
        data.extend(counts.values())
        indptr.append(len(indices))
    return csr_matrix((np.array(data, dtype=np.float64), np.array(indices, dtype=np.int64), np.array(indptr)),
                      shape=(len(docs), len(index)))


def embed(tokens: csr_matrix, vectors: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each document's weighted mean of its known words' vectors; no known word: zeros."""
    wt = tokens.multiply(weights[None, :]).tocsr()
    total = np.asarray(wt.sum(axis=1)).ravel()
    return (wt @ vectors) / np.maximum(total, 1e-12)[:, None]


class Standard:
    """Standardise with the training side's mean and spread."""

    def __init__(self, e: np.ndarray) -> None:
        self.mu, self.sd = e.mean(axis=0), e.std(axis=0) + 1e-9

    def __call__(self, e: np.ndarray) -> np.ndarray:
        return (e - self.mu) / self.sd


def fit_emb(e: np.ndarray, y: np.ndarray, sw: np.ndarray, c: float) -> tuple[Standard, LogisticRegression]:
    st = Standard(e)
    lr = LogisticRegression(C=c, max_iter=2000)
    lr.fit(st(e), y, sample_weight=sw)
    return st, lr


def emb_logits(model: tuple[Standard, LogisticRegression], e: np.ndarray) -> np.ndarray:
    st, lr = model
    return lr.decision_function(st(e))


def train_emb(docs: list[Doc], e: np.ndarray) -> tuple[tuple[Standard, LogisticRegression], np.ndarray, float]:
    """The embedding regression with C chosen on held-out training groups, and its held-out log-odds."""
    y, sw, groups = np.array([d.label for d in docs]), sample_weights(docs), held_out_groups(docs)
    best: tuple[float, float, np.ndarray] | None = None
    for c in EMB_C_GRID:
        oof = np.zeros(len(y))
        for k in range(int(groups.max()) + 1):
            tr, te = groups != k, groups == k
            oof[te] = emb_logits(fit_emb(e[tr], y[tr], sw[tr], c), e[te])
        auc = float(np.mean([roc_auc_score(y[groups == k], oof[groups == k]) for k in range(int(groups.max()) + 1)]))
        if best is None or auc > best[0]:
            best = (auc, c, oof)
    assert best is not None
    return fit_emb(e, y, sw, best[1]), best[2], best[1]


def train_text(docs: list[Doc], x: csr_matrix) -> dict[str, Any]:
    """train_spam_model.train, keeping the held-out text log-odds for the blends here."""
    y, sw = np.array([d.label for d in docs]), sample_weights(docs)
    phrasing = np.array([d.phrasing_logit for d in docs])
    (c, nb), oof, _ = choose_c(docs, x, y, sw)
    prior = ham_prior(docs, oof)
    comb = fit_blend(shrunk(oof, evidence(x), prior), phrasing, y, sw)
    comb["text_prior_logit"] = prior
    comb["tag_logit"], comb["hold_logit"] = thresholds(docs, blend(comb, oof, phrasing, evidence(x)))
    w, b = fit_text(x, y, sw, c, nb)
    return {"w": w, "b": b, "comb": comb, "oof": oof, "C": c, "nb": nb}


def spread(v: np.ndarray) -> float:
    return float(np.std(v)) or 1.0


def fit_sum(parts: list[np.ndarray], y: np.ndarray, sw: np.ndarray) -> tuple[list[float], float]:
    """Signals over their spread, added with equal weight, one slope and intercept (as fit_blend)."""
    sds = [spread(p) for p in parts]
    lr = LogisticRegression(C=1.0)
    lr.fit(sum(p / s for p, s in zip(parts, sds, strict=True))[:, None], y, sample_weight=sw)
    slope = float(lr.coef_[0][0])
    return [slope / s for s in sds], float(lr.intercept_[0])


def at_tag(ham: np.ndarray, sp: np.ndarray, tag: float) -> tuple[float, float]:
    return float((ham >= tag).mean()), float((sp >= tag).mean())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpora", type=Path, default=None)
    ap.add_argument("--vectors", type=Path)
    ap.add_argument("--dims", type=int, default=128)
    ap.add_argument("--drop-top", type=int, default=0, help="main axes left out (all-but-the-top)")
    ap.add_argument("--weighting", choices=("sif", "mean", "distinct"), default="sif")
    ap.add_argument("--cache", type=Path, default=None, help="pickle of the documents and text models, reused if present")
    ap.add_argument("--write-words", type=Path, default=None, help="write the vocabulary (one word a line) and exit")
    ap.add_argument("--write-texts", type=Path, default=None,
                    help="write each document's text (JSON lines, for spam_embed_build.py --texts) and exit")
    ap.add_argument("--doc-vectors", type=Path, default=None,
                    help="whole-message transformer embeddings (spam_embed_build.py --texts): the upper bound, "
                         "not shippable, instead of the static word vectors")
    args = ap.parse_args(argv)
    words = list(vocabulary())
    if args.write_words:
        args.write_words.write_text("\n".join(words) + "\n", encoding="utf-8")
        print(f"{len(words)} words -> {args.write_words}")
        return 0
    if args.vectors is None and args.doc_vectors is None and args.write_texts is None:
        ap.error("--vectors is required (bench/spam_embed_build.py writes it)")
    cached: dict[str, Any] = {}
    if args.cache and args.cache.exists():
        cached = pickle.loads(args.cache.read_bytes())
    if "docs" not in cached:
        root = args.corpora or find_corpora()
        if root is None or not root.is_dir():
            print("shared corpora not found (../shared/corpora beside the checkout); skipping")
            return 0
        reader = Reader()
        cached["docs"] = {c: load(root, c, reader) for c in CORPORA}
    docs: dict[str, list[Doc]] = cached["docs"]
    xs = {c: matrix(ds) for c, ds in docs.items()}
    texts: dict[tuple[str, ...], dict[str, Any]] = cached.setdefault("texts", {})
    for tr, _ in training_sets():
        if tr not in texts:
            from scipy.sparse import vstack

            texts[tr] = train_text([d for c in tr for d in docs[c]], vstack([xs[c] for c in tr]).tocsr())
            print(f"  text model fitted on {' + '.join(tr)}", file=sys.stderr, flush=True)
    if args.cache:
        args.cache.write_bytes(pickle.dumps(cached))

    if args.write_texts:
        import json

        with args.write_texts.open("w", encoding="utf-8") as fh:
            for c in CORPORA:
                for d in docs[c]:
                    fh.write(json.dumps({"corpus": c, "name": d.name, "text": " ".join(sum(spam_model.normalise(
                        d.subject, d.body), []))[:2000]}) + "\n")
        print(f"texts -> {args.write_texts}")
        return 0
    if args.doc_vectors:
        dv = np.load(args.doc_vectors)
        rows = {(str(c), str(nm)): i for i, (c, nm) in enumerate(zip(dv["corpus"], dv["name"], strict=True))}
        es = {c: dv["vectors"][[rows[(c, d.name)] for d in ds]].astype(np.float64) for c, ds in docs.items()}
        print(f"embedding: whole messages through the transformer ({dv['vectors'].shape[1]} dims), upper bound")
    else:
        es = static_embeddings(args, docs, words)
    report(docs, xs, es, texts)
    return 0


def static_embeddings(args: argparse.Namespace, docs: dict[str, list[Doc]], words: list[str]) -> dict[str, np.ndarray]:
    """Each document's weighted mean of its vocabulary words' static vectors."""
    data = np.load(args.vectors)
    vwords = [str(w) for w in data["words"]]
    if vwords != words:
        raise SystemExit(f"{args.vectors}: its words are not the text model's vocabulary")
    vectors = pca(data["vectors"].astype(np.float64), args.dims, args.drop_top)
    weights = word_weights(words, args.weighting)
    index = {w: i for i, w in enumerate(words)}
    es = {c: embed(token_matrix(ds, index, args.weighting == "distinct"), vectors, weights) for c, ds in docs.items()}
    print(f"embedding: {vectors.shape[1]} dims of {data['vectors'].shape[1]} (first {args.drop_top} left out), "
          f"weighting {args.weighting}, "
          f"{len(words)} words; min_evidence {MIN_EVIDENCE}")
    return es


def report(docs: dict[str, list[Doc]], xs: dict[str, csr_matrix], es: dict[str, np.ndarray],
           texts: dict[tuple[str, ...], dict[str, Any]]) -> None:
    """The table: every training set's AUCs for the five scores, and the lifts."""
    names = ("text", "shipped", "emb", "text+emb", "shipped+emb")
    aucs: dict[str, dict[Row, float]] = {n: {} for n in names}
    print(f"\n  {'trained on':27} {'tested on':13} " + " ".join(f"{n:>11}" for n in names)
          + "   shipped hamFP/recall   +emb hamFP/recall   C_emb")
    for tr, te in training_sets():
        t = texts[tr]
        tr_docs = [d for c in tr for d in docs[c]]
        y_tr, sw = np.array([d.label for d in tr_docs]), sample_weights(tr_docs)
        phr_tr = np.array([d.phrasing_logit for d in tr_docs])
        x_tr = np.vstack([es[c] for c in tr])
        from scipy.sparse import vstack

        n_tr = evidence(vstack([xs[c] for c in tr]).tocsr())
        emodel, e_oof, c_emb = train_emb(tr_docs, x_tr)
        comb = t["comb"]
        e_prior = ham_prior(tr_docs, e_oof)
        text_oof_s = shrunk(t["oof"], n_tr, comb["text_prior_logit"])
        (a_t, a_e), b_te = fit_sum([t["oof"], e_oof], y_tr, sw)
        (w_t, w_p, w_e), b3 = fit_sum([text_oof_s, phr_tr, shrunk(e_oof, n_tr, e_prior)], y_tr, sw)
        tag3, _ = thresholds(tr_docs, b3 + w_t * text_oof_s + w_p * phr_tr + w_e * shrunk(e_oof, n_tr, e_prior))

        ds = docs[te]
        y = np.array([d.label for d in ds])
        n = evidence(xs[te])
        phr = np.array([d.phrasing_logit for d in ds])
        text = quantised_logits(xs[te], t["w"], t["b"])
        emb = emb_logits(emodel, es[te])
        s = {
            "text": text,
            "shipped": blend(comb, text, phr, n),
            "emb": emb,
            "text+emb": a_t * text + a_e * emb + b_te,
            "shipped+emb": b3 + w_t * shrunk(text, n, comb["text_prior_logit"]) + w_p * phr + w_e * shrunk(emb, n, e_prior),
        }
        for k in names:
            aucs[k][(tr, te)] = float(roc_auc_score(y, s[k]))
        fp0, r0 = at_tag(s["shipped"][y == 0], s["shipped"][y == 1], comb["tag_logit"])
        fp1, r1 = at_tag(s["shipped+emb"][y == 0], s["shipped+emb"][y == 1], tag3)
        print(f"  {' + '.join(LABEL[c] for c in tr):27} {LABEL[te]:13} "
              + " ".join(f"{aucs[k][(tr, te)]:11.3f}" for k in names)
              + f"   {fp0:6.2%} / {r0:5.1%}       {fp1:6.2%} / {r1:5.1%}    {c_emb:g}", flush=True)
    for k in ("shipped", "shipped+emb", "emb"):
        pairs = {r: v for r, v in aucs[k].items() if len(r[0]) == 1}
        print(f"\n  {k}: lowest single-corpus pair {min(pairs.values()):.3f}, "
              f"pairs >= 0.97: {sum(v >= 0.97 for v in pairs.values())} of {len(pairs)}")
    lift = {r: aucs["shipped+emb"][r] - aucs["shipped"][r] for r in aucs["shipped"]}
    print("\n  shipped+emb minus shipped: " + ", ".join(
        f"{'+'.join(LABEL[c][:2] for c in tr)}->{LABEL[te][:2]} {v:+.3f}" for (tr, te), v in lift.items()))


if __name__ == "__main__":
    sys.exit(main())
