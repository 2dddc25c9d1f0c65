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


@pytest.mark.parametrize("text", [
    "Pulse: 72. Respirations: 16.", "BP 140/90 mmHg", "Blood pressure is 120/80.", "O2 sat 98% on room air.",
    "Sats 94% on 2 L nasal cannula.", "FEV1/FVC ratio was 52%.", "Temperature 98.6, heart rate 88.",
    "HR 88, BMI 31.2", "Estimated blood loss was minimal.", "Vital signs are stable.",
])
def test_vital_signs_with_a_value_are_health_statements(text: str) -> None:
    from outguard_plugins.phi import sections

    assert "vital signs" in sections.find(text.lower())[2]


@pytest.mark.parametrize("text", [
    "BP shares rose 140/90 cents overnight.",          # the company, no blood pressure shape after the name
    "The temperature was 95 degrees in Houston.",      # weather: a temperature needs its body-range decimal
    "Shipping weight 20 lbs, height 30 inches.",       # a parcel: weight and height alone are not vitals
    "Our HR 401k team meets at 10.",                   # human resources, not a heart rate
    "Pulse 2000 units shipped; the pulse survey is due.",
    "Market saturation 90% in Texas.",                 # a saturation needs room air or oxygen after it
    "HR 75 staff attended.",                           # one weak abbreviation alone
])
def test_measurement_words_of_mail_are_not_vital_signs(text: str) -> None:
    from outguard_plugins.phi import sections

    assert "vital signs" not in sections.find(text.lower())[2]


@pytest.mark.parametrize("text,is_note", [
    ("The patient tolerated the procedure well.", True),
    ("The patient is a 53-year-old female.", True),
    ("Patient was instructed to restrict activity.", True),
    ("He has no other problems. The patient has no other complaints.", True),
    ("Thank you for allowing me to see this patient in consultation.", True),
    ("The patient was referred due to a recent admission.", True),
    ("Please be patient while the server restarts.", False),
    ("In this clause the patient is marked with the accusative.", False),   # the linguists' thematic role
    ("A trial was stopped after a patient developed leukaemia.", False),    # news about a patient, no note's verb
])
def test_a_patient_as_the_subject_of_a_note(text: str, is_note: bool) -> None:
    from outguard_plugins.phi import sections

    assert ("patient" in sections.find(text.lower())[2]) is is_note


@pytest.mark.parametrize("text,low", [
    ("Fever. 2.", 0.8), ("2. Uterus enlargement. 3.", 0.8), ("Left flank pain. 2. Cough.", 0.8),
    ("3. Uterus enlargement.", 0.8),                 # the last item: after its number
    ("2. Tumor. 3.", 0.8),                           # no lexicon term: one strongly clinical word (vocabulary.py)
    ("3. Neural network placement model. 4.", 0.0),  # mid-weight words of a research memo do not add up
    ("See page 12. Tumor board slides attached.", 0.0),   # a page number, not a list's
    ("Fever is expected in the market. 2.", 0.0),    # a sentence of a memo, not a list item
    ("1. Retention of the new staff is our goal for the year.", 0.0),
    ("The flank pain report is done.", 0.0),         # no list number after it
])
def test_a_health_term_as_a_numbered_list_item(lex: context.Lexicon, text: str, low: float) -> None:
    conf = context.scan(text, lex).confidence()
    assert conf >= 0.8 if low else conf < 0.8


@pytest.mark.parametrize("text,is_study", [
    ("CT Abdomen & Pelvis W&WO Contrast", True), ("MRI of the lumbar spine", True), ("x-ray of the left wrist", True),
    ("Stamford, CT head office", False),            # Connecticut: a region needs "of" before it or a contrast after
    ("Hartford CT chest of drawers for sale", False),
])
def test_an_imaging_study_of_a_body_region(text: str, is_study: bool) -> None:
    from outguard_plugins.phi import sections

    assert ("imaging" in sections.find(text.lower())[2]) is is_study


