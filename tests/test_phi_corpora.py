"""The PHI check against the shared corpora: presidio-research's labelled sentences and the
SpamAssassin ham (which must raise almost nothing). bench/phi_accuracy.py has the full figures."""

from __future__ import annotations

import json
from pathlib import Path

from outguard.core.config import load_config
from outguard.core.message import Envelope
from outguard.pipeline import Inspector
from outguard_plugins.phi import identifiers
from outguard_plugins.phi.validators import ICD10CM


def test_presidio_ssn_and_birth_dates_are_found(corpora: Path) -> None:
    data = json.loads((corpora / "pii-presidio-research" / "synth_dataset_v2.json").read_text())
    icd = ICD10CM()
    ssn_total = ssn_found = 0
    for item in data:
        found = {(h.kind, h.value) for h in identifiers.scan(item["full_text"], icd) if h.confidence >= 0.8}
        for span in item["spans"]:
            if span["entity_type"] == "US_SSN":
                ssn_total += 1
                ssn_found += ("ssn", span["entity_value"]) in found
        for kind, value in found:   # nothing labelled otherwise may be claimed as an SSN
            if kind == "ssn":
                assert any(s["entity_type"] == "US_SSN" and s["entity_value"] == value for s in item["spans"]), value
    assert ssn_total >= 10 and ssn_found == ssn_total


def test_spamassassin_ham_raises_almost_no_phi(corpora: Path) -> None:
    cfg = load_config(Path("/dev/null"), {"rules": {"local": [], "override": []}})
    inspector = Inspector.create(cfg)
    try:
        files = sorted((corpora / "spamassassin" / "easy-ham-1").iterdir())[:800]
        flagged = 0
        for path in files:
            raw = path.read_bytes().split(b"\n", 1)[1]   # each file starts with an mbox "From " line
            result = inspector.inspect(raw, Envelope(), envelope_from_headers=True)
            flagged += any(r.startswith("phi-") for r in result.decision.rule_ids)
        assert flagged <= len(files) * 0.005, f"{flagged} of {len(files)} ham messages flagged as PHI"
    finally:
        inspector.close()
