"""The spam-like phrasing check: the phrase automaton, the structural features, the learned
weights, the redacted finding, the shipped rules, and its accuracy on the report half of the
SpamAssassin corpus (the half the training script never saw)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from helpers import PROJECT
from outguard.core.findings import Finding
from outguard.core.message import Envelope, parse_message
from outguard_plugins import spam
from outguard_plugins.helpers import PhraseMatcher


@pytest.fixture(scope="module")
def state() -> spam.State:
    return spam.State(features=spam.Features(), model=spam.Model.load(spam.WEIGHTS_FILE), min_score=float("-inf"))


def score_of(state: spam.State, raw: str) -> Finding:
    findings = spam.inspect(parse_message(raw.encode(), Envelope()), state)
    assert len(findings) == 1 and findings[0].id == "spam.phrasing"
    return findings[0]


def test_phrase_matcher_word_boundaries_case_space_and_overlaps() -> None:
    m = PhraseMatcher({"urgency": ["act now", "now"], "guarantee": ["guaranteed", "satisfaction guaranteed"]})
    assert m.count("ACT\n   Now! Satisfaction Guaranteed.") == {"urgency": 1, "guarantee": 1}
    assert m.count("unguaranteed snowfall, nowhere, knowledge") == {}
    assert m.count("now, and now again") == {"urgency": 2}
    assert PhraseMatcher({}).count("anything") == {}


def test_link_text_naming_another_domain() -> None:
    assert spam.link_text_mismatch("www.paypal.com", "http://203.0.113.9/login")
    assert spam.link_text_mismatch("https://bank.example.com/login", "https://evil.example.net/x")
    assert not spam.link_text_mismatch("www.bank.example.com", "https://login.bank.example.com/")
    assert not spam.link_text_mismatch("click here", "https://evil.example.net/")
    assert not spam.link_text_mismatch("ann@clinic.example", "mailto:ann@clinic.example")


def test_structure_features(state: spam.State) -> None:
    html = ('Subject: HELLO THERE FRIEND\nContent-Type: text/html\n\n<p>See <a href="https://bit.ly/x">www.mybank.com</a> '
            '<a href="http://198.51.100.7/a">here</a></p>')
    feats = state.features.extract(parse_message(html.encode()))
    for name in ("subject_caps", "html_only", "html_little_text", "link_text_mismatch", "shortener", "ip_link"):
        assert feats.get(name, 0) > 0, name
    reply = "Subject: Re: plan\n\nFine by me.\n\n> shall we meet at ten?\n> Bob\n"
    feats = state.features.extract(parse_message(reply.encode()))
    assert feats["quoted_lines"] > 0.3 and "caps_letters" not in feats


def test_spammy_copy_scores_high_and_the_detail_names_families_only(state: spam.State) -> None:
    secret = "Zebulon Quartermaine 536-90-4399"
    f = score_of(state, f"Subject: MAKE MONEY FAST!!!\n\nWORK FROM HOME, {secret}! 100% GUARANTEED, RISK FREE!\n"
                        "Click here to order now! This is not spam. To be removed reply REMOVE.\n")
    assert f.score is not None and f.score >= 8
    assert "work_from_home" in f.detail and "guarantee" in f.detail
    for token in ("Zebulon", "Quartermaine", "4399", "MAKE", "REMOVE"):
        assert token not in f.detail
    ordinary = score_of(state, "Subject: minutes\n\nHi all, the minutes of Tuesday's meeting are attached.\n"
                               "Ann will circulate the budget draft by Friday.\n\nThanks, Bob\n")
    assert ordinary.score is not None and ordinary.score < 5


def test_weights_file_covers_every_feature_and_spam_evidence_only_adds() -> None:
    data = yaml.safe_load(spam.WEIGHTS_FILE.read_text())
    names = spam.Features().names()
    assert set(data["weights"]) == set(names)
    for name, weight in data["weights"].items():
        if name not in ("quoted_lines", "links", "urls_in_text", "short_text"):
            assert weight >= 0, name
    assert data["calibration"]["hold_logit"] > data["calibration"]["tag_logit"]


def test_min_score_setting_hides_ordinary_mail() -> None:
    quiet = spam.State(features=spam.Features(), model=spam.Model.load(spam.WEIGHTS_FILE), min_score=2.5)
    assert spam.inspect(parse_message(b"Subject: lunch\n\nLunch at noon? Bob\n"), quiet) == []


RULE_CASES = [
    ("Subject: Re: notes\nIn-Reply-To: <1@a.example>\n\nThanks, Thursday works.\n\n> Thursday?\n", "deliver", set()),
    ("Subject: Spring sale\n\nHello Bob, our spring sale ends Friday: click here to see the offer and order now.\n"
     "Satisfaction guaranteed.\n", "deliver", {"spam-phrasing-tag"}),
    ("Subject: MAKE MONEY FROM HOME!!!\n\nWORK FROM HOME AND BE YOUR OWN BOSS! 100% GUARANTEED INCOME!\n"
     "Click here to order now! Risk free, no obligation. To be removed reply REMOVE.\n", "quarantine",
     {"spam-phrasing-tag", "spam-phrasing-quarantine"}),
]


@pytest.mark.parametrize(("body", "verdict", "rules"), RULE_CASES)
def test_shipped_rules(outguard_harness, body: str, verdict: str, rules: set[str]) -> None:
    harness = outguard_harness(enabled=["spam"])
    result = harness.check("From: a@shop.example\nTo: b@partner.example\n" + body)
    assert result.decision.verdict == verdict
    assert {r for r in result.decision.rule_ids if r.startswith("spam-")} == rules


def test_accuracy_on_the_report_half(corpora: Path, state: spam.State) -> None:
    """The benchmark's targets, pinned: AUC >= 0.95 and ham false positives <= 1 % at the tag
    threshold, on messages the weights were not fitted on (odd positions of each folder)."""
    sys.path.insert(0, str(PROJECT / "bench"))
    import numpy as np
    from train_spam_weights import auc, load

    ham, sp = [], []
    for _, _, raw, label in load(corpora / "spamassassin", "report"):
        (sp if label else ham).append(spam.inspect(parse_message(raw, Envelope()), state)[0].score)
    ham_a, sp_a = np.array(ham), np.array(sp)
    assert auc(ham_a, sp_a) >= 0.95
    assert (ham_a >= 5).mean() <= 0.01
    assert (sp_a >= 5).mean() >= 0.5


@given(st.text())
def test_counting_ascii_letters_is_what_the_character_class_counts(text: str) -> None:
    import re

    assert spam._letters_and_upper(text) == (len(re.findall("[A-Za-z]", text)), len(re.findall("[A-Z]", text)))
    assert spam._letters_and_upper(text + "\udcff") == spam._letters_and_upper(text)


_MONEYISH = st.text(alphabet=st.sampled_from("$£€\u017fSsUuDdEeRrOoLlAa 0123456789%\n٣"))


@given(st.one_of(st.text(), _MONEYISH))
def test_the_money_shortcut_skips_only_texts_the_money_pattern_cannot_match(text: str) -> None:
    if not spam._could_be_money(text):
        assert spam._MONEY.search(text) is None
    assert spam._could_be_money("5 u\u017fd") and spam._MONEY.search("5 u\u017fd")  # re's IGNORECASE: LONG S is s


@given(st.one_of(st.text(), st.text(alphabet=st.sampled_from("ABCabc_1é -\n"))))
def test_capital_words_counted_from_the_words_are_what_the_word_pattern_counts(text: str) -> None:
    import re

    words = spam._WORD.findall(text)
    assert sum(map(str.isupper, words)) == len(re.findall(r"\b[A-Z]{3,}\b", text))


# \x1c-\x1f are whitespace to a str pattern's \s but not to an re.ASCII one; the twins are what
# the check has used on ASCII text since they came in, so those four stay out of the comparison.
@given(st.text(alphabet=st.characters(max_codepoint=127, exclude_characters="\x1c\x1d\x1e\x1f")))
def test_the_ascii_twins_find_what_the_patterns_find_on_ascii_text(text: str) -> None:
    for pattern, twin in spam._ASCII_TWIN.items():
        assert twin.findall(text) == pattern.findall(text)


_URLISH = st.text(alphabet=st.sampled_from("hHtTpPsS:/._-<>\"')a1 \n\x1cé"))
_CURRENCYISH = st.text(alphabet=st.sampled_from("$uUsSdDeErRoOlLaA0123456789 \t\n\x1c_x"))


@given(st.one_of(st.text(), _MONEYISH, _CURRENCYISH))
def test_money_amounts_are_what_the_money_pattern_counts(text: str) -> None:
    assert spam._money_amounts(text) == len(spam._findall(spam._MONEY, text))  # what main counted
    assert spam._money_amounts("5 usd, 7usd, 8  usd, 9 usdx, x4dollars") == 3
    assert spam._money_amounts("$5 usd, $ 6usd, $$7, $ x, 5$5usd") == 4


@given(st.one_of(st.text(), _URLISH))
def test_text_hosts_are_the_url_pattern_hosts_lower_cased(text: str) -> None:
    assert spam._text_hosts(text) == [h.lower() for h in spam._findall(spam._URL, text)]
    assert spam._text_hosts("see HTTP://Example.ORG/x or xhttp://no.example") == ["example.org"]


@given(st.text(), st.lists(st.text()))
def test_phrases_read_from_the_views_folded_texts_as_from_the_joined_text(subject: str, texts: list[str]) -> None:
    from outguard.core.message import TextView

    folded = [TextView("body", t).folded for t in texts]
    assert spam._folded(subject, folded) == " ".join((subject + "\n" + "\n".join(texts)).lower().split())
    assert spam._folded("ΑΣ", [TextView("body", "Σ x").folded]) == "ας σ x"  # a line break ends a word for the final sigma too
