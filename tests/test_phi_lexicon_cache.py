"""The lexicon cache: what it reads back is the lexicon that was built; a bad or stale file is rebuilt."""

from __future__ import annotations

from pathlib import Path

import pytest

from outguard_plugins.phi import context, lexicon_cache


@pytest.fixture
def small() -> context.Lexicon:
    lex = context.Lexicon()
    for phrase, kind in (("asthma", "condition"), ("type 2 diabetes mellitus", "condition"),
                         ("metformin", "medication"), ("ALT", "lab_abbrev"), ("o'brien sign", "condition_weak")):
        lex.add(phrase, kind)
    return lex


def test_dump_then_load_is_the_same_lexicon(small: context.Lexicon) -> None:
    back = lexicon_cache.load(lexicon_cache.dump(small), context.Lexicon)
    assert back is not None
    assert back.phrases == small.phrases and back.first == small.first


@pytest.mark.parametrize("text", ["", "outguard-lexicon 0\ncondition\na\tasthma\n", "outguard-lexicon 1\ncondition\nz\tasthma\n",
                                  "outguard-lexicon 1\ncondition\na\tasthma"])
def test_a_file_that_is_not_a_lexicon_is_refused(text: str) -> None:
    assert lexicon_cache.load(text, context.Lexicon) is None


def test_built_once_then_read_from_the_cache(small: context.Lexicon, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTGUARD_CACHE_DIR", str(tmp_path))
    builds: list[int] = []

    def build() -> context.Lexicon:
        builds.append(1)
        return small

    first = lexicon_cache.cached(build, context.Lexicon)
    again = lexicon_cache.cached(build, context.Lexicon)
    assert builds == [1] and again is not first and again.phrases == small.phrases
    (cached_file,) = tmp_path.glob("phi-lexicon-*.txt")
    cached_file.write_text("garbage\n")
    assert lexicon_cache.cached(build, context.Lexicon).phrases == small.phrases and builds == [1, 1]


def test_an_unwritable_cache_still_gives_the_lexicon(small: context.Lexicon, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("OUTGUARD_CACHE_DIR", str(blocker / "sub"))
    assert lexicon_cache.cached(lambda: small, context.Lexicon) is small


def test_the_key_follows_the_curated_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in lexicon_cache.INPUTS:
        (tmp_path / name).write_bytes((lexicon_cache.HERE / name).read_bytes())
    monkeypatch.setattr(lexicon_cache, "HERE", tmp_path)
    before = lexicon_cache.cache_key()
    (tmp_path / "lexicon_labs.txt").write_text("HbA1c\n")
    assert lexicon_cache.cache_key() != before
