"""Clinical narrative in a short text: a logistic model over words, word pairs and patient cues.

A pasted excerpt of two to four sentences ("She twisted her left ankle on the stairs. It is
swollen and hurts at night.") names no condition or drug the lexicons know, and its words are
too everyday for `vocabulary.py`'s positive-only log-odds. This module reads such a text as a
whole with a linear model learned by `bench/build_clinical_vocabulary.py --model` from the
TUNE split only (windows of one or two sentences of the even-index MTSamples notes against
those of Enron kaminski-v, SpamAssassin easy-ham-1 and the even presidio-research groups),
shipped as `clinical_model.txt`. Unlike the vocabulary its weights are signed: business words
("invoice", "meeting") pull a text down, so everyday words of patient narrative can count.

Features of each sentence (at most MAX_WORDS words): its words, adjacent word pairs (a number
in a pair as "#num" / "#num%": "#num mg"; a number alone is no feature, as the identifier
beside a text is a number too), medical endings ("~itis", "~ectomy"), and cues of a patient
narrative: a possessive before a body part ("her left knee"), a body part with a symptom or injury word,
exam findings ("unremarkable", "no acute distress"), history wording ("denies", "history
of", "status post"), vital signs with a value and doses with a unit.

Only a short text is read (at most SHORT_PIECES sentence pieces; reading stops at the next
one, so the cost is bounded whatever the text's size): the model's score is its bias plus the
weights of the distinct features of the whole text. The text is clinical at the file's
@threshold when it holds a narrative cue or a strong clinical-vocabulary word (`anchored`),
else at the higher @threshold_plain. The build sets both above the score of every short tune
negative (each mail with a business look-alike number beside it) from models that never saw
that mail: out of fold, and out of source (trained without its whole mailbox, as a mail of
a mailbox never seen would be scored). See the file's header.
"""

from __future__ import annotations

import functools
import itertools
import re
from pathlib import Path

from outguard_plugins.phi import vocabulary

HERE = Path(__file__).resolve().parent
DATA = HERE / "clinical_model.txt"
MAX_WORDS = 40        # words per sentence piece, as vocabulary.py reads them
SHORT_PIECES = 12     # sentence pieces with words a text may have to be read
ANCHOR_CUES = frozenset(("#possessive-body", "#body-symptom", "#exam", "#history", "#vital", "#dose"))
ANCHOR_WEIGHT = 4.0   # a clinical vocabulary word this strong (log-odds) anchors a text too ("closed" 3.0 does not)
MAX_CHARS = 16_000   # a text longer than this is no pasted excerpt (12 pieces of 40 words are ~3,000)
# A window of one or two sentences must clear the text's threshold by this much: a mail has many
# windows, each a chance. Set on the tune negatives (the highest window of Enron kaminski-v,
# SpamAssassin easy-ham-1 and the even presidio groups, all short texts: 2.99 over, one mail of
# easy-ham-1) and checked on the read ones (Enron lokay-m + williams-w3: 0.91; easy-ham-2,
# hard-ham-1: -0.19).
WINDOW_MARGIN = 3.5
MIN_FEATURES = 12     # distinct features (words, pairs, cues) a text needs: a subject line or "I concur." is no note

_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n")          # as vocabulary.py splits
_WORD = re.compile(r"[a-z][a-z\-']*[a-z]|\d+(?:\.\d+)?%?")
_SUFFIX = re.compile(r"(itis|ectomy|otomy|ostomy|algia|emia|osis|opathy|pathy|oma|plasty|scopy|gram|graphy|ology"
                     r"|ologist|ic|al|ous|ive|ia|ed|ing|ly|ion|ment)$")
BODY = frozenset("""head neck face eye eyes ear ears nose mouth throat jaw tongue teeth tooth lip lips chin cheek
scalp forehead shoulder shoulders arm arms elbow elbows wrist wrists hand hands finger fingers thumb chest breast
breasts back spine abdomen belly stomach hip hips groin leg legs thigh thighs knee knees ankle ankles foot feet toe
toes heel heels calf skin rib ribs pelvis buttock buttocks bladder bowel bowels kidney kidneys liver lung lungs
heart""".split())
_POSSESSIVE = frozenset(("her", "his", "their", "patient's"))
_SIDE = frozenset(("left", "right", "lower", "upper", "both"))
_SYMPTOM = frozenset("""hurt hurts hurting injured injuring bumped twisted sprained fell fallen swollen swelling bruised
bleeding ache aches aching pain painful sore numb numbness tingling weak weakness dizzy nauseated vomited vomiting
fever febrile cough coughing""".split())
_EXAM = re.compile(r"unremarkable|within normal limits|no acute distress|tenderness|nontender|non-tender|supple"
                   r"|afebrile|alert and oriented|well-developed|well-nourished|range of motion|bilaterally")
