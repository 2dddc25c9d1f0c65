"""The spam text model: one normalisation for raw and pre-tokenised text, a stable hash, the
compact weights file (what the training script writes is what the check loads), the ranking
of spammy over business text, and a finding that names no message word."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import PROJECT
from outguard.checks import StartupContext
from outguard.core.message import Envelope, parse_message
from outguard_plugins import spam, spam_model

SPAMMY = [
    ("Make money fast!!!", "Work from home and earn $5000 a week. 100% guaranteed, risk free. Click here to order now, "
                           "limited time offer. To be removed from our mailing list reply remove."),
    ("Cheap meds online", "Buy viagra and cialis at the lowest prices, no prescription needed. Order today and save 80%!"),
    ("You are a winner", "Congratulations, you have won a free prize! Claim your cash reward now, act fast, offer expires."),
]
BUSINESS = [
    ("minutes of Tuesday", "Hi all, the minutes of Tuesday's meeting are attached. Ann will circulate the budget draft "
                           "by Friday; please send comments on section 3 before then. Thanks, Bob"),
    ("invoice for October", "Hello Bob, attached is the invoice for October. Please let me know if anything is unclear. "
                            "Best regards, Ann"),
    ("Re: review on Thursday", "Thursday afternoon works for me. I will bring the draft agenda and the test results we "
                               "discussed last week."),
]


@pytest.fixture(scope="module")
def model() -> spam_model.TextModel:
    return spam_model.load_model()


def test_raw_and_pretokenised_text_look_alike() -> None:
    raw = spam_model.normalise("Re: E-Mail OFFER!", "Don't miss it: $1,299 at http://www.Shop.example/x?id=42.")
    pre = spam_model.split_pretokenised("Subject: re : e - mail offer !\ndon ' t miss it : $ 1 , 299 at "
                                        "http : / / www . shop . example / x ? id = 42 .")
    assert raw == spam_model.normalise(*pre)
    assert raw[0] == ["re", "e", "mail", "offer"] and raw[1][-3:] == ["example", "x", "id"]
    assert spam_model.tokens("Q3 2024: 1,299.00 in 7th week") == ["q0", "in", "0th", "week"]  # numbers alone dropped
    assert spam_model.normalise("", "see link <https://t.example/x> here")[1] == ["see", "link", "here"]


def test_hash_is_stable_across_processes(model: spam_model.TextModel) -> None:
    """zlib.crc32, not Python's salted hash: another interpreter with another seed agrees."""
    code = ("from outguard_plugins import spam_model as m; "
            f"print(repr(m.load_model().logit({SPAMMY[0][0]!r}, {SPAMMY[0][1]!r})), m.hashed(['a'], ['b', 'c'], 20))")
    outs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONSAFEPATH": "1"}
        outs.add(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout)
    assert len(outs) == 1
    here = f"{model.logit(*SPAMMY[0])!r} {spam_model.hashed(['a'], ['b', 'c'], 20)}\n"
    assert outs == {here}


def test_only_vocabulary_words_count(model: spam_model.TextModel, tmp_path: Path) -> None:
    """Names, codes and jargon outside the vocabulary (general English) add no feature: the
    words either side of one form a pair as if it were not there; the file keeps the vocabulary."""
    assert model.vocab is not None and len(model.vocab.unigram) == model.header["vocabulary_size"] > 10_000
    assert "money" in model.vocab.unigram and "zebulonqx" not in model.vocab.unigram
    subject, body = SPAMMY[0]
    assert model.read(subject, body) == model.read(subject + " Zebulonqx", body.replace("home", "home Quartermainez x7q"))
    assert model.read("", "click here now") != model.read("", "click now")
    out = tmp_path / "small.bin"
    weights = [0.0] * (1 << 8)
    for i in spam_model.hashed([], ["money"], 8):
        weights[i] = 2.0
    spam_model.write_model(out, weights, bias=-1.0, bits=8, header={}, vocabulary=["free", "money"])
    small = spam_model.load_model(out)
    assert small.vocab == spam_model.Vocabulary.of(["free", "money"], 8)
    assert spam_model.hashed(["free"], ["money", "free"], 8, small.vocab) == sorted(
        set(spam_model.hashed(["free"], ["money", "free"], 8)))  # the same buckets as without a vocabulary
    assert small.logit("", "money") > small.logit("", "cash") == small.logit("", "") == -1.0


