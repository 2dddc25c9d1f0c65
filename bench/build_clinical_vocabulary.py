#!/usr/bin/env python3
"""Build `plugins/phi/clinical_vocabulary.txt`: per-word log-odds of clinical prose against mail.

    PYTHONSAFEPATH=1 .venv/bin/python bench/build_clinical_vocabulary.py [--corpora DIR] [--check]

Learned ONLY from the TUNE split of bench/phi_accuracy.py: the even-index MTSamples notes
(clinical side) against Enron `kaminski-v` and SpamAssassin `easy-ham-1` (mail side), with
wordfreq's general-English frequency as a floor for the mail side (a word rare in 3,500 mails
but common in English, "warranty", is not clinical). A word is kept when it stands in at least
`MIN_NOTES` distinct tune notes (so a note's own proper nouns are not learned) and is at
least e^MIN_LOGODDS times as frequent in clinical prose as in mail / English. The weight is the
log-odds, capped. `--check` prints, per split, how many 2-4 sentence windows of clinical notes
and of mail reach the vocabulary's threshold (read split only checked, never tuned on).

`--model` builds `plugins/phi/clinical_model.txt` instead (narrative.py): a logistic regression
over narrative.features of one- and two-sentence windows, tune notes against tune mail and the
even presidio-research groups (features in at least MIN_NOTES documents). Its threshold is set
by FOLDS-fold cross-validation inside the tune split (folds by document): MODEL_MARGIN above the
highest out-of-fold score of any short tune negative, so no tune mail reads as clinical; the
header states that and the out-of-fold recall on tune excerpts (read split: aggregate only).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import math
import os
import random
import re
import sys
from collections import Counter
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_CORPORA = Path(os.environ.get("OUTGUARD_CORPORA") or PROJECT.parent / "shared" / "corpora")
OUT = PROJECT / "plugins" / "phi" / "clinical_vocabulary.txt"
MIN_NOTES = 3          # distinct tune notes a word must stand in
MIN_LOGODDS = 2.0      # e^2.5 = 12x as frequent in clinical prose as in mail / general English
PAIRS = True          # learn word pairs too
PAIR_MARGIN = 2.0     # a pair needs e^1 more than a word (pairs are many: more chance hits)
CAP = 6.0              # weight cap: one word never decides alone
WORD = re.compile(r"[a-z][a-z\-']*[a-z]")
_VOWEL = re.compile(r"[aeiou]")
HEADING = re.compile(r"\b([A-Z][A-Z/&\-]+(?: [A-Z/&\-]+){0,3}):")   # "PREOPERATIVE DIAGNOSIS:", "HEENT:"


def mail_text(raw: bytes) -> str:
    """The text/plain parts of a message (what the PHI check reads of ordinary mail)."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    parts = []
    for part in msg.walk():
        if part.get_content_type() in ("text/plain", "text/html") and not part.is_multipart():
            payload = part.get_payload(decode=True) or b""
            text = payload.decode("latin-1", "replace")
            if part.get_content_type() == "text/html":
                text = re.sub(r"<[^>]*>", " ", text)
            parts.append(text)
    return "\n".join(parts)


def notes(corpora: Path, split: str) -> list[str]:
    """MTSamples notes of one split as phi_accuracy.py makes them: tune = even index; read = odd
    index whose sha256(id) starts with an odd byte (the held half is never loaded here)."""
    sys.path.insert(0, str(PROJECT / "bench"))
    from phi_accuracy import clean_note, held_note

    rows = [json.loads(line) for line in (corpora / "clinical-text" / "mtsamples-en.jsonl").read_text().splitlines() if line]
    out = []
    for i, row in enumerate(rows):
        if split == "tune" and i % 2 == 0:
            out.append(clean_note(row["transcription"]))
        elif split == "read" and i % 2 == 1 and not held_note(row["id"]):
            out.append(clean_note(row["transcription"]))
    return out


def mails(corpora: Path, split: str) -> dict[str, list[str]]:
    """Mail texts per source: tune = kaminski-v + easy-ham-1; read = lokay-m, williams-w3, easy-ham-2, hard-ham-1."""
    enron = ["kaminski-v"] if split == "tune" else ["lokay-m", "williams-w3"]
    ham = ["easy-ham-1"] if split == "tune" else ["easy-ham-2", "hard-ham-1"]
    out: dict[str, list[str]] = {}
    for box in enron:
        out[box] = [mail_text(p.read_bytes()) for p in sorted((corpora / "business-email" / "messages" / box).iterdir())]
    for folder in ham:
        paths = sorted((corpora / "spamassassin" / folder).iterdir())
        out[folder] = [mail_text(p.read_bytes().split(b"\n", 1)[1]) for p in paths]
    return out


