"""Health lexicons: built from the real sources, common words kept out, signals graded."""

from __future__ import annotations

import pytest

from outguard_plugins.phi import context


@pytest.fixture(scope="module")
def lex() -> context.Lexicon:
    return context.load_lexicon()


def kinds(lex: context.Lexicon) -> dict[str, int]:
    out: dict[str, int] = {}
    for kind in lex.phrases.values():
        out[kind] = out.get(kind, 0) + 1
    return out


def test_lexicon_comes_from_the_sources_not_a_handful(lex: context.Lexicon) -> None:
    counts = kinds(lex)
    assert counts["condition"] > 10000      # CMS ICD-10-CM descriptions and inclusion terms
    assert counts["condition_weak"] > 500   # ... of which everyday-word fragments count only beside others
    assert counts["medication"] > 5000      # MedlinePlus-documented drug names
    for term in ("asthma", "hypertension", "schizophrenia", "type 2 diabetes mellitus", "malignant neoplasm"):
        assert lex.phrases.get(tuple(term.split())) == "condition", term
    for term in ("metformin", "lisinopril", "atorvastatin", "amlodipine", "albuterol"):
        assert lex.phrases.get((term,)) == "medication", term


@pytest.mark.parametrize("word", ["focus", "today", "fall", "skull", "minimal", "substance", "alt", "bp", "code"])
def test_common_words_are_not_health_terms(lex: context.Lexicon, word: str) -> None:
    assert context.scan(f"Press {word} to continue with the report.", lex).terms == {}


def test_abbreviated_labs_need_a_value(lex: context.Lexicon) -> None:
    assert context.scan("ALT 45, AST 30", lex).terms == {"alt": "lab", "ast": "lab"}
    assert context.scan("press Alt and the AST tree", lex).terms == {}


@pytest.mark.parametrize("text,low,high", [
    ("Jane Roe, DOB 04/12/1961, HbA1c 9.1, started metformin.", 0.95, 1.0),
    ("Continue lisinopril 10 mg daily.", 0.9, 0.9),
    ("Hx of asthma.", 0.9, 0.9),
    ("Diagnosed with asthma, hypertension and gout; prescribed inhaler.", 0.85, 1.0),
    # one unambiguous health statement is health information (0.8); the rules want an identifier beside it,
    # so a newsletter naming a disease stays clean for want of a patient
    ("Tips on asthma and hypertension for the whole family.", 0.8, 0.8),
    ("A flu shot is available this week.", 0.8, 0.8),
    ("History: atrial fibrillation", 0.8, 0.9),
    ("Patient has AFib and COPD.", 0.8, 0.8),
    ("Reason for visit: knee pain", 0.8, 0.8),           # a clinical section label, whatever follows
    ("Allergies: penicillin, sulfa", 0.9, 0.9),
    ("insulin glargine 20 units at bedtime", 0.9, 0.9),  # a prescription without a lab value
    ("Your visit with Dr. Lee is on 3/4.", 0.8, 0.8),
    ("Bilateral subtalar arthrodesis and long-leg cast.", 0.8, 0.8),   # a procedure by its ending
    ("The confirmation took two years.", 0.0, 0.7),      # title fragments of ICD-10-CM are not conditions alone
    ("Risk assessment: plan the rollout.", 0.0, 0.5),    # "Assessment:" and "Plan:" head audits too
    ("The cop said copd.", 0.0, 0.5),                    # shorthand in capitals only where written in capitals
    ("He was referred to as the boss; she presented to the board.", 0.0, 0.5),
    ("Exelon and Enron merged.", 0.0, 0.7),               # a brand name alone may be a company (Exelon the utility)
    ("Patient on Eliquis.", 0.9, 0.9),                    # ... beside a cue it is a drug
    ("Tubal ligation late in the postpartum stay.", 0.8, 0.8),   # rare words of ICD-10-CM titles: clinical vocabulary
    ("The ureteral stent came out; the foreskin healed.", 0.8, 0.9),
    ("The viaduct and the stingray exhibit reopen Monday.", 0.0, 0.7),   # external-cause words are not clinical
])
def test_confidence_grades(lex: context.Lexicon, text: str, low: float, high: float) -> None:
    assert low <= context.scan(text, lex).confidence() <= high


@pytest.mark.parametrize("text", ["NKDA", "nka.", "No known drug allergies", "allergic to penicillin", "Allergy to latex",
                                  "allergies to sulfa", "she has no known allergies"])
def test_allergy_statements_pass_the_word_prefilter(text: str) -> None:
    from outguard_plugins.phi import sections

    assert "allergy" in sections.find(text.lower())[2]