_HISTORY = re.compile(r"\b(?:denies|denied|negative for|complains of|presents with|presented with|history of"
                      r"|status post|was admitted)\b")
_VITAL = re.compile(r"\b(?:blood pressure|bp|pulse|heart rate|respirations|respiratory rate|temperature|temp|o2 sat"
                    r"|saturation|weight|height)\b[^.]{0,12}?\d")
_DOSE = re.compile(r"\b\d+(?:\.\d+)?\s?(?:mg|mcg|ml|cc|mmhg|bpm)\b")
_PATTERN_CUES = (("#exam", _EXAM), ("#history", _HISTORY), ("#vital", _VITAL), ("#dose", _DOSE))
_ENDINGS = ("itis", "ectomy", "otomy", "ostomy", "algia", "emia", "osis", "pathy", "oma", "plasty", "scopy", "gram",
            "graphy", "ology", "ologist", "ic", "al", "ous", "ive", "ia", "ed", "ing", "ly", "ion", "ment")


def features(sentence: str) -> set[str]:
    """The model's features of one sentence piece (the build script trains on these)."""
    low = sentence.lower()
    return _word_features(_WORD.findall(low)[:MAX_WORDS]) | _text_cues(low)


def _word_features(words: list[str]) -> set[str]:
    """Words, medical endings, pairs and the body-part cues of one piece's words (lower-cased)."""
    toks = ["#num%" if w.endswith("%") else "#num" if w[0].isdigit() else w for w in words]
    out = {t for t in toks if t[0] != "#"}   # a number alone is no clinical sign (identifiers are numbers)
    for w in out.copy():
        if w.endswith(_ENDINGS) and (m := _SUFFIX.search(w)) and len(w) > len(m.group(1)) + 3:
            out.add("~" + m.group(1))
    out.update(f"{a} {b}" for a, b in zip(toks, toks[1:], strict=False))
    body = False
    for i, w in enumerate(toks):
        if w in BODY:
            body = True
            prev, prev2 = toks[i - 1] if i else "", toks[i - 2] if i > 1 else ""
            if prev in _POSSESSIVE or (prev in _SIDE and prev2 in _POSSESSIVE):
                out.add("#possessive-body")
    if body and not _SYMPTOM.isdisjoint(toks):
        out.add("#body-symptom")
    return out


def _text_cues(low: str) -> set[str]:
    """The cues read by pattern (exam findings, history wording, vitals, doses) of lower-cased text;
    none crosses a sentence end, so one search of a short text finds what its pieces hold."""
    return {cue for cue, pattern in _PATTERN_CUES if pattern.search(low)}


def anchored(feats: set[str]) -> bool:
    """Whether the features hold something clinical of their own: a narrative cue or a strong word
    of the clinical vocabulary. A text without one needs the model's higher THRESHOLD_PLAIN: its
    everyday words alone must read as a patient's story, not as a business mail's."""
    vocab = vocabulary.load()
    return any(f in ANCHOR_CUES or vocab.get(f, 0.0) >= ANCHOR_WEIGHT for f in feats)


def _runs(text: str, limit: int, lower: str | None) -> list[tuple[list[str], int, int]] | None:
    """The sentence pieces of a text of at most `limit` pieces with words, as (words, start, end),
    or None for a longer one (reading stops at the piece past the limit)."""
    if len(text) > MAX_CHARS:   # before any regex: one run of words without a sentence end could be megabytes
        return None
    low = text.lower() if lower is None else lower
    runs: list[tuple[list[str], int, int]] = []
    count = start = 0
    for m in itertools.chain(_SENTENCE.finditer(low), (None,)):   # lazily: a long text stops early
        end = len(low) if m is None else m.start()
        words = _WORD.findall(low, start, end)
        piece = start
        start = end if m is None else m.end()
        if not words:
            continue
        count += (len(words) + MAX_WORDS - 1) // MAX_WORDS
        if count > limit:
            return None
        runs.append((words[:MAX_WORDS], piece, end))
    return runs


