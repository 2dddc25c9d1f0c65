"""The statistical text model of the `spam` check: hashed words and word pairs, one linear model.

The hand-made features of `outguard_plugins.spam` explain a score but do not generalise to
senders the project never saw; a model over the words themselves, learned from several
corpora of unrelated senders, does. This module is the whole runtime side of that model:

* `normalise` turns a subject and a body into the same token stream whether they come from
  raw mail or from the pre-tokenised, lower-cased corpora (Enron-Spam, Ling-Spam) the model
  is trained on: lower-case, runs of letters and digits only (so "e-mail", "e - mail" and
  "E-Mail" agree), every digit written as 0 and numbers alone dropped (amounts, dates and
  table figures carry no sender history, and one corpus's tables must not read as another's
  spam), no headers but the subject, HTML as rendered text without its link targets;
* `hashed` maps the tokens to feature indices: body words, body word pairs and subject words
  (each both as itself, so a subject word means what it means in a body, and prefixed ``s:``),
  hashed with `zlib.crc32` (stable across runs and machines, unlike Python's salted `hash`)
  into 2**bits buckets; a feature counts once (binary presence) and the vector is divided by
  sqrt(max(n, min_evidence)), so a long message is not more spam-like for being long and a
  short one's few words do not speak as loudly as a whole message;
* short texts carry little evidence, so the blended log-odds are shrunk toward the typical
  training ham (`prior_logit`) by n / min_evidence below min_evidence features
  ("Happy birthday!" is not spam-like for lack of ham words);
* `TextModel` holds the weights (stored int8-quantised on a square-root scale, so the many
  small weights keep their sign and size; loaded once from a compact file, see `write_model`),
  gives the log-odds of a text, and maps it, combined with the phrasing features' log-odds,
  onto the check's score scale (5 tag, 8 hold).

Training (numpy / scikit-learn) lives in `bench/train_spam_model.py`, which writes the file;
the runtime here is stdlib only.
"""

from __future__ import annotations

import json
import math
import re
import struct
import zlib
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from outguard.checks import Message

MAGIC = b"OGSPAMTM"
FORMAT_VERSION = 2
MODEL_FILE = Path(__file__).with_name("data") / "spam_text_model.bin"
MAX_CHARS = 20_000  # a 5 KB message is read whole; the rest of a long one adds little and costs time
MAX_TOKEN_LEN = 30

_TOKEN = re.compile(r"[^\W_]+")
_DIGITS = str.maketrans("123456789", "000000000")
_LINK_TARGET = re.compile(r" <[^<>\s]+>")  # what outguard.core.htmltext appends after a link's text
SUBJECT_PREFIX = "subject:"


def tokens(text: str) -> list[str]:
    """Lower-cased runs of letters and digits, digits as 0, numbers alone dropped, of the first
    MAX_CHARS characters."""
    out = _TOKEN.findall(text[:MAX_CHARS].lower().translate(_DIGITS))
    return [t[:MAX_TOKEN_LEN] for t in out if t.strip("0")]


def normalise(subject: str, body: str) -> tuple[list[str], list[str]]:
    """(subject tokens, body tokens), the same for raw mail and for pre-tokenised text."""
    return tokens(subject), tokens(_LINK_TARGET.sub("", body))


def message_text(message: Message) -> tuple[str, str]:
    """(subject, body) of a parsed message as the model reads it: the plain parts when there
    are any, else the rendered HTML; no other headers, since the training corpora have none."""
    body = [v.text for v in message.texts("body")] or [v.text for v in message.texts("html")]
    return message.subject, "\n".join(body)


def split_pretokenised(text: str) -> tuple[str, str]:
    """A corpus file of Enron-Spam / Ling-Spam: a first line ``Subject: ...``, then the body."""
    first, _, rest = text.partition("\n")
    if first.lower().startswith(SUBJECT_PREFIX):
        return first[len(SUBJECT_PREFIX):], rest
    return "", text


def hashed(subject: list[str], body: list[str], bits: int) -> list[int]:
    """Sorted distinct bucket indices of the subject words (as themselves and as ``s:`` words),
    body words and body word pairs.

    A pair's hash continues the CRC of its first word over " " + second word, so it equals
    crc32(b"first second") without building that string."""
    mask = (1 << bits) - 1
    crc = zlib.crc32
    idx = {crc(b"s:" + t.encode()) & mask for t in subject}
    idx.update(crc(t.encode()) & mask for t in subject)
    prev = -1
    for t in body:
        b = t.encode()
        h = crc(b)
        idx.add(h & mask)
        if prev >= 0:
            idx.add(crc(b" " + b, prev) & mask)
        prev = h
    return sorted(idx)