def test_spammy_text_ranks_above_business_text(model: spam_model.TextModel) -> None:
    spammy = [model.logit(s, b) for s, b in SPAMMY]
    business = [model.logit(s, b) for s, b in BUSINESS]
    assert min(spammy) > max(business)
    assert model.logit(*SPAMMY[1]) == model.logit(*SPAMMY[1])


def test_shipped_file_is_what_the_training_script_writes(model: spam_model.TextModel) -> None:
    h = model.header
    assert h["format"] == spam_model.FORMAT_VERSION and h["hash_bits"] == model.bits
    assert len(model.weights) == 1 << model.bits
    assert set(h["training_corpora"]) == {"SpamAssassin", "Enron-Spam", "Ling-Spam"}
    c = h["combine"]
    assert c["hold_logit"] > c["tag_logit"] and c["text_hold_logit"] > c["text_tag_logit"]
    assert c["text"] > 0 and c["phrasing"] > 0  # both signals add spam evidence
    assert model.min_evidence == h["min_evidence"] > 1 and c["text_prior_logit"] < c["text_tag_logit"]
    assert spam_model.MODEL_FILE.stat().st_size < 4 * 1024 * 1024


def test_training_writes_a_file_the_check_reads_identically(tmp_path: Path) -> None:
    """Train on two tiny made-up corpora; the runtime's log-odds equal the trainer's."""
    pytest.importorskip("sklearn")
    sys.path.insert(0, str(PROJECT / "bench"))
    import numpy as np
    from spam_corpora import Doc
    from train_spam_model import blend, evidence, matrix, quantised_logits, write

    docs = [Doc(corpus, f"{corpus}{i}-{j}", label, subj, body + f" note {i}", 0.5 * label)
            for corpus in ("one", "two") for i in range(40)
            for j, (label, (subj, body)) in enumerate([(1, s) for s in SPAMMY] + [(0, b) for b in BUSINESS])]
    out = tmp_path / "model.bin"
    w, header = write(out, docs)
    loaded = spam_model.load_model(out)
    assert loaded.header == header and loaded.header["training_corpora"] == ["one", "two"]
    reads = [loaded.read(d.subject, d.body) for d in docs]
    runtime = np.array([t for t, _ in reads])
    x = matrix(docs)
    assert np.allclose(runtime, quantised_logits(x, w, header["bias"]), atol=1e-4)
    blended = [loaded.combined_logit(t, d.phrasing_logit, n) for (t, n), d in zip(reads, docs, strict=True)]
    phrasing = np.array([d.phrasing_logit for d in docs])
    assert np.allclose(blended, blend(header["combine"], runtime, phrasing, evidence(x)), atol=1e-4)
    labels = np.array([d.label for d in docs])
    assert runtime[labels == 1].min() > runtime[labels == 0].max()


def test_a_file_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(ValueError, match="not an outguard spam text model"):
        spam_model.load_model(bad)
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(spam_model.MODEL_FILE.read_bytes()[:-100])
    with pytest.raises(Exception):  # noqa: B017 - zlib.error or ValueError, either refuses the file
        spam_model.load_model(truncated)


def test_the_finding_blends_the_model_and_names_no_message_word(model: spam_model.TextModel) -> None:
    state = spam.State(features=spam.Features(), model=spam.Model.load(spam.WEIGHTS_FILE), min_score=float("-inf"),
                       text_model=model)
    secret = "Zebulon Quartermaine 536-90-4399"
    raw = f"Subject: MAKE MONEY FAST!!!\n\nWORK FROM HOME, {secret}! {SPAMMY[0][1]}\n".encode()
    f = spam.inspect(parse_message(raw, Envelope()), state)[0]
    assert f.score is not None and f.score >= 8 and "text model 1.00" in f.detail
    for token in ("Zebulon", "Quartermaine", "4399", "MAKE", "remove", "earn"):
        assert token.lower() not in f.detail.lower()
    plain = spam.inspect(parse_message(f"Subject: {BUSINESS[1][0]}\n\n{BUSINESS[1][1]}\n".encode(), Envelope()), state)[0]
    assert plain.score is not None and plain.score < 5


