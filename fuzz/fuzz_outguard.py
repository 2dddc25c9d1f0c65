#!/usr/bin/env python3
"""atheris harness over message parsing, the whole inspection pipeline and the rule loader.

    fuzz/run [SECONDS]         # on demand (default 600 s); CI runs a short slice from tests/

Any exception other than the documented ones is a crash: atheris saves the input as
crash-*; turn it into a regression test in tests/test_fuzz_regressions.py.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from outguard.core.config import load_config
    from outguard.core.message import Envelope, parse_message
    from outguard.pipeline import Inspector
    from outguard.rules.loader import RuleSetError, load_rules

VERDICTS = {"deliver", "encrypt", "quarantine", "reject", "tempfail", "discard"}
RULES = """
patterns:
  - id: org.ticket
    regex: '\\bTCK-\\d{4}\\b'
    keywords: [ticket]
rules:
  - id: everything
    description: exercises every condition kind
    status: experimental
    when:
      any:
        - all:
            - finding: "org.*"
              min_count: 2
              where: [body, attachment]
            - not: {header: Subject, matches: "(?i)^re:"}
        - sender_domain: ["*.example"]
        - recipient_domain: example.net
        - client_address: ["10.0.0.0/8", "::1/128"]
        - size_over: 100000
        - bulk: true
        - finding: "scan.*"
    then:
      tag: {header: X-F, value: "{rule_id} {finding_ids}"}
      subject_prefix: "[f]"
      drop_recipients: true
"""
_dir = tempfile.mkdtemp(prefix="outguard-fuzz-")
(Path(_dir) / "rules.yaml").write_text(RULES)
CONFIG = load_config(Path("/dev/null"), {"rules": {"local": [], "override": []}, "scan": {"pattern_timeout_seconds": 0.05}})
INSPECTOR = Inspector.create(CONFIG, [Path(_dir) / "rules.yaml"])
ENVELOPE = Envelope("a@b.example", ("c@example.net", "d@other.example"), client_address="10.1.2.3", queue_id="FUZZ")


def one_input(data: bytes) -> None:
    parse_message(data)
    result = INSPECTOR.inspect(data, ENVELOPE)
    assert result.decision.verdict in VERDICTS
    assert not any(f.id == "error.internal" for f in result.findings), "inspection failed internally"
    if len(data) > 2 and data[0] == ord("R"):  # the rule loader on arbitrary text
        path = Path(_dir) / "fuzzed.yaml"
        path.write_bytes(data[1:])
        try:
            load_rules(CONFIG, [path], include_defaults=False)
        except RuleSetError:
            pass


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
