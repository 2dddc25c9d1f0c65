"""Distinct real messages for the speed benches (inspect_cost.py, postfix_throughput.py).

Three kinds, all real text nobody on the project wrote:

  ham       SpamAssassin easy ham (easy-ham-1), raw with its own headers, 3-8 KB
  business  Enron business mail (business-email), raw with its own headers, 3-8 KB
  ham-text  easy-ham body text cut to 5000 bytes under short headers (what postfix_throughput sends)
  clinical  MTSamples notes (clinical-text) with planted patient identifiers (SSN, MBI, MRN,
            DOB, member ID, phone, a name line) in a referral wrapper: PHI-dense, 3-8 KB
  clinical-short  the same, the note cut so the message is 1-3 KB

Deterministic for a seed. Not a test: nothing here asserts.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPORA = Path(os.environ.get("OUTGUARD_CORPORA") or HERE.parent.parent / "shared" / "corpora")
MIN_BYTES, MAX_BYTES = 3000, 8000
# Patients planted into the clinical notes (made-up names; the notes themselves are de-identified).
PATIENTS = ("Maria Lopez", "James Whitaker", "Aisha Rahman", "Tom Becker", "Linda Okafor", "Wei Chen",
            "Robert Nilsson", "Fatima Haddad", "George Miller", "Elena Petrova")


def _sized(raw: bytes) -> bool:
    return MIN_BYTES <= len(raw) <= MAX_BYTES


def ham(count: int, corpora: Path = CORPORA) -> list[bytes]:
    """SpamAssassin easy ham of 3-8 KB, raw (the mbox `From ` line dropped)."""
    out = []
    for path in sorted((corpora / "spamassassin" / "easy-ham-1").iterdir()):
        raw = path.read_bytes()
        raw = raw.split(b"\n", 1)[1] if raw.startswith(b"From ") else raw
        if _sized(raw):
            out.append(raw)
            if len(out) == count:
                break
    return out


def business(count: int, corpora: Path = CORPORA) -> list[bytes]:
    """Enron business mail of 3-8 KB, taken round-robin from the three mailboxes."""
    folders = sorted(p for p in (corpora / "business-email" / "messages").iterdir() if p.is_dir())
    lists = [[raw for raw in (p.read_bytes() for p in sorted(f.iterdir())) if _sized(raw)] for f in folders]
    out: list[bytes] = []
    i = 0
    while len(out) < count and any(i < len(x) for x in lists):
        out += [x[i] for x in lists if i < len(x)][: count - len(out)]
        i += 1
    return out


def ham_text(count: int, size: int = 5000, corpora: Path = CORPORA) -> list[bytes]:
    """What postfix_throughput.py sends by default: easy-ham body text cut to `size` bytes under
    the bench's own headers (denser text than `ham`: no long headers, every byte body)."""
    import email
    import email.policy

    texts = []
    for path in sorted((corpora / "spamassassin" / "easy-ham-1").iterdir()):
        msg = email.message_from_bytes(path.read_bytes().split(b"\n", 1)[1], policy=email.policy.default)
        part = msg.get_body(("plain",))
        if part is not None:
            try:
                texts.append(part.get_content())
            except Exception:
                continue
    pool = "\n".join(texts)
    step = max(1, len(pool) // count)
    return [(f"From: Sender <bench@clinic.example>\nTo: Receiver <rcpt@partner.example>\n"
             f"Subject: bench message {i}\nMessage-ID: <bench-{i}@clinic.example>\n"
             f"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n{pool[i * step: i * step + size]}\n"
             ).encode("utf-8", errors="replace") for i in range(count)]


def _phi_accuracy():  # noqa: ANN202 - a bench module, imported by path (PYTHONSAFEPATH keeps bench/ off sys.path)
    sys.path.insert(0, str(HERE))
    import phi_accuracy

    return phi_accuracy


def clinical(count: int, seed: int = 7, corpora: Path = CORPORA, size: tuple[int, int] = (MIN_BYTES, MAX_BYTES)) \
        -> list[bytes]:
    """MTSamples notes cut to `size` bytes (3-8 KB) with four to six planted identifier lines each."""
    pa = _phi_accuracy()
    rng = random.Random(seed)
    rows = [json.loads(line) for line in (corpora / "clinical-text" / "mtsamples-en.jsonl").read_text().splitlines() if line]
    out = []
    for i, row in enumerate(rows):
        note = pa.clean_note(row.get("transcription") or "")
        if len(note) < size[0] - 500:
            continue
        note = note[: size[1] - 1500]
        note = note[: note.rfind(". ") + 1 or len(note)]
        who = rng.choice(PATIENTS)
        kinds = ["name", *rng.sample(("ssn", "mbi", "mrn", "dob", "health_plan", "account", "phone"), rng.randint(3, 5))]
        ident = "\n".join(pa.planted_identifier(rng, k, who) for k in kinds)
        body = f"Dr. Patel,\n\nReferring the patient below.\n\n{ident}\n\n{note}\n\nThank you,\nClinic staff"
        raw = pa.eml(body, i, subject=f"referral {re.sub(r'[^A-Za-z ]', '', row.get('sample_name', ''))[:40]}")
        if size[0] <= len(raw) <= size[1]:
            out.append(raw)
            if len(out) == count:
                break
    return out


def mixed(count: int, clinical_share: float = 0.1, seed: int = 7, corpora: Path = CORPORA) -> list[bytes]:
    """Ham and business mail half and half, with `clinical_share` of PHI-dense clinical notes."""
    n_clin = round(count * clinical_share)
    n_ham = (count - n_clin) // 2
    return ham(n_ham, corpora) + business(count - n_clin - n_ham, corpora) + clinical(n_clin, seed, corpora)


def by_kind(kind: str, count: int, seed: int = 7, corpora: Path = CORPORA) -> list[bytes]:
    if kind == "mixed":
        return mixed(count, seed=seed, corpora=corpora)
    if kind == "clinical":
        return clinical(count, seed, corpora)
    if kind == "clinical-short":
        return clinical(count, seed, corpora, size=(1000, 3000))
    return {"ham": ham, "business": business, "ham-text": ham_text}[kind](count, corpora=corpora)


KINDS = ("mixed", "ham", "business", "clinical", "clinical-short", "ham-text")
