"""Inputs the fuzzers found that once broke something; each must now get a verdict quietly."""

from __future__ import annotations

import pytest

from outguard.core.message import parse_message

CASES = {
    # atheris, fuzz/fuzz_outguard.py: codecs.lookup raised ValueError on a NUL in the charset
    "nul-in-charset": b"Subject: a\nMIME-Version: 1.0\nContent-Type: text/plain; charset=\"utf\x00-8\"\n\nbody\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_fuzz_finding_no_longer_breaks_inspection(name: str, outguard_harness) -> None:
    raw = CASES[name]
    parse_message(raw)
    result = outguard_harness().check(raw)
    assert not any(f.id == "error.internal" for f in result.findings)
    assert result.decision.verdict == "deliver"


def test_control_character_in_a_rule_file_is_a_file_line_error(tmp_path, config) -> None:
    """atheris: yaml's reader raised outside the loader's error handling (a traceback, no file:line)."""
    from outguard.rules.loader import RuleSetError, load_rules

    path = tmp_path / "r.yaml"
    path.write_bytes(b"rules: []\n# fine\nRRRR\x08RRR: 1\n")
    with pytest.raises(RuleSetError, match=rf"{path}:3: not YAML text"):
        load_rules(config, [path], include_defaults=False)


def test_atheris_slice_runs_clean(tmp_path) -> None:
    """The CI slice of fuzz/fuzz_outguard.py (fuzz/run runs it for 10 minutes on demand)."""
    import subprocess
    import sys

    pytest.importorskip("atheris", reason="atheris has wheels for x86_64 CPython <= 3.11 only")
    from helpers import PROJECT

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "seed").write_bytes(CASES["nul-in-charset"])
    proc = subprocess.run([sys.executable, str(PROJECT / "fuzz" / "fuzz_outguard.py"), "-max_total_time=20",
                           "-timeout=10", "-rss_limit_mb=2048", f"-artifact_prefix={tmp_path}/", str(corpus)],
                          capture_output=True, text=True, timeout=120, env={"PYTHONSAFEPATH": "1", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Done" in proc.stderr
