"""Rule files: file:line errors, nothing half-loads, local and override layers."""

from __future__ import annotations

from pathlib import Path

import pytest

from outguard.cli.main import main
from outguard.rules.lint import lint
from outguard.rules.loader import RuleSetError, load_rules

GOOD = """
rules:
  - id: tag-ssn
    description: tag
    status: experimental
    when:
      finding: phi.ssn
    then:
      tag: {header: X-T, value: "{finding_ids}"}
"""


def load_error(config, path: Path) -> RuleSetError:
    with pytest.raises(RuleSetError) as info:
        load_rules(config, [path], include_defaults=False)
    return info.value


def test_yaml_syntax_error_names_file_and_line(config, write_rules) -> None:
    path = write_rules("rules:\n  - id: a\n    description: [unclosed\n    status: stable\n")
    err = load_error(config, path)
    assert str(err).startswith(f"{path}:")
    assert err.errors[0].line in (3, 4)


def test_unknown_condition_is_an_error_at_its_line(config, write_rules) -> None:
    path = write_rules("""
        rules:
          - id: r1
            description: d
            status: experimental
            when:
              all:
                - finding: phi.ssn
                - finding_count_of: 3
            then: {tag: {header: X-A, value: b}}
        """)
    err = load_error(config, path)
    assert f"{path}:8:" in str(err) and "finding_count_of" in str(err)


def test_unknown_action_is_an_error_at_its_line(config, write_rules) -> None:
    path = write_rules("""
        rules:
          - id: r1
            description: d
            status: experimental
            when: {finding: x}
            then:
              encrypt: tls-required
              shred: true
        """)
    err = load_error(config, path)
    assert f"{path}:8:" in str(err) and "shred" in str(err)


def test_pattern_that_does_not_compile_is_an_error_at_its_regex(config, write_rules) -> None:
    path = write_rules("""
        patterns:
          - id: phi.mrn.acme
            regex: '\\bAC-(\\d{6}\\b'
        rules: []
        """)
    err = load_error(config, path)
    assert f"{path}:3:" in str(err) and "phi.mrn.acme" in str(err)


def test_every_error_of_a_file_is_reported_and_nothing_half_loads(config, write_rules) -> None:
    path = write_rules("""
        rules:
          - id: ok-rule
            description: fine
            status: experimental
            when: {finding: x}
            then: {discard: true}
          - id: bad-route
            description: names a route the config lacks
            status: experimental
            when: {finding: x}
            then: {encrypt: carrier-pigeon}
          - id: bad-cidr
            description: bad network
            status: experimental
            when: {client_address: "10.0.0.0/33"}
            then: {discard: true}
        """)
    err = load_error(config, path)
    assert [e.line for e in err.errors] == [11, 15]
    assert "carrier-pigeon" in str(err) and "10.0.0.0/33" in str(err)


def test_duplicate_ids_and_keys_are_errors(config, write_rules) -> None:
    first = write_rules(GOOD, "a.yaml")
    write_rules(GOOD, "b.yaml")
    err = load_error(config, first.parent)
    assert "already defined at" in str(err) and "a.yaml:2" in str(err)
    dup_key = write_rules("rules: []\nrules: []\n", "c.yaml", folder=first.parent.parent / "other")
    assert "duplicate key" in str(load_error(config, dup_key))


def test_unsafe_yaml_tags_are_refused(config, write_rules) -> None:
    path = write_rules("rules: !!python/object/apply:os.system ['echo pwned']\n")
    assert "not allowed" in str(load_error(config, path))


def test_override_replaces_fields_and_can_disable(config, write_rules, tmp_path) -> None:
    folder = tmp_path / "site"
    write_rules(GOOD + """
  - id: drop-me
    description: to be disabled
    status: experimental
    when: {finding: y}
    then: {discard: true}
""", "local.yaml", folder=folder)
    write_rules("""
        rules:
          - id: tag-ssn
            then: {quarantine: held for review}
            mode: monitor
          - id: drop-me
            enabled: false
        """, "site.yaml", folder=folder / "override.d")
    ruleset = load_rules(config, [folder], include_defaults=False)
    assert [r.id for r in ruleset.rules] == ["tag-ssn"]
    rule = ruleset.rules[0]
    assert rule.then.quarantine == "held for review" and rule.mode == "monitor"
    assert "override.d/site.yaml" in rule.origin


def test_override_of_unknown_id_is_an_error(config, write_rules, tmp_path) -> None:
    folder = tmp_path / "site"
    write_rules(GOOD, folder=folder)
    write_rules("rules:\n  - id: no-such\n    status: stable\n", "o.yaml", folder=folder / "override.d")
    assert "no existing rule 'no-such'" in str(load_error(config, folder))


def test_shipped_defaults_load_and_lint_clean(config) -> None:
    ruleset = load_rules(config)
    assert {"check-failed-tempfail", "incomplete-scan-tag"} <= {r.id for r in ruleset.rules}
    assert lint(ruleset) == []


def test_stable_rule_without_tests_fails_lint_and_rule_tests(config, write_rules, capsys) -> None:
    path = write_rules(GOOD.replace("experimental", "stable"))
    assert lint(load_rules(config, [path], include_defaults=False))
    assert main(["rules", "lint", "--config", "/dev/null", "--no-defaults", str(path)]) == 1
    assert "stable but has no tests" in capsys.readouterr().err
    assert main(["rules", "test", "--config", "/dev/null", "--no-defaults", str(path)]) == 1


def test_cli_exits_2_with_file_line_on_a_broken_rule_file(write_rules, capsys, tmp_path) -> None:
    path = write_rules("rules:\n  - id: x\n    when: {oops: 1}\n")
    msg = tmp_path / "m.eml"
    msg.write_bytes(b"Subject: x\n\nhi\n")
    assert main(["check", "--config", "/dev/null", "--rules", str(path), str(msg)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2:" in err or f"{path}:3:" in err


def test_failing_rule_test_is_reported_with_its_origin(write_rules, capsys) -> None:
    path = write_rules("""
        rules:
          - id: tag-urgent
            description: tag urgent mail
            status: stable
            when: {header: Subject, matches: urgent}
            then: {quarantine: true}
            tests:
              - name: urgent mail is held
                message: |
                  Subject: URGENT

                  now
                expect: quarantine
              - name: wrong expectation
                message: |
                  Subject: calm

                  later
                expect: quarantine
        """)
    assert main(["rules", "test", "--config", "/dev/null", "--no-defaults", str(path)]) == 1
    out = capsys.readouterr().out
    assert "PASS tag-urgent :: urgent mail is held" in out
    assert "FAIL tag-urgent :: wrong expectation" in out and "expected quarantine, got deliver" in out
    assert "1 passed, 1 failed" in out
