"""Clinical vocabulary: one or two sentences of clinical prose are a health statement; mail is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from outguard_plugins.phi import context, narrative, vocabulary

# no "The patient was ...": sections.py reads that as a note's statement without the vocabulary
OPERATIVE = ("The leg was prepped and draped in the usual sterile fashion. "
             "A longitudinal incision was made over the medial malleolus.")
EXAM = "Lungs are clear to auscultation bilaterally. Abdomen is soft, nontender."
BUSINESS = ("Please review the attached contract before Friday. The pricing section was revised "
            "after the meeting with the vendor, and legal wants the final copy by noon.")


@pytest.fixture(scope="module")
def lex() -> context.Lexicon:
    return context.load_lexicon()


def test_vocabulary_file_loads_weighted_words() -> None:
    vocab = vocabulary.load()
    assert len(vocab) > 500
    assert all(0 < w <= 6.0 for w in vocab.values())
    assert "periosteum" in vocab and "contract" not in vocab and "meeting" not in vocab


@pytest.mark.parametrize("text", [OPERATIVE, EXAM])
def test_clinical_prose_no_lexicon_names_is_a_health_statement(lex: context.Lexicon, text: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert vocabulary.clinical(text)
    signals = context.scan(text, lex)
    assert "clinical language" in signals.statements
    assert signals.confidence() >= 0.8
    monkeypatch.setattr(vocabulary, "clinical", lambda _text: False)
    monkeypatch.setattr(narrative, "clinical", lambda _text, _lower=None: False)
    assert context.scan(text, lex).confidence() < 0.8    # the lexicons alone miss it


def test_capitalised_heading_counts(lex: context.Lexicon) -> None:
    # a learned heading is read as written: capitals and colon, as a note heads its sections
    assert vocabulary.clinical("PAST SURGICAL HISTORY: None.")
    assert not vocabulary.clinical("past surgical history: none.")
    assert not vocabulary.clinical("PLAN: Lunch.")     # a one-word heading alone heads memos too


def test_business_prose_is_not_clinical(lex: context.Lexicon) -> None:
    assert not vocabulary.clinical(BUSINESS)
    assert "clinical language" not in context.scan(BUSINESS, lex).statements


def test_one_clinical_word_is_not_enough() -> None:
    assert not vocabulary.clinical("We discussed the periosteum of the budget, jokingly, at lunch.")


def test_window_is_two_sentences_not_the_whole_text() -> None:
    # the same clinical words spread one per sentence across a long mail never add up
    words = ["periosteum", "fluoroscopy", "irrigated", "sutures", "vicryl", "extremities"]
    spread = " ".join(f"Item {w} was listed in the catalogue. The order ships on Monday. Thanks again." for w in words)
    assert vocabulary.best_window(spread)[1] <= 2
    assert not vocabulary.clinical(spread)
    assert vocabulary.clinical(" ".join(words[:4]) + ".")


def test_long_unpunctuated_text_is_cut_into_pieces() -> None:
    filler = " ".join(["word"] * vocabulary.MAX_WORDS)
    # two clinical words, separated by more than two pieces of filler, never share a window
    text = f"periosteum fluoroscopy {filler} {filler} {filler} sutures irrigated"
    score, words = vocabulary.best_window(text)
    assert words == 2
    v = vocabulary.load()
    assert score == pytest.approx(max(v["periosteum"] + v["fluoroscopy"], v["sutures"] + v["irrigated"]))


def test_lowercase_heading_words_do_not_count_as_headings() -> None:
    vocab = vocabulary.load()
    heads = [h for h in vocab if h.endswith(":")]
    assert heads, "the build learns capitalised section headings"
    head = heads[0]
    assert next(vocabulary._pieces(f"{head} x"))[0][-1] == head
    assert head not in next(vocabulary._pieces(f"{head.lower()} x"))[0]


def test_shipped_file_is_what_the_build_script_makes(corpora: Path) -> None:
    """The data file is built, not edited: the tune split rebuilds it entry for entry."""
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "bench" / "build_clinical_vocabulary.py"
    spec = importlib.util.spec_from_file_location("build_clinical_vocabulary", path)
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert build.build(corpora) == vocabulary.load()


def test_short_text_is_read_as_one_window() -> None:
    # spread over three sentences the words never share a two-sentence window, but a pasted
    # excerpt this short is read whole, at the lower bar
    text = "Her head is normocephalic. She sat on the bench by the door. Her neck is supple."
    assert vocabulary.best_window(text)[0] < vocabulary.THRESHOLD
    assert vocabulary.clinical(text)


def test_short_text_of_everyday_words_is_not_clinical() -> None:
    # enough summed weight, but no entry that is a clearly clinical word: a facilities memo
    v = vocabulary.load()
    memo = "The old screen was removed today. Its removal was identified as a hazard. It presents a risk."
    words = [w for w in ("removed", "removal", "identified", "presents") if w in v]
    assert words and max(v[w] for w in words) < vocabulary.SHORT_TOP
    assert not vocabulary.clinical(memo)


def test_a_long_text_gets_no_short_window() -> None:
    clinical = "Her head is normocephalic. She sat on the bench by the door. Her neck is supple."
    filler = " ".join(f"Line {i} of the agenda is lunch." for i in range(vocabulary.SHORT_PIECES))
    assert not vocabulary.clinical(f"{clinical} {filler}")


def test_the_shipped_clinical_capitals_are_what_the_tune_notes_build(corpora: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_clinical_capitals",
                                                  Path(__file__).resolve().parent.parent / "bench" / "build_clinical_capitals.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert frozenset(build.build(corpora)) == vocabulary.capitals()
    assert {"keflex", "whipple", "apgar"} <= vocabulary.capitals()
