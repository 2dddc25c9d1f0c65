"""Person names: a spaCy pipeline when the site installs one, rule-based patterns always.

There is no legitimate statistical English spaCy model on PyPI, so the model is a setting
(`spacy_model`: an installed package name or a path to a saved pipeline). It is loaded once
at start-up. Without it the check finds names where the text labels them ("Patient:
Jane Roe", "Jane Roe, DOB ...", "our patient Jane Roe", "Dear Ms. Roe") and, by a census given
name (given_names.py), where a note puts its patient beside health information ("Dustin Wirth -
rapid strep pos"); it says so once in the log.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import regex

from outguard_plugins.phi import given_names, identifiers, labels, narrative, sections, vocabulary
from outguard_plugins.phi.deadline import NONE as NO_DEADLINE
from outguard_plugins.phi.deadline import Deadline
from outguard_plugins.phi.identifiers import Hit, Keywords
from outguard_plugins.phi.prefilter import Anchored

if TYPE_CHECKING:
    from outguard_plugins.phi.context import HealthSignals

log = logging.getLogger("outguard.checks.phi")

# First and last name, one space or two between (pasted forms pad them: "Lara  Fiorentino").
_NAME = r"\p{Lu}[\p{Ll}'\-]+(?:\ \p{Lu}\.?)?\ \ ?(?:(?:Mc|Mac|O'|De|Van|Le)?\p{Lu}[\p{L}'\-]+)"
_LAST_FIRST = r"\p{Lu}[\p{L}'\-]+,\ \p{Lu}[\p{Ll}'\-]+(?:\ \p{Lu}\.?)?"
# "GONZALEZ, MARIA A" as EHR exports and forms print a patient in capitals
_LAST_FIRST_CAPS = r"\p{Lu}{2,}(?:[\-']\p{Lu}+)?,\ ?\p{Lu}{2,}(?:\ \p{Lu}\.?)?(?![\p{L}])"

# Each form is tried only where a trigger word was found (stdlib `re` over the lower-cased
# text: a literal alternation there is several times faster than a case-insensitive pass).
_TRIGGER = re.compile(r"patient|pt\b|name|re\b|dear |client|resident|member|beneficiary|insured"
                      r"|dob|d\.o\.b|born|date of birth|y/o|yo\b|year-old|age \d|mrn|ssn|mbi\b|acct\b")
# A title before a name, in a pass of its own that stops after MAX_TITLED ("Dear Mr." is the letter's).
_TITLE = re.compile(r"mrs?\.? |ms\.? |miss |mx\. |sra\. |srta\. ")   # (and Spanish: "la Sra. Shishani")
LABELLED = regex.compile(  # "Patient: Jane Roe", "Name - Roe, Jane", "our patient Jane Roe"
    r"(?i:(?P<kw>patient(?:'s)?(?:\ name)?|pt\.?(?:\ name)?|beneficiary(?:\ name)?|insured(?:\ name)?|member\ name|"
    r"member|resident|"
    r"re|name|client(?:\ name)?)(?P<sep>\ ?[:\-]\ ?|\t|,?\ ))"   # a tab: a key-value table's cells
    r"(?P<name>" + _NAME + r"|" + _LAST_FIRST + r"|" + _LAST_FIRST_CAPS + r")",
    regex.VERSION0)
_DOCTOR_BEFORE = re.compile(r"(?:dr\.?|doctor|drs\.?) $")   # "Dr. Jane Roe": a clinician, not the patient
PT_SURNAME = regex.compile(r"(?i:pt|patient)\.?\ (?P<name>(?:Mc|Mac|O')?\p{Lu}\p{Ll}{2,})(?![\p{L}\-])", regex.VERSION0)
# "Ms. Maria Gonzalez", "Mrs. Gonzalez", a hurried "mrs Lennox": a person by title (read in the case it is
# written: "MS Office" is none)
HONORIFIC = regex.compile(r"(?:Mrs|Mr|Ms|Miss|Mx|mrs|mr|ms|Sra|Srta)\.?\ (?P<name>" + _NAME +
                          r"|(?:Mc|Mac|O')?\p{Lu}\p{Ll}+(?:-\p{Lu}\p{Ll}+)?)"
                          r"(?![\p{L}\-])", regex.VERSION0)
# A person right before a date ("RE: Araujo, Matheus 2011-03-24", "Is this Matheus Araujo (3/24/11)?"):
# the way a clinic writes a patient and her birth date side by side. A time after the date makes it a
# mail header's sent line ("Vince J Kaminski 04/05/2001 03:12 PM"), not a birth date.
# (runs of digits, slashes and dashes found first: a class the engine skips to, 5x a lookbehind's speed)
_DATE_RUN = re.compile(r"\d[\d/\-]{4,8}\d")
_DATE = re.compile(r"\d{1,2}/\d{1,2}/(?:19|20)?\d{2}|(?:19|20)\d{2}-\d{2}-\d{2}")
LAST_FIRST_BEFORE_DATE = regex.compile(r"(?P<name>" + _LAST_FIRST + r"|" + _LAST_FIRST_CAPS + r"),?[\ \t]{1,4}\(?$",
                                       regex.VERSION0)
NAME_BEFORE_DATE = regex.compile(r"(?P<name>" + _NAME + r")\ \($", regex.VERSION0)
NAME_SPACE_DATE = regex.compile(r"(?<![\p{L}])(?P<name>" + _NAME + r")\ $", regex.VERSION0)
_TIME_AFTER = re.compile(r"\)?,?\s{1,3}\d{1,2}:\d{2}")
DEAR = regex.compile(r"(?i:dear\ (?:mr|mrs|ms|miss|mx)\.?\ )(?P<name>[A-Z][a-z'\-]+(?:\ [A-Z][a-z'\-]+)?)", regex.VERSION0)
# A person right before a birth date's or a record's label: "Jane Roe, DOB ...", "Roe, Jane  MRN 18224959",
# "Alberico Rizzo, SSN ...", a surname alone before a parenthesis ("Kreutzmann (MRN MR954392)")
BEFORE_ID = regex.compile(r"(?P<name>" + _NAME + r"|" + _LAST_FIRST + r"|" + _LAST_FIRST_CAPS +
                          r"|(?P<surname>(?:Mc|Mac|O')?\p{Lu}\p{Ll}{2,}(?:-\p{Lu}\p{Ll}+)?))"
                          r"(?P<sep>,?[\ \t]{1,3}\(?)$", regex.VERSION0)
_RECORD_TRIGGERS = ("dob", "d.o.b", "mrn", "ssn", "mbi", "acct")   # a surname alone before these ("Tatum (age 2)": none)
SURNAME_RARE = 4.0   # a surname alone before "(MRN": no word English writes more than once in 10,000
_POSSESSIVE = ("our", "the", "your", "this", "my", "a", "new", "for")   # "for member Jane Roe, ID ..."
_STRONG_LABELS = ("patient", "pt", "beneficiary", "insured", "member", "resident", "client")
# Capitalised words the patterns can meet that are not names.
_NOT_NAMES = frozenset("The This That Your Our Dear Date Birth Phone Email Address Please Thank Thanks Re Subject Patient "
                       "Name Order Invoice Account Number Member Customer Mr Mrs Ms Dr Acct Appt Dept Attn Ref Tel Fax "
                       "Ext".split())


# Words after "Patient" at a line's start that make a title, not a patient's name ("Patient Portal Message").
_PATIENT_COMPOUNDS = frozenset("Portal Access Accounts Account Advocate Advocacy Affairs Billing Education Engagement Experience "
                               "Family Financial Forms Information Instructions Intake Liaison Navigator Privacy Registration "
                               "Relations Rights Safety Satisfaction Scheduling Statement Support Transport Transportation "
                               "Name Names List Census Summary Update Updates Notice Notification Message Record Records".split())


# What makes a heading's "name" no patient: a clinician's credential right after it ("Anita Patel, MD",
# written as credentials are, so "Jane Roe, do you ..." is no DO) or a word that names a place or a
# team ("Cardiology Clinic"). Checked only for the weak forms.
_CREDENTIAL_AFTER = re.compile(r",?\ ?(?:MD|M\.D\.|DO|NP|RN|PA-C|PA|DDS|DMD|PharmD|PhD|FNP|APRN|CNM|LPN|LCSW|MSW|DPM|OD|MPH"
                               r"|FACP|FACC|FACS)(?![A-Za-z])")
_PLACE_WORDS = frozenset("clinic hospital center centre medical health group associates pharmacy department dept "
                         "services office practice unit team lab laboratory care radiology cardiology".split())


def _provider_or_place(name: str, text: str, e: int) -> bool:
    """The heading names a clinician (a credential follows) or a place or team, not a patient."""
    return _CREDENTIAL_AFTER.match(text, e) is not None or any(w.lower() in _PLACE_WORDS for w in name.split())


# A person by a given name (given_names.py) where a note puts its patient without a label: heading a
# line, with what is said of them after the name ("Dustin Wirth - rapid strep pos", "Thomas Arcuri passed
# at 0315", "Cleopatra Mordvinova's wife called") or alone on the text's first line; after "for", "on",
# "this is" or "my name is" ("SOC visit for Zoe Young"); greeted by full name ("Dear eva kleist,"); a
# lower-case label's name; a possessive inside a line. By any name: a relative the writer names, an EHR's
# "Last, First (number)"; a name before the person's age ("eva kleist, 81 yo"). Where the first word is no
# census name, two capitalised words neither of which is an English word (given_names.unlisted_name:
# "Jouni Hahli") stand in the same forms, when the health terms are other words than theirs. Taken only
# with health information near it (NameFinder._given: within GIVEN_WINDOW in its paragraph, or on its
# line), as a person the mail is about (HEADING).
_GIVEN_FULL = r"(?P<name>(?P<first>\p{Lu}\p{Ll}+)\ (?:\p{Lu}\.?\ )?(?:Mc|Mac|O'|De|Van|Le)?\p{Lu}\p{Ll}[\p{L}'\-]*)(?![\p{L}\-])"
# (stdlib `re`, led by the newline it finds by a fast scan: 4x the speed of a multi-line "^"; census names are ASCII)
# (after the line's addressee: "Team - Orsolya Kiraly passed ...", "Dr. Ngata - Radek Dvorsky called ...";
# before a number: "Taavetti Holmqvist 34wk G3P2", "Henry Ito, 81 yo")
_LINE_NAME = (r"[ \t>]*(?:(?:Dr\. )?[A-Z][a-z]+ [\-\u2013] )?"
              r"(?P<name>(?P<first>[A-Z][a-z]+) (?:[A-Z]\.? )?(?:Mc|Mac|O'|De|Van|Le)?"
              r"[A-Z\u00c0-\u00de][a-z\u00df-\u00ff][^\W\d_'\-]*(?:['\-][^\W\d_]+)*)(?![\w\-])"
              r"(?P<after>'s | [\-\u2013]{1,2} |: | \(|,? (?=\d)| (?P<word>[a-z]+)|[ \t]*(?=\n|$))")
LINE_NAME = re.compile(r"\n" + _LINE_NAME)
FIRST_LINE_NAME = re.compile(_LINE_NAME)   # the text's own first line
LEAD_NAME = regex.compile(_GIVEN_FULL + r"(?!\ \p{Lu})", regex.VERSION0)
_LEAD = re.compile(r"(?:for|on|this is|my name is|it's|its|she's|he's) ")
_SENTENCE_END = re.compile(r"[ \t]*(?:[.,!;]|\n|$)")
_LIST_AFTER = regex.compile(r",\s*(?:and\ )?\p{Lu}\p{Ll}+\ \p{Lu}", regex.VERSION0)   # ", Randy Quaid": another name
# "my son Rebecca", "my dad Favian Rangel": a relative the writer names, by any name (the relation says person)
_RELATIVE = re.compile(r"(?:(?:my|her|his|our|their|your) (?:son|daughter|husband|wife|mother|father|mom|dad|child|baby"
                       r"|brother|sister|grandson|granddaughter|grandmother|grandfather|partner)"
                       r"|(?:mi|su|mis|sus) (?:mam\u00e1|mama|madre|pap\u00e1|papa|padre|hijo|hija|esposo|esposa|abuela|abuelo"
                       r"|hermano|hermana|nieto|nieta)),? ")   # (and as Spanish-speaking families write: "mi mamá Vilma Holm")
RELATIVE_NAME = regex.compile(r"(?P<name>\p{Lu}\p{Ll}+(?:\ (?:Mc|Mac|O'|De|Van|Le)?\p{Lu}\p{Ll}[\p{L}'\-]*)?)(?![\p{L}\-])",
                              regex.VERSION0)
# "CT A/P on Mordvinova, Cleopatra (12288903) ...": an EHR's "Last, First (record number)", by any name
_PAREN_NUMBER = re.compile(r" \(\d{5,12}\)")
LAST_FIRST_BEFORE_NUMBER = regex.compile(r"(?P<name>" + _LAST_FIRST + r")$", regex.VERSION0)
# "Dr. Chu, Lauren Shishani's pap came back ASCUS": a person by a given name, her possession said on the line
POSSESSIVE_NAME = regex.compile(_GIVEN_FULL + r"$", regex.VERSION0)
GREETED = regex.compile(r"(?i:dear|hi|hello)\ (?P<name>(?P<first>\p{L}+)\ \p{L}[\p{L}'\-]+)[ \t]*(?:,|\n|$)", regex.VERSION0)
_GREETING = re.compile(r"(?:dear|hi|hello) ")
# "Re: olga krylova" as a portal's mail merge writes a name: a label's name in lower case, by a given name
LABELLED_LOWER = regex.compile(r"(?i:re|name|patient(?:\ name)?|pt)\ ?:\ ?(?P<name>(?P<first>\p{Ll}+)\ \p{Ll}[\p{Ll}'\-]+)"
                               r"(?![\p{L}\-])", regex.VERSION0)
_LABEL = re.compile(r"(?:re|name|patient|pt) ?:")
GREETED_FIRST = regex.compile(r"(?i:dear|hi|hello)\ (?P<first>\p{L}+)(?![\p{L}\-])", regex.VERSION0)
# what a line's name followed by a lower-case word is not: a quote's attribution, a list of people
_NOT_STATEMENTS = frozenset("wrote writes said says on at and or to from of cc sent forwarded".split())
# a name that names a condition or a test ("Lou Gehrig's disease"), not a person
_EPONYM = re.compile(r"(?:'s)? (?:disease|syndrome|palsy|sign|law|test|procedure|maneuver|score|scale)\b")
# "eva kleist, 81 yo, found on floor": a name before the person's age, in any case
# (found by its unit, whose literal openings the prefilter's one pass finds; then the number before it)
_AGE_UNIT = re.compile(r"(?:yo|y/o|y\.o\.|yr old|yrs old|year old|-year-old|-yo)(?![a-z])")
_AGE_NUMBER = re.compile(r"(?<![\w/.])\d{1,3} ?$")
AGE_NAME = regex.compile(r"(?<![\p{L}])(?P<name>(?P<first>\p{L}+)\ (?:\p{L}\.?\ )?\p{L}[\p{L}'\-]+),?\ ?$", regex.VERSION0)
MAX_GIVEN = 200   # names by given name looked at per text (as MAX_TITLED)
GIVEN_WINDOW = 200  # characters after such a name (within its paragraph) where health information must stand
GIVEN_BEFORE = 60   # and before it ("SOC visit for Zoe Young")
GIVEN_BAR = 0.8     # how sure (context.HealthSignals.confidence) that window must be of health information
TITLED_WINDOW = 300  # a titled name's window: its own line
# health_of(lo, hi): the health signals of text[lo:hi] (the check's lexicons; None: not read, over budget)
HealthOf = Callable[[int, int], "HealthSignals | None"]


def stated(signals: HealthSignals | None, titled: bool = False) -> bool:
    """A window's signals say health information: GIVEN_BAR; for a titled name two terms or one with a
    dose, a value or a cue ("Mr Eden ... a heart attack" is news, "mrs Lennox re her breast bx, path is
    benign fibroadenoma" is a patient)."""
    if signals is None or signals.empty or signals.confidence() < GIVEN_BAR:
        return False
    return not titled or signals.confidence() >= 0.9 or len(signals.terms) >= 2


_RECORD_WORDS = re.compile(r"mrn|medical record|chart (?:number|no|#)|patient id|member id|subscriber id|account (?:number|no|#)")
# tried only where a literal opening stands (prefilter.py: one Aho-Corasick pass, the same matches)
_TRIGGER_AT = Anchored(_TRIGGER)
_TITLE_AT = Anchored(_TITLE)
_LEAD_AT = Anchored(_LEAD)
_GREETING_AT = Anchored(_GREETING)
_RELATIVE_AT = Anchored(_RELATIVE)
_LABEL_AT = Anchored(_LABEL)
_AGE_UNIT_AT = Anchored(_AGE_UNIT)
# a census or handoff line led by the room: "rm 12 Nishiyama - s/p lap chole", "Bed 4: Ito, 64M"
_ROOM_FIRST = regex.compile(r"(?i:rm|room|bed)\ ?\d{1,4}[A-Za-z]?:?\ (?:-\ )?(?P<name>(?:Mc|Mac|O')?\p{Lu}\p{Ll}{2,}"
                            r"(?:,?\ \p{Lu}\p{Ll}+)?)(?=\ [\-\u2013]|,|:|\ \(|\ \d)", regex.VERSION0)
_ROOM_AT = Anchored(re.compile(r"(?:rm|room|bed) ?\d"))
# a person by age and sex as census rows and handoffs write them ("Umkhayev 78F", "Ito 64 M"): not a temperature
_AGE_SEX = re.compile(r"(?<![\w.,/])\d{1,3} ?[MF](?![\w/])")
_SEX_LETTER = re.compile(r"[MF](?![\w/])")
# an inpatient by the bed or room they lie in: "Souza in bed 7", "Gairbekov in 412", "Ito in rm 5B"
_BED = re.compile(r" in (?:bed|rm|room) ?\d{1,4}[a-z]?\b")
_BED_AT = Anchored(_BED)
BED_NAME = regex.compile(r"(?<![\p{L}.])(?P<name>(?:Mc|Mac|O')?\p{Lu}\p{Ll}{2,}(?:\ (?:Mc|Mac|O')?\p{Lu}\p{Ll}+)?)$",
                         regex.VERSION0)
# Titled names and names before dates looked at per text: enough for any verdict, bounded work on a
# text of thousands of them.
MAX_TITLED = 200
# a patient word beside a titled name ("patient", "pt", "our client" is not one: lawyers have clients)
_PATIENT_NEAR = re.compile(r"\b(?:patient|pt\b|pts?')")
_RECORD_WORDS_AT = Anchored(_RECORD_WORDS)


def line_start(lower: str, p: int) -> bool:
    """`p` starts its line (after blanks): a heading, not "Company Name:" or "Subject: Re:"."""
    nl = lower.rfind("\n", max(0, p - 80), p)
    if nl < 0 and p > 80:
        return False   # 80 characters or more of the line before it: not a heading
    return not lower[nl + 1:p].strip()


def _line_end(lower: str, e: int) -> bool:
    """Only blanks (or a full stop) from `e` to the end of its line."""
    nl = lower.find("\n", e, e + 80)
    rest = lower[e:nl if nl >= 0 else e + 80]
    return (nl >= 0 or len(lower) - e < 80) and rest.strip(" \t.") == ""


def _capitalised_before(text: str, p: int) -> bool:
    """The word before `p` (past spaces or a tab of an aligned column, a comma or an opening
    parenthesis) starts with a capital: a cheap test before the name patterns, as most dates in
    mail follow "on" or "due"."""
    q = p
    while q > 0 and p - q < 5 and text[q - 1] in " \t(,":
        q -= 1
    k = q
    while k > 0 and q - k < 30 and text[k - 1].isalpha():
        k -= 1
    return k < q and text[k].isupper()


def _line_stop(lower: str, e: int, most: int) -> int:
    """Where the line of `e` ends, at most `most` characters on."""
    nl = lower.find("\n", e, e + most)
    return nl if nl >= 0 else min(len(lower), e + most)


def _record_follows(kw: Keywords, lower: str, s: int, e: int) -> bool:
    """A patient identifier's keyword, a clinical record's section label ("Diagnosis:", "Reason
    for visit:") or an encounter ("your visit with Dr. Lee") within the next lines after a name:
    the name heads a patient's record."""
    return kw.near("dob", s, e, 0, 150) or kw.near("ssn", s, e, 0, 150) or kw.near("medicare", s, e, 0, 150) or \
        _RECORD_WORDS_AT.search(lower, lower, e, e + 150) is not None or \
        sections.STRONG_LABEL_AT.search(lower, lower, e, e + 150) is not None or \
        sections.ENCOUNTER_AT.search(lower, lower, e, e + 150) is not None or \
        labels.corroborated(lower, e, e + 150)


def greeted(text: str, lower: str) -> set[str]:
    """The given names a line greets ("Hi Rebeca,", "Dear eva kleist"), lower-cased: the person the
    mail is written to, whose personal address it may carry (check.py)."""
    out: set[str] = set()
    for t in _GREETING_AT.finditer(lower, lower):
        p = t.start()
        if (p and lower[p - 1].isalnum()) or not line_start(lower, p):
            continue
        m = GREETED_FIRST.match(text, p)
        if m is not None and given_names.given(m.group("first")):
            out.add(m.group("first").lower())
        if len(out) >= 8:
            break
    return out


# "Hi Yuri,\n\nYour pap came back showing ASC-US with high-risk HPV ...": a person greeted by first name and
# told of their own health ("your pap", "your infusion"), not of their patients' or their clinic's
_YOUR = re.compile(r"(?<![a-z])(?:your (?!patients?\b|practice|clinic|team|staff|office|organi[sz]ation|employees|members"
                   r"|providers|colleagues|customers|company|facility|community|family)"
                   r"|you (?:tested|were|have been|are being) (?:positive|negative|diagnosed|seen|treated|admitted|discharged))")
_VISITED = re.compile(r"(?<![a-z])(?:visit|visits|seen|admitted|discharged|appointment|appt)(?![a-z])|\d{1,2}/\d{1,2}")


def _benefits_letter(lower: str, lo: int, hi: int) -> bool:
    """lower[lo:hi] tells what a plan covers (coverage, enrollment, HSA) and of no visit or date of the
    person's: a benefits letter, not a bill for "your ED visit on 8/12" that went to the deductible."""
    return _COVERAGE.search(lower, lo, hi) is not None and _VISITED.search(lower, lo, hi) is None


_COVERAGE = re.compile(r"(?<![a-z])(?:covers?|covered|coverage|benefits?|enroll(?:ment|ed)?|open enrollment|eligible"
                       r"|eligibility|premiums?|deductibles?|hsa|fsa|wellness program|health plan)(?![a-z])")
GREETED_ALONE = regex.compile(r"(?i:dear|hi|hello)\ (?P<name>(?P<first>\p{Lu}\p{Ll}+)(?:\ \p{Lu}\p{Ll}+)?)[ \t]*[,!:\n]",
                              regex.VERSION0)   # "Hi Yuri,", "Hello Jens Kreutzmann,"
_SENTENCE_STOP = re.compile(r"(?<![ (]dr)(?<![ (]mr)(?<![ (]ms)(?<![ (]mrs)[.!?](?:\s|$)|\n")   # not "Dr." of "with Dr. Okafor"
OPENING = 300       # characters from the text's start where the greeting stands
TOLD_WINDOW = 400   # characters after it where the person is told of their health


def _opening_greeting(text: str, lower: str, pattern: Any) -> Any:
    """`pattern` matched at the mail's first greeting at a line's start within OPENING, if it matches there."""
    for t in _GREETING_AT.finditer(lower, lower, 0, OPENING):
        p = t.start()
        if (p and lower[p - 1].isalnum()) or not line_start(lower, p):
            continue
        return pattern.match(text, p)
    return None


def second_person(text: str, lower: str, health_of: HealthOf, hits: list[Hit]) -> None:
    """The first name greeting the mail, when the mail tells that person of their own health: a
    "your" followed by a health term of a specific kind (not a weak one), and the stretch after the
    greeting at the titled bar (two terms, or a dose, value or cue). A first name alone; HEADING."""
    m = _opening_greeting(text, lower, GREETED_ALONE)
    if m is None or not (given_names.given(m.group("first")) or
                         any(given_names.zipf(w.lower()) < given_names.RARE for w in m.group("name").split())):
        return   # a census given name, or a word English does not write ("Hi Sieuwerd,", "Hello Jens Kreutzmann,")
    lo, hi = m.end(), min(len(text), m.end() + TOLD_WINDOW)
    if _benefits_letter(lower, lo, hi):
        return   # a benefits or enrollment letter tells what a plan covers, not the person's health
    for n, y in enumerate(_YOUR.finditer(lower, lo, hi)):
        if n >= 3:
            return
        stop = _SENTENCE_STOP.search(lower, y.end(), y.end() + 120)
        said = health_of(y.start(), stop.start() if stop else min(len(lower), y.end() + 120))
        if said is not None and (said.statements or said.sections or
                                 any(not kind.endswith("_weak") and kind != "clinical_word" for kind in said.terms.values())):
            if stated(health_of(lo, hi), True):
                hits.append(Hit("name", m.group("name"), m.start("name"), m.end("name"), 0.6, "heading"))
            return


# "Hi Ms. King,\n\nJust letting you know Caitlin came to the health office with wheezing ...": a letter to a
# parent by title and surname about a child (or another relative) by a given name
GREETED_TITLE = regex.compile(r"(?i:dear|hi|hello)\ (?i:mr|mrs|ms|miss|mx)\.?\ (?P<surname>\p{Lu}\p{Ll}+)[ \t]*[,!:\n]",
                              regex.VERSION0)
_CAPITALISED = regex.compile(r"(?<![\p{L}])\p{Lu}\p{Ll}{2,}(?![\p{L}\-])", regex.VERSION0)
# a member of staff, not a patient: "our nurse practitioner, Anna Lee", "pharmacist Tom runs ...", "Karen will teach"
_STAFF_BEFORE = re.compile(r"(?<![a-z])(?:nurse|rn|np|practitioner|pharmacist|therapist|counsel(?:l)?or|coordinator|educator"
                           r"|instructor|teacher|dietitian|nutritionist|provider|navigator|manager|director|technician"
                           r"|assistant|receptionist|colleague|coworker|co-worker),?\ $")
_STAFF_AFTER = re.compile(r",?\ (?:will\ (?:teach|lead|run|host|present|cover|call|see|be\ (?:teaching|leading|covering))"
                          r"|teaches|leads|runs|hosts|specializes|specialises|presents|covers|is\ (?:our|a|the)\ (?:new\ )?"
                          r"(?:nurse|pharmacist|therapist|educator|coordinator|provider|dietitian))\b")


def _staff(lower: str, s: int, e: int) -> bool:
    """The name at s..e is a member of staff by the role before it or what it does after it."""
    return _STAFF_BEFORE.search(lower, max(0, s - 24), s) is not None or _STAFF_AFTER.match(lower, e) is not None


# "Dear Rebeca Souza,\n\n... Adam received the following with your signed consent: Tdap": a parent by full name
GREETED_FULL = regex.compile(r"(?i:dear|hi|hello)\ (?P<first>\p{Lu}\p{Ll}+)\ (?P<surname>\p{Lu}\p{Ll}+)[ \t]*[,!:\n]",
                             regex.VERSION0)


def greeted_family(text: str, lower: str, health_of: HealthOf, hits: list[Hit], signed: identifiers.SignOff) -> None:
    """A given name (not the greeted person's, not a doctor's) in the opening of a letter greeting a parent
    by title or by full name, with health information on its paragraph at the titled bar: the person the
    letter is about (not a benefits letter)."""
    m = _opening_greeting(text, lower, GREETED_TITLE) or _opening_greeting(text, lower, GREETED_FULL)
    if m is None or _benefits_letter(lower, m.end(), min(len(text), m.end() + TOLD_WINDOW)):
        return
    greeted_words = {m.group("surname"), m.groupdict().get("first")}
    tried = 0
    for w in _CAPITALISED.finditer(text, m.end(), min(len(text), m.end() + TOLD_WINDOW)):
        if w.group() in greeted_words or not given_names.given(w.group()) or signed.below(w.start()) or \
                _DOCTOR_BEFORE.search(lower, max(0, w.start() - 10), w.start()) or _staff(lower, w.start(), w.end()):
            continue
        tried += 1
        if stated(health_of(*paragraph_window(lower, w.start(), w.end(), GIVEN_BEFORE, GIVEN_WINDOW)), True):
            hits.append(Hit("name", w.group(), w.start(), w.end(), 0.6, "heading"))
            return
        if tried >= 3:
            return


# "Kloz placed on 72-hr hold overnight ... Pt refusing meds", "the echo on Umkhayev ... get him into HF clinic":
# a person by a word English does not write (or a census given name), anywhere in a short text that tells
# of one person's health: a singular person (he, she, him, her, pt) and, on the word's paragraph, health
# information at the titled bar. Teaching cases and recall notices tell of health without a name;
# newsletters and vendors name a company or a speaker without telling of one person.
_MENTION = regex.compile(r"(?<![\p{L}\-'.@/])(?P<name>(?P<first>(?:Mc|Mac|O')?\p{Lu}\p{Ll}{2,})"
                         r"(?:\ (?P<last>(?:Mc|Mac|O')?\p{Lu}\p{Ll}{2,}))?)(?![\p{L}\-@])", regex.VERSION0)
_ONE_PERSON = re.compile(r"(?<![a-z])(?:he|she|him|her|his|he's|she's|pt)(?![a-z])")
_AFTER_MENTION_NOT = re.compile(r"(?:'s)? (?:inc|llc|corp|pharma|pharmaceuticals|labs|health|healthcare|medical|hospital|clinic"
                                r"|center|university|elementary|school|county|street|st|ave|road|rd)\b")
_MEDICAL_ENDING = re.compile(r"(?:itis|osis|emia|oma|pathy|plegia|algia|penia|megaly|rrhea|uria|plasia|ectomy|otomy|ostomy"
                             r"|plasty|scopy|gram|graphy|ology|ologist|ings|ative|ively|ally)$")


def _clinical_word(word: str) -> bool:
    """`word` (lower case) is one clinical notes write (the clinical vocabulary, a positive weight of the
    narrative model, a capitalised word of the notes, a medical ending): "Betadine", "Whipple's" are no person."""
    return word in vocabulary.load() or word in vocabulary.capitals() or narrative.load()[0].get(word, 0.0) > 0.0 or \
        _MEDICAL_ENDING.search(word) is not None


# what a lone capitalised word names when such a noun follows it: an eponym's thing ("Joseph scissors",
# "Shimada histology", "Alzheimer type"), a word leading a phrase ("Empiric therapy"), not a person
_NAMED_THING = re.compile(r"(?:'s)? (?:type|histology|classification|criteria|stage|grade|scissors|forceps|clamp|retractor"
                          r"|position|incision|suture|stitch|catheter|tube|needle|therapy|coverage|fracture|repair|technique"
                          r"|approach|method|rule|index|reflex|phenomenon|lesion|node|nodes|cell|cells|line|lines|cannula|stent|valve"
                          r"|graft|implant|device|pump|drops|eyedrops|solution|cream|ointment|tablets?|capsules?"
                          r"|\d+(?:\.\d+)?\ ?(?:mg|mcg|g|ml|units?|%))\b")   # ("Lutein 20 mg": a drug)


def _term_at(lower: str, p: int, signals: HealthSignals) -> bool:
    """A health term of `signals` starts at `p`."""
    after = lower[p:p + 40]
    return any(after.startswith(term) for term in signals.terms)


def _owns_health(lower: str, e: int, signals: HealthSignals) -> bool:
    """The word ending at `e` owns a health term of `signals`: "Alberico's EpiPen", "Favian's Parkinson's"."""
    return lower.startswith("'s ", e) and _term_at(lower, e + 3, signals)


def _specific(signals: HealthSignals) -> bool:
    """A term of a specific kind (a condition, drug, lab, procedure: not a weak or everyday clinical
    word) or one with a dose, value or cue: what a note says of its patient, not a news story's anatomy."""
    return bool(signals.strong) or any(not k.endswith("_weak") and k != "clinical_word" for k in signals.terms.values())


_ON_BEFORE = re.compile(r"(?:on|for) $")


def _tested_on(lower: str, s: int, signals: HealthSignals) -> bool:
    """A health term stands right before "on"/"for" and the word at `s`: "the STAT troponin + BMP on
    Zetticci", "CT chest on Kloz" (a test of that person)."""
    if not _ON_BEFORE.search(lower, max(0, s - 4), s):
        return False
    before = lower[max(0, s - 44):s - 3]
    return any(term in before for term in signals.terms)   # ("troponin + BMP on X": the test may lead a list)


def _term_follows(lower: str, e: int, signals: HealthSignals) -> bool:
    """A health term of `signals` starts right after the word ending at `e`."""
    return lower.startswith(" ", e) and _term_at(lower, e + 1, signals)


# news of a public figure's health ("former senator Oyelaran's melanoma"): no patient of the sender's
_PUBLIC_FIGURE = re.compile(r"(?<![a-z])(?:senator|president|governor|mayor|congress(?:wo)?man|rep\.|actor|actress|singer"
                            r"|rapper|star|ceo|king|queen|prince|princess|pope|minister|coach|quarterback|pitcher)\s+$")
_ENGLISH_ENDING = re.compile(r"(?:ing|ly|ed|ment|tion|ness|able|ible)$")
_PROPER_AFTER = regex.compile(r"\ \p{Lu}", regex.VERSION0)
_PLACES = "in|at|from|near|to|of|via"   # a place's prepositions ("in Las Cruces", "for Houston 78F")
_PLACE_BEFORE = re.compile(rf"(?<![a-z])(?:{_PLACES}|for) $")
_NOT_PERSON_BEFORE = re.compile(rf"(?:(?<![a-z])(?:{_PLACES})|(?:positive|negative) for|\d) $")
_NUMBER_AFTER = re.compile(r":? ?\d")


def _leads_a_firm(word: str, text: str) -> bool:
    """The text also writes `word` before a capitalised English word ("Enron Global LNG"): a firm's,
    a place's or a product's name, not a person's (whose surname English does not write: "Favian Rangel")."""
    for m in regex.finditer(regex.escape(word) + r"\ (\p{Lu}\p{Ll}+)", text):
        if given_names.zipf(m.group(1).lower()) >= given_names.RARE and not given_names.given(m.group(1)):
            return True
    return False


MENTION_TEXT = 4000   # a text this short (a note, a message) is about one person; longer ones are not read so
MAX_MENTIONS = 4      # paragraphs read per text for such words
MENTION_PARAGRAPH = 600   # characters of a paragraph read, at most (around the word when it is longer)


def _paragraph(lower: str, s: int, e: int) -> tuple[int, int]:
    """The paragraph of s..e (blank lines end it), at most MENTION_PARAGRAPH characters of it: one
    window for every word of a short paragraph."""
    start = lower.rfind("\n\n", 0, s)
    lo = start + 2 if start >= 0 else 0
    end = lower.find("\n\n", e)
    hi = end if end >= 0 else len(lower)
    if hi - lo > MENTION_PARAGRAPH:
        lo, hi = max(lo, s - MENTION_PARAGRAPH // 2), min(hi, e + MENTION_PARAGRAPH // 2)
    return lo, hi


def mentioned(text: str, lower: str, health_of: HealthOf, hits: list[Hit], signed: identifiers.SignOff) -> None:
    """The person a short clinical note tells of, by a word no English text writes (or a census given
    name) anywhere outside a sign-off, with one person spoken of and health information at the titled
    bar on its paragraph; the words no health term of that window. HEADING."""
    if len(text) > MENTION_TEXT:
        return
    read: dict[tuple[int, int], HealthSignals | None] = {}   # a paragraph's words share its reading
    spoken: dict[tuple[int, int], bool] = {}                  # and whether it speaks of one person
    listed = given_names.load()
    for m in _MENTION.finditer(text):
        first, last = m.group("first", "last")
        if first in _NOT_NAMES:
            continue
        if first in listed or given_names.zipf(first.lower()) < given_names.RARE:   # (a capitalised word: as listed)
            if last is not None and (first in listed or given_names.unlisted_name(first, last)):
                m_name, s, e = m.group("name"), m.start(), m.end()
            elif last is None:
                m_name, s, e = first, m.start(), m.end()
            else:
                continue   # "Enron Global": a word of a longer proper name (a firm, a place, a product)
        elif last is not None and given_names.zipf(last.lower()) < given_names.RARE and not _PROPER_AFTER.match(text, m.end()):
            m_name, s, e = last, m.start("last"), m.end()   # "Jens Kreutzmann": a surname after a given name English writes
        else:
            continue
        if _NOT_PERSON_BEFORE.search(lower, max(0, m.start() - 14), m.start()) or \
                _PUBLIC_FIGURE.search(lower, max(0, m.start() - 30), m.start()) or \
                (" " not in m_name and _NUMBER_AFTER.match(text, e)):
            continue   # "in Las Cruces", "positive for Nitrazine", "#8 Shiley": a place, a test, a size; "Birthdate 03/01"
        if m_name not in listed and _ENGLISH_ENDING.search(m_name):
            continue   # "Resubmitting", "Irregularly": an English word's inflection, not a name
        key = _paragraph(lower, s, e)
        if key not in spoken:
            spoken[key] = _ONE_PERSON.search(lower, *key) is not None
        owns = lower.startswith("'s ", e)
        tested = _ON_BEFORE.search(lower, max(0, s - 4), s) is not None   # ("troponin + BMP on Zetticci")
        if not (spoken[key] or owns or tested) or signed.below(s) or any(_clinical_word(w.lower()) for w in m_name.split()) \
                or (" " not in m_name and _NAMED_THING.match(lower, e)):
            continue   # no one person spoken of on the paragraph, no possession or test of the word's; a clinical word
        if _DOCTOR_BEFORE.search(lower, max(0, s - 10), s) or _staff(lower, s, e) or \
                _provider_or_place(m_name, text, e) or _AFTER_MENTION_NOT.match(lower, e) or _EPONYM.match(lower, e):
            continue
        if key not in read:
            if len(read) >= MAX_MENTIONS:
                return
            read[key] = health_of(*key)
        signals = read[key]
        if signals is None or _names_a_term(lower[s:e], signals) or \
                not (spoken[key] or _owns_health(lower, e, signals) or _tested_on(lower, s, signals)) or \
                not _specific(signals) or (not owns and _term_follows(lower, e, signals)):
            continue   # ("Transthoracic echocardiogram": the word leads the term it qualifies)
        if stated(signals, True) and (" " in m_name or not _leads_a_firm(m_name, text)):
            hits.append(Hit("name", m_name, s, e, 0.6, "heading"))
            return


# "Subject: visit update - Lennox" / "Saw Lennox this afternoon. Pain 7/10 ... Roxanol 10mg SL q2h": the person
# a subject names by its shape (after a dash, "on", "re", "for" or a colon; before "'s" or a dash at its start),
# named again in a short text whose paragraph there holds specific health information at the titled bar
_TOPIC = regex.compile(r"(?:(?:\ [\-\u2013:]|\ on|\ re:?|\ for|\ of)\ (?P<after>\p{L}[\p{L}'\-]{2,})"
                       r"(?:\ (?P<last>\p{L}[\p{L}'\-]{2,}))?(?:\ *$|\ [\-\u2013(])"
                       r"|^(?:(?i:re|fw|fwd):\ )*(?P<lead>\p{Lu}[\p{Ll}'\-]{2,})(?:\ (?P<lead2>\p{Lu}[\p{Ll}'\-]{2,}))?"
                       r"(?:'s|\ [\-\u2013:]))", regex.VERSION0)   # ("Caitlin Lennox - VL")
TOPIC_RARE = 4.0   # a subject's word English writes less than once in 10,000 words ("Lennox" 3.2, "Jens" 3.0)


def subject_named(text: str, lower: str, health_of: HealthOf, hits: list[Hit], signed: identifiers.SignOff,
                  subject: str) -> None:
    """The person the subject names by its shape (`_TOPIC`), where a short text names them again (any
    case) with specific health information at the titled bar on that paragraph. HEADING."""
    if len(text) > MENTION_TEXT:
        return
    words = []
    cased = subject != subject.lower()   # a subject written in capitals and small letters names a person capitalised
    for m in _TOPIC.finditer(subject[:200]):
        for w in (m.group("after"), m.group("last"), m.group("lead"), m.group("lead2")):
            if w and (w[0].isupper() or not cased) and w.title() not in _NOT_NAMES and \
                    (given_names.given(w) or given_names.zipf(w.lower()) < TOPIC_RARE) and \
                    not _clinical_word(w.lower()) and not _ENGLISH_ENDING.search(w.lower()):
                words.append(w.lower())
    for w in dict.fromkeys(words[:3]):
        for n, at in enumerate(re.finditer(r"(?<![\w'\-])" + re.escape(w) + r"(?![\w\-])", lower)):
            s, e = at.span()
            if n >= 3:
                break
            if signed.below(s) or _DOCTOR_BEFORE.search(lower, max(0, s - 10), s) or _provider_or_place(text[s:e], text, e) \
                    or _AFTER_MENTION_NOT.match(lower, e) or _EPONYM.match(lower, e) or _NAMED_THING.match(lower, e):
                continue
            signals = health_of(*_paragraph(lower, s, e))
            if signals is None or _names_a_term(w, signals) or not _specific(signals) or _term_follows(lower, e, signals):
                continue
            if stated(signals, True):
                hits.append(Hit("name", text[s:e], s, e, 0.6, "heading"))
                return


# "I was seen at your urgent care on Sunday for my right ankle ... Should I still be walking on it?\n\nThanks,\nZoe
# Young": a patient (or a relative: "my husband had a stent put in") writing to their care, who signs with their name
_FIRST_PERSON = re.compile(r"(?<![a-z])(?:i|i'm|i've|i'd|my)(?![a-z'])")
_CARE_SOUGHT = re.compile(r"(?<![a-z])(?:your (?:clinic|office|urgent care|practice|er|pharmacy)|the doctor|dr\.|doctor"
                          r"|appointment|appt|prescription|refill|(?:was|were|be|been|get) seen|nurse|should (?:i|he|she|we))"
                          r"(?![a-z])")
_TO_COLLEAGUES = re.compile(r"\s*(?:hi|hello|hey|dear|good morning)?,?\s*(?:team|all|everyone|folks|guys|y'all|boss)\b")
SIGNED_REACH = 60   # characters after a sign-off line where the writer's name stands


def signed_writer(text: str, lower: str, health_of: HealthOf, hits: list[Hit]) -> None:
    """The name signing a short first-person message that seeks care ("should I", "your urgent care",
    "the doctor") and tells of the writer's or a relative's health (a specific term above the sign-off):
    a name alone on its line, a census given name or one English does not write, no credential or place
    after it; not a note to colleagues ("Hi team"). HEADING."""
    if len(text) > MENTION_TEXT:
        return
    sign = identifiers.SIGN_OFF.search(text)
    if sign is None or sign.start() < 40:
        return
    m = SIGNED_NAME.match(text, sign.end())   # the name first: most sign-offs are a colleague's signature block
    if m is None or m.end() - sign.end() > SIGNED_REACH:
        return
    words = m.group("name").split()
    if words[0] in _NOT_NAMES or not (given_names.given(words[0]) or
                                      all(given_names.zipf(w.lower()) < given_names.RARE for w in words)) or \
            _provider_or_place(m.group("name"), text, m.end("name")):
        return
    above = lower[:sign.start()]
    if _TO_COLLEAGUES.match(above) or _CARE_SOUGHT.search(above) is None or len(_FIRST_PERSON.findall(above)) < 2:
        return   # ("Hi team, I'm out today with the flu": a colleague's own news, not a patient writing in)
    signals = health_of(0, sign.start())
    if signals is not None and _specific(signals) and stated(signals) and not _names_a_term(m.group("name").lower(), signals):
        hits.append(Hit("name", m.group("name"), m.start("name"), m.end("name"), 0.6, "heading"))


# the writer's name on the line after the sign-off, alone on its line (a staff signature goes on with a title or a place)
SIGNED_NAME = regex.compile(r"\s*(?P<name>\p{Lu}\p{Ll}+(?:\ \p{Lu}\p{Ll}+)?)[ \t]*(?:\n|$)", regex.VERSION0)


# "Can u call Yuri back re her potassium 2.9? 464-204-3393": a callback to a person by first name
CALL_NAME = regex.compile(r"(?<![\p{L}])(?i:call|text|reach|contact)\ (?P<first>\p{Lu}\p{Ll}+)(?![\p{L}\-])", regex.VERSION0)
CALL_REACH = 80   # characters before a number, on its line, where the callback may stand
NAME_THEN_NUMBER = regex.compile(r"(?<![\p{L}])(?P<first>\p{Lu}\p{Ll}+)\ ?\($", regex.VERSION0)


def called_before(text: str, s: int) -> bool:
    """A callback to a person by a given name ("call Yuri back") stands before `s` on its line, or the
    name right before the number's parenthesis ("Hanna ((982) ..."): the number is that person's."""
    nl = text.rfind("\n", max(0, s - CALL_REACH), s)
    lo = nl + 1 if nl >= 0 else max(0, s - CALL_REACH)
    if any(given_names.given(m.group("first")) for m in CALL_NAME.finditer(text, lo, s)):
        return True
    m = NAME_THEN_NUMBER.search(text, max(lo, s - 24), s)   # "Hanna ((982) 776-9717) cancelled again"
    return m is not None and given_names.given(m.group("first"))


def _names_a_term(name: str, signals: HealthSignals) -> bool:
    """A word of the (lower-case) name is one of the window's health terms."""
    words = set(name.replace(".", " ").split())
    return any(words.intersection(term.split()) for term in signals.terms)


def line_window(lower: str, s: int, e: int, before: int, after: int) -> tuple[int, int]:
    """`before` characters before s and `after` after e, within their line: what is said of the
    person at s..e in the same breath ("Mr. Young s/p R TKA 10/30"; not the next line's news)."""
    nl = lower.rfind("\n", max(0, s - before), s)
    return (nl + 1 if nl >= 0 else max(0, s - before)), _line_stop(lower, e, after)


def paragraph_window(lower: str, s: int, e: int, before: int, after: int) -> tuple[int, int]:
    """`before` characters before s and `after` after e, within the paragraph (blank lines end it):
    where health information must stand to be about the person at s..e."""
    para = lower.find("\n\n", e, e + after)
    hi = para if para >= 0 else min(len(lower), e + after)
    start = lower.rfind("\n\n", max(0, s - before), s)
    return (start + 2 if start >= 0 else max(0, s - before)), hi


@dataclass
class NameFinder:
    nlp: Any = None
    model: str | None = None
    max_chars: int = 100_000

    @classmethod
    def create(cls, model: str | None, max_chars: int = 100_000, require: bool = False) -> NameFinder:
        if not model:
            log.info("phi: no spaCy model configured (spacy_model); person names by rule-based patterns only")
            return cls(None, None, max_chars)
        try:
            import spacy

            nlp = spacy.load(model)
        except Exception as exc:  # an absent package, a bad path, an incompatible pipeline
            if require:
                raise RuntimeError(f"spaCy model could not be loaded ({type(exc).__name__})") from None
            log.warning("phi: spaCy model %r could not be loaded (%s); person names by rule-based patterns only",
                        model, type(exc).__name__)
            return cls(None, None, max_chars)
        keep = {"ner", "entity_ruler", "tok2vec", "transformer", "span_ruler"}
        for name in [p for p in nlp.pipe_names if p not in keep]:
            nlp.disable_pipe(name)   # only what finds entities runs per message
        if not any(p in nlp.pipe_names for p in ("ner", "entity_ruler", "span_ruler")):
            log.warning("phi: spaCy pipeline %r has no entity recogniser; names by patterns only", model)
        log.info("phi: spaCy pipeline %r loaded (%s)", model, ", ".join(nlp.pipe_names) or "tokenizer only")
        return cls(nlp, model, max_chars)

    @staticmethod
    def _titled(text: str, lower: str, kw: Keywords, clock: Deadline, health_of: HealthOf | None = None) -> list[Hit]:
        """'Mrs. Gonzalez (DOB ...)': the patient; 'the patient, Mrs. Gonzalez' or 'Mr. Young s/p R TKA'
        (a statement of health on its line, `stated`): a person the mail is about, who counts
        once health information stands in it (check.py: HEADING). Alone a title is weak: news and
        business mail name "Mr. Lay" (and "Mr Universe") beside any topic, now and then beside one
        condition ("a heart attack"), rarely on the line of a dose, a value or two health terms."""
        hits: list[Hit] = []
        for t in _TITLE_AT.finditer(lower, lower):
            clock.tick()
            p = t.start()
            if len(hits) >= MAX_TITLED:
                break   # a name counts once: thousands of "Mr. X" decide nothing more
            if (p and lower[p - 1].isalnum()) or lower.endswith("dear ", max(0, p - 5), p):
                continue   # inside a word; "Dear Mr. Roe" is the letter's (DEAR)
            m = HONORIFIC.match(text, p)
            if not m or m.group("name").split()[0] in _NOT_NAMES or _provider_or_place(m.group("name"), text, m.end()):
                continue
            s, e = m.span("name")
            if kw.near("dob", s, e, 100, 100):
                hits.append(Hit("name", m.group("name"), s, e, 0.9, "patient"))
            elif _PATIENT_NEAR.search(lower, max(0, s - 60, lower.rfind("\n", max(0, s - 60), s) + 1),
                                      _line_stop(lower, e, 60)) is not None:
                hits.append(Hit("name", m.group("name"), s, e, 0.6, "heading"))
            elif health_of is not None and stated(health_of(*line_window(lower, s, e, GIVEN_BEFORE, TITLED_WINDOW)), True):
                hits.append(Hit("name", m.group("name"), s, e, 0.6, "heading"))
            else:
                hits.append(Hit("name", m.group("name"), s, e, 0.5, None))
        return hits

    @staticmethod
    def _before_dates(text: str, clock: Deadline) -> list[Hit]:
        """'LAST, FIRST' right before a birth-like date is a patient (0.85); 'First Last (date)' a
        person the mail is about, who counts beside health information (HEADING)."""
        hits: list[Hit] = []
        for d in _DATE_RUN.finditer(text):
            clock.tick()
            if len(hits) >= MAX_TITLED:
                break
            p = d.start()
            if not _DATE.fullmatch(d.group()) or (p and text[p - 1] in "./-") or \
                    not identifiers.plausible_birth_date(d.group()) or _TIME_AFTER.match(text, d.end()) or \
                    not _capitalised_before(text, p):
                continue
            m = LAST_FIRST_BEFORE_DATE.search(text, max(0, p - 48), p)
            strong = m is not None
            if m is None:
                m = NAME_BEFORE_DATE.search(text, max(0, p - 48), p)
            if m is None:   # "Daniel Andreasen 1940-11-25 - peanut": a person by a given name (or its shape)
                m = NAME_SPACE_DATE.search(text, max(0, p - 48), p)
                words = m.group("name").split() if m is not None else []
                if m is not None and not (given_names.given(words[0]) or given_names.unlisted_name(words[0], words[-1])):
                    continue
            if m is None or m.group("name").split()[0].rstrip(",") in _NOT_NAMES or \
                    _provider_or_place(m.group("name"), text, m.end("name")):
                continue
            s, e = m.span("name")
            hits.append(Hit("name", m.group("name"), s, e, 0.85 if strong else 0.6, "patient" if strong else "heading"))
        return hits

    @staticmethod
    def _given(text: str, lower: str, clock: Deadline, health_of: HealthOf, subject: str = "") -> list[Hit]:
        """Names where a note puts its patient without a label (LINE_NAME, LEAD_NAME, RELATIVE_NAME,
        LAST_FIRST_BEFORE_NUMBER, POSSESSIVE_NAME, GREETED, LABELLED_LOWER), with health information
        in the same stretch of text (`health_of`: GIVEN_WINDOW in the paragraph; inside a line, on
        the line at the titled bar): a person the mail is about. News and lists name people at a
        line's start too ("Steve Jobs unveil ..."), rarely beside a diagnosis."""
        hits: list[Hit] = []
        signed = identifiers.SignOff.of(text)

        def take(m: Any, strict: bool = False, unlisted: bool = False, before: int = GIVEN_BEFORE) -> None:
            name, s, e = m.group("name"), m.start("name"), m.end("name")
            if signed.below(s) or name.split()[-1] in _NOT_NAMES or _provider_or_place(name, text, e) or \
                    _PLACE_WORDS.intersection(lower[e:e + 16].split()[:1]) or _EPONYM.match(lower, e):
                return
            # inside a line, as a title is: what the line says of the person, at the titled bar
            window = line_window(lower, s, e, GIVEN_BEFORE, TITLED_WINDOW) if strict else \
                paragraph_window(lower, s, e, before, GIVEN_WINDOW)
            signals = health_of(*window)
            if unlisted and signals is not None and _names_a_term(lower[s:e], signals):
                return   # "Plavix Eliquis": the words are the health terms, not a person
            if stated(signals, strict):
                hits.append(Hit("name", name, s, e, 0.6, "heading"))

        def named(m: Any) -> tuple[bool, bool]:
            """(a person's name, by the census list or else by its shape; by its shape only)"""
            if given_names.given(m.group("first")):
                return True, False
            shaped = given_names.unlisted_name(m.group("first"), m.group("name").split()[-1])
            return shaped, shaped

        if len(lower) == len(text):
            first = FIRST_LINE_NAME.match(text)
            head = len(text) - len(text.lstrip())   # where the text's first line starts, and ends
            nl = text.find("\n", head)
            head_end = nl if nl >= 0 else len(text)
            for m in itertools.chain([first] if first else [], LINE_NAME.finditer(text)):
                clock.tick()
                if len(hits) >= MAX_GIVEN:
                    break
                person, unlisted = named(m)
                if not person:
                    continue
                word = m.group("word")
                if word is not None and word in _NOT_STATEMENTS:
                    continue
                if not m.group("after").strip(" \t") and m.start("name") > head_end:
                    continue   # a name alone on a line heads the mail only as its first line
                take(m, unlisted=unlisted)
            for t in _LEAD_AT.finditer(lower, lower):
                clock.tick()
                p = t.start()
                if len(hits) >= MAX_GIVEN:
                    break
                if (p and lower[p - 1].isalnum()) or not text[t.end():t.end() + 1].isupper():
                    continue
                m = LEAD_NAME.match(text, t.end())
                if m is None:
                    continue
                person, unlisted = named(m)
                if _LIST_AFTER.match(text, m.end()):
                    continue   # "it's Eddie Murphy, Randy Quaid, ...": a cast list, no introduction
                if person or (t.group() != "for " and _SENTENCE_END.match(text, m.end())):
                    # "this is Hilding Carlsson.", "my name is ...", "it's Yuri Bulgakov, the ...", "She's
                    # Yuito Hirai." introduce a person by any name, ending a clause (what is said of them may
                    # come first: the paragraph's GIVEN_WINDOW on either side)
                    take(m, unlisted=unlisted, before=GIVEN_BEFORE if t.group() in ("for ", "on ") else GIVEN_WINDOW)
            for t in _RELATIVE_AT.finditer(lower, lower):
                clock.tick()
                if len(hits) >= MAX_GIVEN:
                    break
                m = RELATIVE_NAME.match(text, t.end())
                if m is not None and (t.start() == 0 or not lower[t.start() - 1].isalnum()) and \
                        m.group("name").split()[0] not in _NOT_NAMES:
                    take(m)
            for n in _PAREN_NUMBER.finditer(text):
                clock.tick()
                if len(hits) >= MAX_GIVEN:
                    break
                m = LAST_FIRST_BEFORE_NUMBER.search(text, max(0, n.start() - 40), n.start())
                if m is not None and m.group("name").split(",")[0] not in _NOT_NAMES:
                    take(m, strict=True)
            p = text.find("'s ")
            while p >= 0 and len(hits) < MAX_GIVEN:
                clock.tick()
                # the two words before it (one try of the pattern, at the first of them, not a search)
                k = text.rfind(" ", max(0, p - 48), p)
                k = text.rfind(" ", max(0, p - 48), k) if k > 0 else -1
                if k >= 0 and text[k + 1:k + 2].isupper():
                    m = POSSESSIVE_NAME.match(text, k + 1, p)
                    if m is not None and not line_start(lower, k + 1):   # at a line's start LINE_NAME has it
                        person, unlisted = named(m)
                        if person:
                            take(m, strict=True, unlisted=unlisted)
                p = text.find("'s ", p + 3)
            for u in _AGE_UNIT_AT.finditer(lower, lower):
                clock.tick()
                if len(hits) >= MAX_GIVEN:
                    break
                a = _AGE_NUMBER.search(lower, max(0, u.start() - 5), u.start())
                if a is None:
                    continue
                words = text[max(0, a.start() - 40):a.start()].split()[-3:]
                if len(words) < 2 or not (given_names.given(words[-2]) or given_names.given(words[0]) or words[-1].istitle()):
                    continue   # neither a given name before the age nor a capitalised one (a cheap test first)
                m = AGE_NAME.search(text, max(0, a.start() - 40), a.start())
                if m is not None:
                    person, unlisted = named(m) if m.group("name").istitle() else (given_names.given(m.group("first")), False)
                    if person and m.group("first").title() not in _NOT_NAMES:
                        take(m, unlisted=unlisted)
            for opening, pattern in ((_GREETING_AT, GREETED), (_LABEL_AT, LABELLED_LOWER)):
                for t in opening.finditer(lower, lower):   # at a line's start: "Dear eva kleist,", "Re: olga krylova"
                    clock.tick()
                    p = t.start()
                    if len(hits) >= MAX_GIVEN:
                        break
                    if (p and lower[p - 1].isalnum()) or not line_start(lower, p):
                        continue
                    m = pattern.match(text, p)
                    if m is None:
                        continue
                    person, unlisted = named(m) if pattern is GREETED and m.group("name").istitle() else \
                        (given_names.given(m.group("first")), False)
                    if person:
                        take(m, unlisted=unlisted)
            tries = 0
            for x in _SEX_LETTER.finditer(text):   # "401 Umkhayev 78F - CAP, on 2L": a census row's patient by age and sex
                clock.tick()
                if len(hits) >= MAX_GIVEN or tries >= MAX_GIVEN:
                    break   # (a text of a million "12M" decides nothing more after MAX_GIVEN of them)
                q = x.start() - 1 if text[x.start() - 1:x.start()] == " " else x.start()
                if not text[q - 1:q].isdigit():
                    continue   # (the sex letter first, found by a plain scan: 4x a search for the whole pattern)
                a = _AGE_SEX.search(text, max(0, q - 4), x.end())
                if a is None:
                    continue
                tries += 1
                p = a.start() - 1 if text[a.start() - 1:a.start()] == " " else -1
                p = p - 1 if p > 0 and text[p - 1] == "," else p   # "412 - Tolbert, 78F, CHF exacerbation"
                aged = BED_NAME.search(text, max(0, p - 40), p) if p > 0 else None
                if aged is not None and aged.group("name").split()[0] not in _NOT_NAMES and \
                        not _PLACE_BEFORE.search(lower, max(0, aged.start() - 14), aged.start()):   # "for Houston 78F"
                    take(aged, strict=True)
            for tried, o in enumerate(_ROOM_AT.finditer(lower, lower)):   # "rm 12 Nishiyama - s/p lap chole": a census line
                clock.tick()
                if len(hits) >= MAX_GIVEN or tried >= MAX_GIVEN:
                    break
                r = _ROOM_FIRST.match(text, o.start())
                if r is not None and r.group("name").split()[0] not in _NOT_NAMES and line_start(lower, r.start()):
                    take(r, strict=True)
            for b in _BED_AT.finditer(lower, lower):   # "Souza in bed 7 pulled her picc": a patient by where they lie
                clock.tick()
                if len(hits) >= MAX_GIVEN:
                    break
                m = BED_NAME.search(text, max(0, b.start() - 40), b.start())
                if m is not None and m.group("name").split()[0] not in _NOT_NAMES and \
                        (" " in m.group("name") or given_names.zipf(m.group("name").lower()) < SURNAME_RARE):
                    take(m, strict=True)
            second_person(text, lower, health_of, hits)
            greeted_family(text, lower, health_of, hits, signed)
            if not hits:
                mentioned(text, lower, health_of, hits, signed)
            if not hits and subject:
                subject_named(text, lower, health_of, hits, signed, subject)
            if not hits:
                signed_writer(text, lower, health_of, hits)
        return hits

    def find(self, text: str, kw: Keywords, lower: str | None = None, clock: Deadline = NO_DEADLINE,
             health_of: HealthOf | None = None, subject: str = "") -> list[Hit]:
        """The names of `text`. `health_of(lo, hi)` (the check's health lexicon) says how surely a stretch of
        it holds health information; without it names by a given name alone are not looked for. `subject`:
        the mail's subject, whose person-shaped words the text may name again (`subject_named`)."""
        hits: list[Hit] = []
        lower = lower if lower is not None else text.lower()
        if len(lower) != len(text):
            lower = text   # rare: lower-casing changed the length; triggers then see only lower-case words
        seen_end = -1
        for t in _TRIGGER_AT.finditer(lower, lower):
            clock.tick()
            p = t.start()
            word = t.group()
            if p < seen_end or (p and lower[p - 1].isalnum()) or \
                    (word[-1].isalpha() and t.end() < len(lower) and lower[t.end()].isalpha() and word != "patient"):
                continue
            if word.startswith(("dob", "d.o.b", "born", "date of", "y/o", "yo", "year", "age", "mrn", "ssn", "mbi", "acct")):
                # every form of BEFORE_ID ends in a capitalised word: a cheap test before the pattern
                m = BEFORE_ID.search(text, max(0, p - 48), p) if _capitalised_before(text, p) else None
                if m and m.group("name").split()[0].rstrip(",") not in _NOT_NAMES and \
                        (m.group("surname") is None or ("(" in m.group("sep") and word.startswith(_RECORD_TRIGGERS) and
                                                        given_names.zipf(m.group("surname").lower()) < SURNAME_RARE)) and \
                        not _provider_or_place(m.group("name"), text, m.end("name")):
                    hits.append(Hit("name", m.group("name"), m.start("name"), m.end("name"), 0.9,
                                    "dob" if word[0] in "dby" or word.startswith("age") else "patient"))
                continue
            if word == "dear ":
                m = DEAR.match(text, p)
                if m and m.group("name").split()[0] not in _NOT_NAMES:
                    s, e = m.span("name")
                    # a letter to a person: theirs is the health information it carries (check.py: HEADING)
                    conf = 0.8 if kw.near("dob", s, e, 200, 200) else 0.6
                    hits.append(Hit("name", m.group("name"), s, e, conf, "patient" if conf >= 0.8 else "heading"))
                    seen_end = e
                continue
            m = LABELLED.match(text, p)
            if m is None and word in ("pt", "patient"):
                m = PT_SURNAME.match(text, p)   # "pt Gairbekov in 4B-12": a surname English never writes
                if m is not None and given_names.zipf(m.group("name").lower()) < given_names.RARE and \
                        m.group("name") not in _NOT_NAMES and m.group("name") not in _PATIENT_COMPOUNDS:
                    hits.append(Hit("name", m.group("name"), m.start("name"), m.end("name"), 0.6, "heading"))
                continue
            if not m or m.group("name").split()[0].rstrip(",") in _NOT_NAMES:
                continue
            label = m.group("kw").lower()
            s, e = m.span("name")
            if m.group("sep").strip() in ("", ",") and m.group("sep") != "\t":
                # "our patient Jane Roe": only after a possessive, and only for patient-like labels
                before = lower[max(0, p - 6):p].split()
                if not label.startswith(_STRONG_LABELS):
                    continue
                if not before or before[-1] not in _POSSESSIVE:
                    # "Patient Maria Gonzalez" heading its line, as a form prints it (not "Patient Portal Message")
                    if line_start(lower, p) and m.group("sep") == " " and label in ("patient", "pt", "pt.", "member") and \
                            m.group("name").split()[0] not in _PATIENT_COMPOUNDS and \
                            not _provider_or_place(m.group("name"), text, e):
                        hits.append(Hit("name", m.group("name"), s, e, 0.6, "heading"))
                        seen_end = e
                    continue
                if m.group("name").split()[0] in _PATIENT_COMPOUNDS:
                    continue   # "for patient Access Services"
                conf = 0.9
            elif label.startswith(_STRONG_LABELS) or kw.near("dob", s, e, 100, 100):
                conf = 0.9
            elif line_start(lower, p) and (_record_follows(kw, lower, s, e) or (label == "name" and _line_end(lower, e))):
                # "Re: Jane Roe" / "Name: Jane Roe" heading a line, with the person's DOB, SSN, MBI or record
                # number just below, or "Name: Jane Roe" as a line of its own: the person the mail is about
                # ("Re: Faculty Lunch" has none; "Re:" alone heads subjects: "Re: Virginia Power")
                conf = 0.85
            elif (line_start(lower, p) or (label == "name" and m.group("sep").strip() == ":") or
                  (label == "re" and m.group("sep").strip() == ":" and given_names.given(m.group("name").split()[0]))) and \
                    not _provider_or_place(m.group("name"), text, e):
                # ("Consult request re: Albert Svenningsen": a subject's "re:" before a person by a given name)
                # "Re: Jane Roe" heading a line with nothing of a record below, or a form's "Name: Jane Roe"
                # inside a sentence: a person the mail is about, who counts once health information
                # stands in the same mail (check.py: HEADING). "Re:" inside a sentence quotes a subject.
                hits.append(Hit("name", m.group("name"), s, e, 0.6, "heading"))
                seen_end = e
                continue
            else:
                conf = 0.6
            hits.append(Hit("name", m.group("name"), s, e, conf, "patient" if conf >= 0.8 else None))
            seen_end = e
        hits.extend(self._titled(text, lower, kw, clock, health_of))
        hits.extend(self._before_dates(text, clock))
        seen = {(h.start, h.end) for h in hits}
        if health_of is not None:
            hits.extend(h for h in self._given(text, lower, clock, health_of, subject) if (h.start, h.end) not in seen)
        if self.nlp is not None:
            hits.extend(self._recognised(text, lower, kw, {(h.start, h.end) for h in hits}, health_of))
        return hits

    def _recognised(self, text: str, lower: str, kw: Keywords, seen: set[tuple[int, int]],
                    health_of: HealthOf | None) -> list[Hit]:
        """The model's PERSON entities shaped as a name (two or three capitalised words, the first a
        given name or both no English word: the small models call "CT Brain" a person) that the mail
        says something of health about: in a paragraph whose health information passes the titled bar (two terms, or a dose,
        value or cue), its words no health term and not below the sign-off; beside a patient word or a
        DOB as well, the patient (0.85), else a person the mail is about (HEADING). A PERSON alone, or
        beside the word "patient" in news or a thank-you ("be patient with Jane Roe"), decides nothing."""
        out: list[Hit] = []
        signed = identifiers.SignOff.of(text)
        doc = self.nlp(text[: self.max_chars])
        for ent in doc.ents:
            words = ent.text.split()
            if ent.label_ != "PERSON" or (ent.start_char, ent.end_char) in seen or not 2 <= len(words) <= 3 or \
                    "\n" in ent.text:
                continue
            s, e = ent.start_char, ent.end_char
            if not all(w.istitle() and w.isalpha() for w in words) or \
                    not (given_names.given(words[0]) or given_names.unlisted_name(words[0], words[-1])):
                out.append(Hit("name", ent.text, s, e, 0.5, None))   # "CT Brain", "Versed 7": not shaped as a name
                continue
            signals = health_of(*paragraph_window(lower, s, e, GIVEN_BEFORE, GIVEN_WINDOW)) if health_of else None
            if signed.below(s) or not stated(signals, True) or (signals is not None and _names_a_term(lower[s:e], signals)) \
                    or _provider_or_place(ent.text, text, e) or _DOCTOR_BEFORE.search(lower, max(0, s - 10), s):
                out.append(Hit("name", ent.text, s, e, 0.5, None))
                continue
            anchored = kw.near("patient", s, e, 80, 10) or kw.near("dob", s, e, 10, 80)
            out.append(Hit("name", ent.text, s, e, 0.85 if anchored else 0.6, "patient" if anchored else "heading"))
        return out
