"""Clinical narrative: a short patient story with no condition or drug named reads as health
information; business mail with a look-alike number and everyday or health-ish words does not."""

from __future__ import annotations

import pytest

from outguard_plugins.phi import context, narrative

# written for these tests (not from the corpora): no condition, drug or section label the lexicons name
STORY = ("She twisted her left ankle stepping off a curb on Saturday. She can walk on it, "
         "but it is swollen and it hurts at night.")
BUSINESS = [
    "Please review the attached invoice before Friday's meeting. The shipment was closed out and the "
    "ticket resolved last week. Invoice 219-44-1234 for consulting services.",
    "Member ID AB12345678. We need to back the proposal and hand it to the legal team by Monday. "
    "His team will follow up on the pricing and the head count.",
    "The quarterly numbers are in. She will present them to the board, and he wants the slides by "
    "Thursday afternoon. Order # 310-55-8812 has shipped.",
    "Our wellness fair is on Tuesday: free chair massage for tired shoulders and backs, healthy snacks "
    "in the lobby. Reference 1234567893.",
]


@pytest.fixture(scope="module")
def lex() -> context.Lexicon:
    return context.load_lexicon()


def test_model_file_loads_signed_weights_and_thresholds() -> None:
    weights, _bias, threshold, plain = narrative.load()
    assert len(weights) > 1000
    assert any(w < 0 for w in weights.values()) and any(w > 0 for w in weights.values())
    assert plain >= threshold            # a text with nothing clinical of its own needs more
    assert weights.get("invoice", 0.0) < 0 < weights.get("#possessive-body", 0.0)


def test_patient_story_without_lexicon_terms_is_a_health_statement(lex: context.Lexicon,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert narrative.clinical(STORY)
    signals = context.scan(STORY, lex)
    assert "clinical narrative" in signals.statements
    assert signals.confidence() >= 0.8
    monkeypatch.setattr(narrative, "clinical", lambda _text, _lower=None: False)
    assert context.scan(STORY, lex).confidence() < 0.8    # the lexicons and the vocabulary alone miss it


def test_a_scan_without_the_story_model_reads_the_lexicons_only(lex: context.Lexicon) -> None:
    # what a window beside a given name is read with (names.py): a statement, not a story
    assert context.scan(STORY, lex, story=False).confidence() < 0.8
    assert context.scan("rapid strep pos, called in amox 500 TID", lex, story=False).confidence() >= 0.8


@pytest.mark.parametrize("text", BUSINESS)
def test_business_mail_with_a_look_alike_is_not_clinical(lex: context.Lexicon, text: str) -> None:
    assert not narrative.clinical(text)
    assert "clinical narrative" not in context.scan(text, lex).statements


def test_cues_of_a_patient_narrative() -> None:
    assert "#possessive-body" in narrative.features("He bruised his right knee on the stairs.")
    assert "#body-symptom" in narrative.features("The knee is swollen.")
    assert "#exam" in narrative.features("The abdomen is soft with no acute distress.")
    assert "#history" in narrative.features("He denies chest pain.")
    assert "#vital" in narrative.features("Blood pressure 128/82, pulse 74.")
    assert "#dose" in narrative.features("Take 20 mg at night.")
    # the business senses of the same words are no cue
    feats = narrative.features("Please back the plan and hand the report to the head of sales; we follow up Monday.")
    assert not {f for f in feats if f.startswith("#") and " " not in f}


def test_a_number_alone_is_no_feature() -> None:
    # the identifier beside a text is a number: only a number with its unit or word counts
    feats = narrative.features("Reference 1234567 and 45%.")
    assert "#num" not in feats and "#num%" not in feats and "reference #num" in feats


def test_only_a_short_text_is_read() -> None:
    long_text = " ".join([STORY] * 10)    # 20 sentences: past SHORT_PIECES, never read whole
    assert narrative.short_features(long_text) is None
    assert not narrative.clinical(long_text)
    assert narrative.read("I concur.", *narrative.load()[:2]) is None   # too few features to judge
    # one run of words with no sentence end, past MAX_CHARS: refused before any regex reads it
    one_run = "her left knee is swollen and " * (narrative.MAX_CHARS // 29 + 1)
    assert len(one_run) > narrative.MAX_CHARS and narrative.short_features(one_run) is None
    assert narrative.short_features(one_run[:600]) is not None


def test_score_is_the_sum_of_the_distinct_features() -> None:
    weights, bias, _t, _p = narrative.load()
    feats = narrative.short_features(STORY)
    assert feats is not None
    value = narrative.read(STORY, weights, bias)
    assert value is not None
    assert value[0] == pytest.approx(bias + sum(weights.get(f, 0.0) for f in feats))
    # repeating a sentence adds nothing: distinct features, not counts
    again = narrative.read(STORY + " " + STORY.split(". ")[0] + ".", weights, bias)
    assert again is not None and again[0] == pytest.approx(value[0])


def test_an_excerpt_inside_a_covering_mail_is_read_by_its_own_sentences() -> None:
    """The covering mail's business words pull the whole text down; the excerpt's own one or two
    sentences, read as the model was trained, clear the threshold by WINDOW_MARGIN."""
    wrapped = ("Coding query - please clarify the documentation for the encounter below before the batch "
               "closes on Friday.\n" + STORY + "\nThanks, the coding team")
    weights, bias, threshold, plain = narrative.load()
    whole = narrative.read(wrapped, weights, bias)
    assert whole is not None and whole[0] < (threshold if whole[1] else plain)   # as a whole: not clinical
    margin = narrative.window_margin(wrapped, weights, bias, threshold, plain)
    assert margin is not None and margin >= narrative.WINDOW_MARGIN
    assert narrative.clinical(wrapped)
    for text in BUSINESS:   # business sentences read one or two at a time stay business
        margin = narrative.window_margin(text, weights, bias, threshold, plain)
        assert margin is None or margin < narrative.WINDOW_MARGIN, text