def build(corpora: Path) -> dict[str, float]:
    """word -> log-odds, and "HEADING:" -> CAP for capitalised section headings of at least
    MIN_NOTES tune notes that no tune mail holds."""
    from wordfreq import word_frequency

    clin_notes = notes(corpora, "tune")
    clin: Counter[str] = Counter()
    clin_df: Counter[str] = Counter()
    heads: Counter[str] = Counter()
    for note in clin_notes:
        words = WORD.findall(note.lower())
        pairs = pairs_of(note)
        clin.update(words + pairs)
        clin_df.update(set(words + pairs))
        heads.update(set(HEADING.findall(note)))
    mail: Counter[str] = Counter()
    mail_heads: Counter[str] = Counter()
    for texts in mails(corpora, "tune").values():
        for text in texts:
            mail.update(WORD.findall(text.lower()) + pairs_of(text))
            mail_heads.update(set(HEADING.findall(text)))
    def total(counts: Counter[str], pairs: bool) -> int:
        return sum(n for w, n in counts.items() if (" " in w) == pairs)

    totals = {pairs: (total(clin, pairs), total(mail, pairs)) for pairs in (False, True)}
    vocab: dict[str, float] = {}
    for word, count in sorted(clin.items(), key=lambda kv: " " in kv[0]):   # words first, then pairs
        if clin_df[word] < MIN_NOTES or len(word) < 3 or not all(_VOWEL.search(w) for w in word.split()):
            continue   # too rare in the notes, or a placeholder ("dd yyyy", "xx")
        n_clin, n_mail = totals[" " in word]
        if " " in word and (any(w in vocab for w in word.split()) or not PAIRS):
            continue   # a pair only where neither word is clinical alone ("middle ear", "sterile fashion")
        p_clin = count / n_clin
        general = 0.0 if " " in word else word_frequency(word, "en")   # wordfreq has no pair frequencies
        p_mail = max((mail[word] + 0.5) / n_mail, general, 1e-8)
        odds = math.log(p_clin / p_mail)
        if odds >= MIN_LOGODDS + (PAIR_MARGIN if " " in word else 0):
            vocab[word] = round(min(odds, CAP), 2)
    for head, n in heads.items():
        if n >= MIN_NOTES and not mail_heads[head] and len(head) >= 2:
            vocab[head + ":"] = CAP
    return vocab