def test_model_file_setting_replaces_the_shipped_model(tmp_path: Path) -> None:
    other = tmp_path / "other.bin"
    spam_model.write_model(other, [0.0] * (1 << 8), bias=-3.0, bits=8, header={"combine": {"text": 1.0, "phrasing": 0.0}})
    site, shipped = spam.SpamCheck(), spam.SpamCheck()
    site.outguard_startup(StartupContext("spam", {"model_file": str(other)}))
    shipped.outguard_startup(StartupContext("spam", {}))
    assert site.state.text_model is not None and site.state.text_model.bits == 8
    assert shipped.state.text_model is not None and shipped.state.text_model.bits == spam_model.load_model().bits


def test_short_text_is_shrunk_toward_typical_mail() -> None:
    """Few features are little evidence: the blended log-odds move toward the ham prior in
    proportion to what is missing, and a message of min_evidence features or more is untouched."""
    assert spam_model.shrink(6.0, 0, 40, -2.0) == -2.0
    assert spam_model.shrink(6.0, 20, 40, -2.0) == 2.0
    assert spam_model.shrink(6.0, 40, 40, -2.0) == spam_model.shrink(6.0, None, 40, -2.0) == 6.0
    assert spam_model.shrink(6.0, 5, 40, None) == 6.0


def test_short_text_shrinks_the_text_part_only(model: spam_model.TextModel) -> None:
    """Under min_evidence features the text model's log-odds move toward typical ham, but the
    phrasing features keep their full say: a near-empty spam with spam-like structure (an image
    and a pushy subject) is not scored like typical mail for having few words."""
    c, n = model.combine, model.min_evidence
    assert model.combined_logit(9.0, 1.0, 0) == model.combined_logit(-9.0, 1.0, 0)  # no words: the prior's say
    assert model.combined_logit(9.0, 6.0, 0) - model.combined_logit(9.0, 1.0, 0) == pytest.approx(5 * c["phrasing"])
    assert model.combined_logit(9.0, 1.0, n // 2) - model.combined_logit(-9.0, 1.0, n // 2) == pytest.approx(9 * c["text"])
    assert model.combined_logit(9.0, 1.0, n) - model.combined_logit(-9.0, 1.0, n) == pytest.approx(18 * c["text"])


@pytest.mark.parametrize("text", ["Happy birthday!", "Thanks!!", "ok", "See you at noon.", "Congratulations!"])
def test_short_notes_carry_no_finding(text: str) -> None:
    """A few words of ordinary mail reach neither the tag threshold nor the finding at all
    (the default min_score 2.5): before the shrink "Happy birthday!" scored 4.1."""
    check = spam.SpamCheck()
    check.outguard_startup(StartupContext("spam", {}))
    message = parse_message(f"Subject: hi\n\n{text}\n".encode(), Envelope())
    assert spam.inspect(message, check.state) == []
    check.state.min_score = float("-inf")
    assert "features" in spam.inspect(message, check.state)[0].detail  # says how little text there was


@given(st.one_of(st.text(), st.text(alphabet=st.sampled_from("Aa1_ \u212a\u0130é-"))))
def test_words_are_the_token_runs_of_the_lower_cased_text(text: str) -> None:
    assert spam_model.words(text) == spam_model._TOKEN.findall(text[:spam_model.MAX_CHARS].lower())


_VOCAB = spam_model.Vocabulary.of(["free", "money", "now", "café", "act", "a"], 12)


_PIECES = st.lists(st.sampled_from(["free", "Money", "NOW", "café", "act", " ", "\n", "_", "1", "-", "é", "\u212a", "A"]))


@given(st.text(), st.one_of(st.text(), _PIECES.map("".join)))
def test_text_buckets_are_the_buckets_of_the_words(subject: str, body: str) -> None:
    assert list(_VOCAB.text_buckets(subject, body)) == list(_VOCAB.buckets(spam_model.words(subject), spam_model.words(body)))
    assert _VOCAB.text_buckets("", "Free money NOW") == _VOCAB.buckets([], ["free", "money", "now"]) != set()
