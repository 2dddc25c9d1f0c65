"""bench/sa_rules.py: SpamAssassin's Perl rules read into Python `re` with the meaning SA gives
them (anchors, classes, flags, meta logic, ReplaceTags), and a literal prefilter that never
hides a rule that would fire."""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import PROJECT

sys.path.insert(0, str(PROJECT / "bench"))
import sa_rules  # noqa: E402

HAVE_SA = (sa_rules.RULES_DIR / "50_scores.cf").is_file()


def compiled(perl: str, flags: str = "") -> re.Pattern[bytes]:
    return sa_rules.compile_perl(perl, flags)


def test_perl_only_constructs_keep_their_meaning() -> None:
    assert compiled(r"foo\z").search(b"a foo") and not compiled(r"foo\z").search(b"a foo\n")
    assert compiled(r"foo\Z").search(b"a foo\n") and not compiled(r"foo\Z").search(b"a foo\nx")
    assert compiled(r"a\hb").search(b"a\tb") and not compiled(r"a\hb").search(b"a\nb")
    assert compiled(r"[[:digit:]]{3}").search(b"x123") and not compiled(r"[[:digit:]]{3}").search(b"x12a")
    assert compiled(r"(?<w>ab)\k<w>").search(b"abab") and not compiled(r"(?<w>ab)\k<w>").search(b"abba")
    assert compiled(r"\x{41}").search(b"A")
    assert compiled(r"viagra", "i").search(b"VIAGRA") and not compiled(r"viagra").search(b"VIAGRA")
    assert compiled(r"[]x]").search(b"]")  # a leading `]` is a literal in a class, as in Perl


def test_constructs_python_lacks_are_refused_not_mistranslated() -> None:
    for perl in (r"foo\Kbar", r"a(?i)b", r"\x{263a}", r"(?|a|b)", r"\p{L}"):
        with pytest.raises(sa_rules.Untranslatable):
            compiled(perl)


def meta_value(expr: str, values: dict[str, int]) -> bool:
    py, _ = sa_rules.translate_meta(expr)
    return bool(eval(py, {"__builtins__": {}}, {"v": values}))  # noqa: S307 - test input


def test_meta_logic_is_perls() -> None:
    assert meta_value("!A && B", {"B": 1}) and not meta_value("!A && B", {"A": 1, "B": 1})
    assert meta_value("!(A || B)", {}) and not meta_value("!(A || B)", {"B": 1})
    assert meta_value("(A + B + C) > 1", {"A": 1, "C": 1}) and not meta_value("(A + B + C) > 1", {"B": 1})
    assert meta_value("A + !B > 1", {"A": 1}) and not meta_value("A + !B > 1", {"A": 1, "B": 1})
    assert sa_rules.translate_meta("__X && !__Y")[1] == ("__X", "__Y")
    with pytest.raises(sa_rules.Untranslatable):
        sa_rules.translate_meta("A &&")


def test_replace_tags_expand_like_the_plugin() -> None:
    conf = {"replace_tag": {"V": "[vV]", "I": "[i1!]"}, "replace_inter": {"W1": r"\W?"},
            "replace_pre": {}, "replace_post": {"P2": "{1,2}"}}
    out = sa_rules._replace_tags("<inter W1><post P2><V><I>", conf)
    # Perl's split keeps the empty field before a leading tag, so the plugin puts `inter` there too
    assert out == r"\W?[vV]{1,2}\W?[i1!]{1,2}"
    assert re.search(out, "v.1") and not re.search(out, "v..1")


@given(st.text(alphabet="abcdefgh xy.-", max_size=40))
@settings(max_examples=300, deadline=None)
def test_the_prefilter_never_hides_a_match(noise: str) -> None:
    """Wherever a pattern matches, one of its required literals occurs (lower-cased)."""
    for perl, flags in ((r"\bcheap\s+(?:meds|pills)\b", "i"), (r"(?:buy|order)\W{0,3}now", ""),
                        (r"abc(?:de|fg)+hi", "i"), (r"x[yz]{2}abc", "")):
        pat = compiled(perl, flags)
        lits = sa_rules.required_literals(pat)
        assert lits, perl
        for sample in (noise, "CHEAP  Meds " + noise, noise + "order-now", "abcdefgdehi" + noise, "xyzabc"):
            data = sample.encode()
            if pat.search(data):
                assert any(lit in data.lower() for lit in lits), (perl, sample)


def test_rules_without_a_usable_literal_always_run() -> None:
    assert sa_rules.required_literals(compiled(r"[a-z]{20,}")) is None
    assert sa_rules.required_literals(compiled(r"(?:a|b)c")) is None  # too short to be worth a lookup


@pytest.mark.skipif(not HAVE_SA, reason="Debian's spamassassin rules are not installed (/usr/share/spamassassin)")
def test_the_installed_rules_read_and_score() -> None:
    rs = sa_rules.read_rules()
    assert rs.counts["translated body"] > 400 and rs.counts["translated meta"] > 50
    # a meta over header rules (not run here) is dropped: it would read `!__HAS_DATE` as true
    assert "MISSING_DATE" not in rs.rules
    assert all(r.kind in ("body", "rawbody", "subject", "uri", "meta") for r in rs.rules.values())
    assert rs.score("T_SOMETHING_NEW") == 0.01 and rs.score("__SUB") == 0.0
    drugs = [r for r in rs.rules.values() if r.kind == "body" and r.name.startswith("__DRUGS_ERECTILE")]
    assert any(r.pattern is not None and r.pattern.search(b"buy viagra online now") for r in drugs)
    assert not any(r.pattern is not None and r.pattern.search(b"the minutes of tuesday's meeting") for r in drugs)


@pytest.mark.skipif(not HAVE_SA, reason="Debian's spamassassin rules are not installed (/usr/share/spamassassin)")
def test_the_experiment_scores_the_same_with_and_without_the_prefilter() -> None:
    pytest.importorskip("sklearn")
    import spam_rules_experiment as ex

    rs = sa_rules.read_rules()
    fast, slow = ex.Scorer(rs, prefilter=True), ex.Scorer(rs, prefilter=False)
    texts = [("Cheap V1AGRA!!", ["Buy viagra and cialis, no prescription needed. Order now! Lowest price $ 99",
                                 "To be removed from our mailing list reply REMOVE. http://192.168.0.1/x"]),
             ("minutes of Tuesday", ["Hi all, the minutes are attached. Please send comments by Friday.\n\nBob"])]
    fired = []
    for subject, body in texts:
        uris = [u for t in body for u in ex._URL.findall(t)]
        a, b = fast.fired(subject, body, uris), slow.fired(subject, body, uris)
        assert a == b
        fired.append(fast.score(a))
    assert fired[0] > fired[1]