def short_features(text: str, limit: int = SHORT_PIECES, lower: str | None = None) -> set[str] | None:
    """The features of a text of at most `limit` sentence pieces with words, or None for a longer
    one (reading stops at the piece past the limit, before any feature is made: a long mail
    costs a few regex steps). `lower`: the text lower-cased, if at hand."""
    low = text.lower() if lower is None else lower
    runs = _runs(text, limit, low)
    if runs is None:
        return None
    if not runs:
        return set()
    return set().union(*(_word_features(w) for w, _, _ in runs)) | _text_cues(low)


def window_margin(text: str, weights: dict[str, float], bias: float, threshold: float, plain: float,
                  lower: str | None = None) -> float | None:
    """The highest score, less its threshold, of one or two consecutive sentence pieces of a short
    text: the windows the model was trained on. A pasted excerpt inside a covering mail ("Coding
    query ... Thanks, HIM") is read without the mail's business words pulling it down. None: not
    a short text, or no window with MIN_FEATURES features."""
    low = text.lower() if lower is None else lower
    runs = _runs(text, SHORT_PIECES, low)
    if not runs:
        return None
    return _window_margin(low, runs, [_word_features(w) for w, _, _ in runs], weights, bias, threshold, plain)


def _margin(feats: set[str], weights: dict[str, float], bias: float, threshold: float, plain: float) -> float:
    """The model's score of these features less the threshold that applies to them."""
    return bias + sum(weights.get(f, 0.0) for f in feats) - (threshold if anchored(feats) else plain)


def _window_margin(low: str, runs: list[tuple[list[str], int, int]], single: list[set[str]], weights: dict[str, float],
                   bias: float, threshold: float, plain: float) -> float | None:
    if len(runs) < 2:
        return None   # one piece: the text as a whole was read already
    best: float | None = None
    for i in range(len(runs)):
        for k in (1, 2):
            if i + k > len(runs):
                break
            feats = (single[i] if k == 1 else single[i] | single[i + 1]) | _text_cues(low[runs[i][1]:runs[i + k - 1][2]])
            if len(feats) < MIN_FEATURES:
                continue
            margin = _margin(feats, weights, bias, threshold, plain)
            if best is None or margin > best:
                best = margin
    return best


@functools.cache
def load() -> tuple[dict[str, float], float, float, float]:
    """(feature -> weight, bias, threshold of an anchored text, threshold of a plain one), once per process."""
    weights: dict[str, float] = {}
    meta = {"@bias": 0.0, "@threshold": 0.0, "@threshold_plain": 0.0}
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("# "):
            continue
        key, _, value = line.rpartition("\t")
        if key in meta:
            meta[key] = float(value)
        else:
            weights[key] = float(value)
    return weights, meta["@bias"], meta["@threshold"], meta["@threshold_plain"]


def read(text: str, weights: dict[str, float], bias: float, lower: str | None = None) -> tuple[float, bool] | None:
    """(the model's log-odds that a short text is clinical narrative, whether it is `anchored`), or
    None: not a short text, or fewer than MIN_FEATURES distinct features (a subject, "I concur.")."""
    feats = short_features(text, lower=lower)
    if not feats or len(feats) < MIN_FEATURES:
        return None
    return bias + sum(weights.get(f, 0.0) for f in feats), anchored(feats)


def clinical(text: str, lower: str | None = None) -> bool:
    """Whether a short text reads as clinical narrative as a whole, or one or two of its sentences
    do by WINDOW_MARGIN more (`lower`: it lower-cased)."""
    weights, bias, threshold, plain = load()
    low = text.lower() if lower is None else lower
    runs = _runs(text, SHORT_PIECES, low)
    if not runs:
        return False
    single = [_word_features(w) for w, _, _ in runs]   # each piece's features once, for the text and its windows
    feats = set().union(*single) | _text_cues(low)
    if len(feats) >= MIN_FEATURES and _margin(feats, weights, bias, threshold, plain) >= 0:
        return True
    margin = _window_margin(low, runs, single, weights, bias, threshold, plain)
    return margin is not None and margin >= WINDOW_MARGIN