@dataclass
class TextModel:
    """Quantised weights of the hashed features plus the calibration that ships with them."""

    bits: int
    weights: array  # float32, 2**bits entries, decoded from the file's int8 codes
    scale: float
    bias: float
    header: dict[str, Any] = field(default_factory=dict)

    @property
    def combine(self) -> dict[str, float]:
        return self.header.get("combine") or {}

    @property
    def min_evidence(self) -> int:
        """Below this many distinct features a text counts as only n / min_evidence of a message."""
        return max(1, int(self.header.get("min_evidence", 1)))

    def read(self, subject: str, body: str) -> tuple[float, int]:
        """(log-odds that the text is spam from the text model alone, its number of distinct features)."""
        idx = hashed(*normalise(subject, body), self.bits)
        w = self.weights
        return self.bias + sum(map(w.__getitem__, idx)) / math.sqrt(max(len(idx), self.min_evidence)), len(idx)

    def logit(self, subject: str, body: str) -> float:
        """Log-odds that the text is spam, from the text model alone."""
        return self.read(subject, body)[0]

    def combined_logit(self, text_logit: float, phrasing_logit: float, evidence: int | None = None) -> float:
        """The shipped score's log-odds: a stacked blend of the text model and the phrasing features,
        shrunk toward the typical training ham when the text has fewer than min_evidence features."""
        c = self.combine
        raw = c.get("bias", 0.0) + c.get("text", 1.0) * text_logit + c.get("phrasing", 0.0) * phrasing_logit
        return shrink(raw, evidence, self.min_evidence, c.get("prior_logit"))

    def score(self, logit: float) -> float:
        """The combined log-odds on the check's scale: 5 at the tag threshold, 8 at the hold threshold."""
        c = self.combine
        tag, hold = c.get("tag_logit", 0.0), c.get("hold_logit", 1.0)
        return 5.0 + 3.0 * (logit - tag) / ((hold - tag) or 1.0)


def shrink(logit: float, evidence: int | None, min_evidence: int, prior: float | None) -> float:
    """`logit` moved toward `prior` in proportion to the evidence it lacks (none at min_evidence
    features or more); unchanged without a prior or an evidence count."""
    if prior is None or evidence is None or evidence >= min_evidence:
        return logit
    return prior + (logit - prior) * evidence / min_evidence


def load_model(path: Path = MODEL_FILE) -> TextModel:
    """Read a file written by `write_model`; raise ValueError on anything else."""
    data = path.read_bytes()
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
        raise ValueError(f"{path}: not an outguard spam text model")
    (hlen,) = struct.unpack_from("<I", data, len(MAGIC))
    start = len(MAGIC) + 4
    header = json.loads(data[start:start + hlen].decode("utf-8"))
    if header.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: model format {header.get('format')!r}, this outguard reads {FORMAT_VERSION}")
    bits = int(header["hash_bits"])
    codes = zlib.decompress(data[start + hlen:])
    if len(codes) != 1 << bits:
        raise ValueError(f"{path}: {len(codes)} weights for {bits} hash bits")
    scale = float(header["scale"])
    table = [dequantise(q if q < 128 else q - 256, scale) for q in range(256)]
    weights = array("f", map(table.__getitem__, codes))
    return TextModel(bits=bits, weights=weights, scale=scale, bias=float(header["bias"]), header=header)


def dequantise(q: int, scale: float) -> float:
    """The weight an int8 code stands for: sign * (|q| / 127)**2 * scale."""
    return math.copysign((q / 127.0) ** 2 * scale, q)


def quantise(weights: Iterable[float]) -> tuple[array, float]:
    """int8 codes on a square-root scale (max |weight| -> 127) and that maximum, the scale."""
    ws = list(weights)
    scale = max((abs(w) for w in ws), default=0.0) or 1.0
    return array("b", (int(math.copysign(min(127, round(127 * math.sqrt(abs(w) / scale))), w)) for w in ws)), scale


def write_model(path: Path, weights: Iterable[float], bias: float, bits: int, header: dict[str, Any]) -> dict[str, Any]:
    """Write the compact file: magic, header length, JSON header, zlib-compressed int8 weights."""
    q, scale = quantise(weights)
    if len(q) != 1 << bits:
        raise ValueError(f"{len(q)} weights for {bits} hash bits")
    full = {**header, "format": FORMAT_VERSION, "hash_bits": bits, "scale": scale, "bias": bias}
    blob = json.dumps(full, indent=1, sort_keys=True).encode("utf-8")
    path.write_bytes(MAGIC + struct.pack("<I", len(blob)) + blob + zlib.compress(q.tobytes(), 9))
    return full