def pairs_of(text: str) -> list[str]:
    """Adjacent word pairs within each sentence, as vocabulary.py reads them."""
    from outguard_plugins.phi.vocabulary import _SENTENCE

    out = []
    for sentence in _SENTENCE.split(text.lower()):
        words = WORD.findall(sentence)
        out += [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    return out


def windows(text: str, rng: random.Random, k: int) -> list[str]:
    """k random windows of 2-4 consecutive sentences (the size of one clinical statement or two)."""
    sents = [s for s in re.split(r"(?<=[.!?])\s+|\n\s*\n", text) if s.strip()]
    if not sents:
        return []
    out = []
    for _ in range(k):
        n = rng.randint(2, 4)
        i = rng.randrange(max(1, len(sents) - n + 1))
        out.append(" ".join(sents[i:i + n]))
    return out


def check(corpora: Path) -> None:
    """Share of 2-4 sentence windows scoring health context >= 0.8 (whole lexicon + vocabulary)."""
    from outguard_plugins.phi import context

    lex = context.load_lexicon()
    for split in ("tune", "read"):
        rng = random.Random(f"vocab-check-{split}")
        wins = [w for note in notes(corpora, split) for w in windows(note, rng, 5)]
        hit = sum(context.scan(w, lex).confidence() >= 0.8 for w in wins)
        print(f"clinical {split:4} windows: {hit}/{len(wins)} = {hit / len(wins):.3f} health context >= 0.8")
        for source, texts in mails(corpora, split).items():
            full = sum(context.scan(t, lex).confidence() >= 0.8 for t in texts)
            print(f"  mail {split:4} {source:12} whole messages >= 0.8: {full}/{len(texts)}")


FOLDS = 5
MODEL_C = 1.0          # inverse L2 strength of the logistic regression
MODEL_MARGIN = 0.5     # log-odds the thresholds stand above the highest out-of-fold / out-of-source tune negative
MODEL_PRUNE = 0.02     # weights smaller than this are not shipped
MODEL_OUT = PROJECT / "plugins" / "phi" / "clinical_model.txt"


def presidio_groups(corpora: Path, split: str) -> list[str]:
    """presidio-research sentences four to a text as phi_accuracy.py groups them (tune: even groups)."""
    data = json.loads((corpora / "pii-presidio-research" / "synth_dataset_v2.json").read_text())
    want = 0 if split == "tune" else 1
    return ["\n\n".join(x["full_text"] for x in data[i:i + 4]) for i in range(0, len(data) - 3, 4) if (i // 4) % 2 == want]


def model_windows(text: str) -> list[set[str]]:
    """narrative.features of each one- and two-sentence window of a text (as the model is trained)."""
    from outguard_plugins.phi import narrative

    pieces = []
    for sentence in narrative._SENTENCE.split(text):
        words = sentence.split()
        for i in range(0, len(words), narrative.MAX_WORDS):
            f = narrative.features(" ".join(words[i:i + narrative.MAX_WORDS]))
            if f:
                pieces.append(f)
    return pieces + [a | b for a, b in zip(pieces, pieces[1:], strict=False)]


def fit(pos: list[list[set[str]]], neg: list[list[set[str]]]) -> tuple[dict[str, float], float]:
    """A balanced logistic regression of positive against negative documents' windows, over the
    features that stand in at least MIN_NOTES documents."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    df: Counter[str] = Counter()
    for doc in pos + neg:
        df.update(set().union(*doc) if doc else set())
    keep = {f for f, n in df.items() if n >= MIN_NOTES}
    rows = [dict.fromkeys(w & keep, 1) for doc in pos for w in doc] + [dict.fromkeys(w & keep, 1) for doc in neg for w in doc]
    y = [1] * sum(len(d) for d in pos) + [0] * sum(len(d) for d in neg)
    vec = DictVectorizer()
    clf = LogisticRegression(C=MODEL_C, max_iter=500, class_weight="balanced", solver="liblinear", random_state=0)
    x = vec.fit_transform(rows).tocsr()
    x.indices, x.indptr = x.indices.astype("int32"), x.indptr.astype("int32")   # liblinear takes 32-bit indices
    clf.fit(x, y)
    return dict(zip(vec.get_feature_names_out(), clf.coef_[0], strict=True)), float(clf.intercept_[0])


def excerpts(notes_: list[str], seed: str, k: int = 4) -> list[tuple[int, str]]:
    """k excerpts of 2-4 sentences per note, as phi_accuracy.py cuts them (note index, text)."""
    sys.path.insert(0, str(PROJECT / "bench"))
    from phi_accuracy import sentence_excerpt

    rng = random.Random(seed)
    return [(i, sentence_excerpt(rng, n)) for i, n in enumerate(notes_) for _ in range(k)]


def planted(texts: list[str], seed: str, clinical: bool) -> list[str]:
    """Each text with what stands beside it in a message the rules weigh: a patient identifier line
    before an excerpt, a business look-alike number (invoice, member ID...) after a mail."""
    sys.path.insert(0, str(PROJECT / "bench"))
    from phi_accuracy import PLANT_KINDS, lookalike, planted_identifier

    rng = random.Random(seed)
    if clinical:
        return [planted_identifier(rng, rng.choice(PLANT_KINDS), "Jane Roe") + "\n" + t for t in texts]
    return [t.rstrip() + "\n\n" + lookalike(rng)[0] for t in texts]


def build_model(corpora: Path) -> list[str]:
    """Train on the tune split, set the thresholds out of fold and out of source, return the model file's lines."""
    from outguard_plugins.phi import narrative

    clin_notes = notes(corpora, "tune")
    sources = {**mails(corpora, "tune"), "presidio": presidio_groups(corpora, "tune")}
    negs = [t for texts in sources.values() for t in texts]
    source_of = [name for name, texts in sources.items() for _ in texts]
    pos = [model_windows(n) for n in clin_notes]
    neg = [model_windows(t) for t in negs]
    rng = random.Random("clinical-model-folds")
    pfold = [i % FOLDS for i in range(len(pos))]
    nfold = [i % FOLDS for i in range(len(neg))]
    rng.shuffle(pfold)
    rng.shuffle(nfold)
    exc = excerpts(clin_notes, "clinical-model-excerpts")
    exc = list(zip([i for i, _ in exc], planted([t for _, t in exc], "clinical-model-ids", True), strict=True))
    tests = planted(negs, "clinical-model-lookalikes", False)
    exc_scores: list[tuple[float, bool] | None] = [None] * len(exc)
    neg_scores: list[tuple[float, bool]] = []
    for k in range(FOLDS):   # out of fold: notes and mails of fold k unseen
        weights, bias = fit([d for d, f in zip(pos, pfold, strict=True) if f != k],
                            [d for d, f in zip(neg, nfold, strict=True) if f != k])
        for j, (i, text) in enumerate(exc):
            if pfold[i] == k:
                exc_scores[j] = narrative.read(text, weights, bias)
        neg_scores += [s for t, f in zip(tests, nfold, strict=True) if f == k and (s := narrative.read(t, weights, bias))]
        print(f"fold {k}: {len(weights)} features; highest negative so far {max(s for s, _ in neg_scores):.2f}", flush=True)
    for name in sources:     # out of source: the whole mailbox unseen
        weights, bias = fit(pos, [d for d, src in zip(neg, source_of, strict=True) if src != name])
        out = [s for t, src in zip(tests, source_of, strict=True) if src == name and (s := narrative.read(t, weights, bias))]
        neg_scores += out
        print(f"without {name}: {len(weights)} features; its highest score {max(s for s, _ in out):.2f} (anchored "
              f"{max((s for s, a in out if a), default=-99):.2f})", flush=True)
    threshold = max(s for s, anchor in neg_scores if anchor) + MODEL_MARGIN
    plain = max(threshold, max(s for s, _ in neg_scores) + MODEL_MARGIN)

    def rate(scores: list[tuple[float, bool] | None], t: float, p: float) -> str:
        hit = sum(1 for s in scores if s and s[0] >= (t if s[1] else p))
        return f"{hit}/{len(scores)}"

    recall = sum(1 for s in exc_scores if s and s[0] >= (threshold if s[1] else plain)) / len(exc_scores)
    print(f"thresholds {threshold:.2f} anchored, {plain:.2f} plain: "
          f"out-of-fold tune excerpts {rate(exc_scores, threshold, plain)}, "
          f"short tune negatives {rate(neg_scores, threshold, plain)}")
    weights, bias = fit(pos, neg)
    read = planted([t for _, t in excerpts(notes(corpora, "read"), "clinical-model-read")], "clinical-model-ids", True)
    read_neg = [t for texts in mails(corpora, "read").values() for t in texts] + presidio_groups(corpora, "read")
    read_neg = planted(read_neg, "clinical-model-lookalikes", False)
    read_scores = [narrative.read(t, weights, bias) for t in read]
    read_negs = [s for t in read_neg if (s := narrative.read(t, weights, bias))]
    print(f"read split (aggregate, never tuned on): excerpts {rate(read_scores, threshold, plain)}, short negatives "
          f"{rate(read_negs, threshold, plain)}")
    lines = ["# Built by bench/build_clinical_vocabulary.py --model from the TUNE split only: logistic regression",
             f"# (C={MODEL_C}, balanced) of one- and two-sentence windows of MTSamples even-index notes against Enron",
             "# kaminski-v, SpamAssassin easy-ham-1 and even presidio-research groups; features in >= "
             f"{MIN_NOTES} documents, |weight| >= {MODEL_PRUNE}.",
             f"# thresholds: {MODEL_MARGIN} above the highest score of {len(neg_scores)} short tune negatives (each with a",
             f"# look-alike number), anchored and all, scored out of fold ({FOLDS} folds by document) and out of source",
             f"# (model without its mailbox): 0 reach them; out-of-fold tune excerpt recall (model alone) {recall:.4f}.",
             "# feature<TAB>weight. Do not edit by hand.",
             f"@bias\t{bias:.4f}", f"@threshold\t{threshold:.4f}", f"@threshold_plain\t{plain:.4f}"]
    lines += [f"{f}\t{w:.3f}" for f, w in sorted(weights.items()) if abs(w) >= MODEL_PRUNE]
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    ap.add_argument("--check", action="store_true", help="print window recall and mail hits per split; write nothing")
    ap.add_argument("--model", action="store_true", help="build clinical_model.txt (narrative.py) instead")
    args = ap.parse_args()
    if not (args.corpora / "clinical-text").is_dir():
        print(f"corpora not found at {args.corpora}")
        return 0
    if args.check:
        check(args.corpora)
        return 0
    if args.model:
        lines = build_model(args.corpora)
        MODEL_OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{len(lines) - 10} features -> {MODEL_OUT.relative_to(PROJECT)}")
        return 0
    vocab = build(args.corpora)
    lines = ["# Built by bench/build_clinical_vocabulary.py from the TUNE split only (MTSamples even-index notes",
             f"# against Enron kaminski-v + SpamAssassin easy-ham-1, wordfreq floor); MIN_NOTES={MIN_NOTES},",
             f"# MIN_LOGODDS={MIN_LOGODDS}, PAIR_MARGIN={PAIR_MARGIN}, CAP={CAP}. entry<TAB>log-odds:",
             "# words, word pairs, capitalised section headings (\"HEENT:\"). Do not edit by hand."]
    lines += [f"{w}\t{v}" for w, v in sorted(vocab.items())]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(vocab)} words -> {OUT.relative_to(PROJECT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
