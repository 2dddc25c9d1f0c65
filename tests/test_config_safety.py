"""Config and rules cannot silently weaken protection: an extra check keeps the shipped ones,
mistakes fail `check-config`/`rules lint` with file:line, and rule authors get clear errors."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from helpers import PROJECT, outguard_command
from outguard.cli.main import main
from outguard.core.config import load_config
from outguard.core.yamlsource import SourceError, load_text
from outguard.rules.conditions import domain_matches
from outguard.rules.loader import RuleSetError, load_rules

REFERRAL = PROJECT / "examples" / "messages" / "referral.eml"
THIRD_PARTY = '''
from outguard.checks import Finding, hookimpl


class TicketCheck:
    emits = ("org.ticket",)

    @hookimpl
    def outguard_inspect(self, message, context):
        return [Finding("org.ticket", detail="ticket number seen")]
'''


def installed_third_party_check(folder: Path) -> dict[str, str]:
    """A real installed distribution (dist-info with an entry point) on PYTHONPATH."""
    (folder / "ticketcheck.py").write_text(THIRD_PARTY)
    info = folder / "ticketcheck-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ticketcheck\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[outguard]\nticketcheck = ticketcheck:TicketCheck\n")
    return {**os.environ, "PYTHONPATH": str(folder), "PYTHONSAFEPATH": "1"}


def test_enabling_one_extra_check_keeps_every_shipped_check_and_the_phi_rules(tmp_path: Path) -> None:
    env = installed_third_party_check(tmp_path)
    site = tmp_path / "outguard.yaml"
    site.write_text("rules: {site: null}\nplugins: {enabled: [ticketcheck]}\n")
    config_check = subprocess.run([*outguard_command(), "check-config", "--config", str(site)], env=env,
                                  capture_output=True, text=True, timeout=120)
    assert config_check.returncode == 0, config_check.stderr
    listed = config_check.stdout.split("checks: ", 1)[1].split(";")[0].strip().split(", ")
    assert set(listed) == {"bulk", "custom_patterns", "documents", "phi", "recipients", "spam", "text_attachments", "edm",
                           "reputation", "ticketcheck"}
    checked = subprocess.run([*outguard_command(), "check", "--config", str(site), "--json", str(REFERRAL)],
                             env=env, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stderr
    assert '"verdict": "encrypt"' in checked.stdout and "phi-with-health-context" in checked.stdout
    assert '"org.ticket"' in checked.stdout


def test_a_typo_in_a_finding_id_fails_lint_naming_file_and_line(tmp_path: Path, capsys) -> None:
    rules = tmp_path / "site.yaml"
    rules.write_text(textwrap.dedent("""\
        rules:
          - id: hold-ssn
            description: hold SSNs
            status: testing
            when:
              finding: phi.snn
            then: {quarantine: true}
        """))
    assert main(["rules", "lint", "--config", "/dev/null", str(rules)]) == 1
    err = capsys.readouterr().err
    assert f"{rules}:6: error: rule hold-ssn: no running check produces finding 'phi.snn'; did you mean phi.ssn?" in err
    assert main(["check-config", "--config", "/dev/null", "--rules", str(rules)]) == 1


def test_a_rule_needing_a_disabled_check_fails_check_config(tmp_path: Path, capsys) -> None:
    site = tmp_path / "c.yaml"
    site.write_text("rules: {site: null}\nplugins: {disabled: [spam]}\n")
    assert main(["check-config", "--config", str(site)]) == 1
    assert "no running check produces finding 'spam.phrasing'" in capsys.readouterr().err


def test_a_configured_rules_folder_that_does_not_exist_fails(tmp_path: Path, capsys) -> None:
    site = tmp_path / "c.yaml"
    site.write_text(f"rules: {{site: null, local: [{tmp_path / 'nope'}]}}\n")
    assert main(["check-config", "--config", str(site)]) == 2
    assert f"rules.local: {tmp_path / 'nope'} does not exist" in capsys.readouterr().err


def test_rules_dir_reads_the_site_layout(tmp_path: Path) -> None:
    """`--rules DIR` reads DIR/local.d and DIR/override.d, as /etc/outguard is read."""
    (tmp_path / "local.d").mkdir()
    (tmp_path / "override.d").mkdir()
    (tmp_path / "local.d" / "mine.yaml").write_text(textwrap.dedent("""\
        rules:
          - id: mine
            description: tag everything
            status: experimental
            when: {size_over: 0}
            then: {tag: {header: X-Mine, value: mine}}
        """))
    (tmp_path / "override.d" / "spam.yaml").write_text("rules:\n  - id: spam-phrasing-quarantine\n    enabled: false\n")
    config = load_config(Path("/dev/null"), {"rules": {"site": None}})
    ids = {r.id for r in load_rules(config, [tmp_path]).rules}
    assert "mine" in ids and "spam-phrasing-quarantine" not in ids and "spam-phrasing-tag" in ids


def test_fail_on_rejects_an_unknown_verdict(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["check", "--config", "/dev/null", "--fail-on", "quarantined", str(REFERRAL)])
    assert exit_.value.code == 2
    assert ("unknown verdict 'quarantined' (valid: deliver, encrypt, quarantine, discard, tempfail, reject)"
            in capsys.readouterr().err)


def test_check_prints_no_info_lines_unless_asked() -> None:
    quiet = subprocess.run([*outguard_command(), "check", "--config", "/dev/null", str(REFERRAL)],
                           capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONSAFEPATH": "1"})
    assert quiet.returncode == 0 and " INFO " not in quiet.stderr, quiet.stderr
    loud = subprocess.run([*outguard_command(), "check", "-v", "--config", "/dev/null", str(REFERRAL)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONSAFEPATH": "1"})
    assert " INFO " in loud.stderr


def test_yaml_syntax_error_names_line_and_column() -> None:
    with pytest.raises(SourceError) as err:
        load_text("rules:\n  - id: x\n    when: {finding: [a, b}\n", "site.yaml")
    assert str(err.value).startswith("site.yaml:3:") and err.value.column is not None
    assert str(err.value).split(":")[2].isdigit()


def test_an_unknown_action_lists_the_valid_ones(tmp_path: Path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text("rules:\n  - id: x\n    description: d\n    status: testing\n    when: {size_over: 0}\n"
                     "    then: {quarantien: true}\n")
    with pytest.raises(RuleSetError) as err:
        load_rules(load_config(Path("/dev/null")), [rules], include_defaults=False)
    text = str(err.value)
    assert f"{rules}:6:" in text and "'quarantien' was unexpected" in text
    assert "valid: " in text and "quarantine" in text.split("valid: ", 1)[1] and "encrypt" in text


@pytest.mark.parametrize(("domain", "patterns", "matches"), [
    ("clinic.example", ["clinic.example"], True),
    ("mail.clinic.example", ["clinic.example"], False),      # exact by default
    ("mail.clinic.example", [".clinic.example"], True),      # leading dot: domain and subdomains
    ("clinic.example", [".clinic.example"], True),
    ("badclinic.example", [".clinic.example"], False),
    ("mail.clinic.example", ["*.clinic.example"], True),     # glob: subdomains only
    ("clinic.example", ["*.clinic.example"], False),
    ("MAIL.Clinic.Example.", [".clinic.example"], True),
])
def test_domain_conditions_say_whether_subdomains_match(domain: str, patterns: list[str], matches: bool) -> None:
    assert domain_matches(domain, patterns) is matches


def test_where_globs_select_attachments_by_name(outguard_harness) -> None:
    harness = outguard_harness(defaults=False, enabled=["custom_patterns", "text_attachments"], rules="""
        patterns:
          - id: org.ticket
            regex: 'TCK-\\d{4}'
            confidence_without_keyword: 0.9
        rules:
          - id: tickets-in-csv
            description: tickets in CSV attachments
            status: experimental
            when: {finding: org.ticket, where: "attachment:*.csv"}
            then: {quarantine: true}
        """)

    def message(name: str) -> bytes:
        return (f"Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
                f"Content-Type: text/plain\n\nsee attached\n--b\nContent-Type: text/plain\n"
                f"Content-Disposition: attachment; filename={name}\n\nTCK-1234\n--b--\n").encode()

    assert harness.check(message("list.csv")).decision.verdict == "quarantine"
    assert harness.check(message("list.txt")).decision.verdict == "deliver"