@pytest.mark.parametrize("text,is_sig", [
    ("Take it q.8h. with food.", True), ("Amoxil 250 mg t.i.d. for ten days", True),
    ("Continue 40 mg p.o. at bedtime.", True), ("one capsule p.o. b.i.d.", True), ("Give 2 ml every morning.", True),
    ("Eye drops p.r.n. for itching.", True),
    ("Please send the P.O. to the vendor today.", False),   # a purchase order
    ("cc: Maria, accounting", False), ("The 20 mg figure in the spec is wrong.", False),
    ("Q3 revenue came in at 12 million.", False), ("We bid twice on the lot.", False),
])
def test_a_prescription_sig_is_a_health_statement(text: str, is_sig: bool) -> None:
    from outguard_plugins.phi import sections

    assert ("prescription" in sections.find(text.lower())[2]) is is_sig


def test_a_sig_alone_reads_as_health_information(lex: context.Lexicon) -> None:
    assert context.scan("He should continue the drops, 1 ml twice daily.", lex).confidence() >= 0.8


@pytest.mark.parametrize("text,low", [
    ("Her angiogram is booked for Friday.", 0.8),          # a -gram study without a prefix of its own
    ("Pyelograms showed no obstruction.", 0.8),
    ("A TSH level will be drawn next week.", 0.8),         # a lab abbreviation named as a level is the test
    ("Start a proton pump inhibitor for the reflux.", 0.8),
])
def test_studies_levels_and_drug_classes(lex: context.Lexicon, text: str, low: float) -> None:
    assert context.scan(text, lex).confidence() >= low


def test_a_lab_abbreviation_alone_stays_a_key(lex: context.Lexicon) -> None:
    assert context.scan("Press ALT and F4 to close the window.", lex).confidence() < 0.8
    assert context.scan("The TSH team meets at noon.", lex).confidence() < 0.8


def test_everyday_condition_words_count_only_in_a_clinical_frame(lex: context.Lexicon) -> None:
    """'history of anxiety' is a condition; 'market anxiety' and 'the Great Depression' are not."""
    for text in ("History of anxiety.", "She was diagnosed with depression last year.", "Pt has h/o chest pain.",
                 "Treated for severe depression in 2019."):
        assert context.scan(text, lex).confidence() >= 0.8, text
    for text in ("Market anxiety is high this week.", "A history of the Great Depression and the markets.",
                 "The cancer charity gala is on Friday."):
        assert context.scan(text, lex).confidence() < 0.8, text


def test_any_centesis_is_a_procedure(lex: context.Lexicon) -> None:
    for word in ("thoracentesis", "paracentesis", "amniocentesis", "arthrocentesis"):
        assert context.scan(f"On August 20, {word}.", lex).terms.get(word) == "procedure", word


def test_a_brand_english_never_writes_names_the_drug_alone(lex: context.Lexicon) -> None:
    """'prior auth for Ozempic': a brand of Zipf < 1 is a medication by itself; a brand that is
    also a company (Exelon) counts only beside other health information."""
    assert context.scan("Needs prior auth for Ozempic", lex).confidence() >= 0.8
    assert context.scan("Exelon reported its quarterly results", lex).confidence() < 0.8


@pytest.mark.parametrize("text", ["Pt is pregnant, 22 wks", "s/p lap chole 11/20, doing ok", "IUD insertion next week",
                                  "chemo cycle 3 delayed", "suicidal ideation screen positive", "billing for the ER visit"])
def test_staff_shorthand_states_health_information(lex: context.Lexicon, text: str) -> None:
    assert context.scan(text, lex).confidence() >= 0.8, text


def test_a_procedure_done_to_a_person_is_a_strong_term(lex: context.Lexicon) -> None:
    for text in ("Mr. Roe in 412 is s/p lap chole yesterday, tolerating clears.", "She underwent a colonoscopy on Monday."):
        assert context.scan(text, lex).confidence() >= 0.9, text
    assert context.scan("The colonoscopy suite reopens on Monday.", lex).confidence() < 0.9
    assert "pancreatic ca" in context.scan("Pancreatic ca, on service with us 23 days.", lex).terms
