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
* only words of the model's vocabulary count (the most frequent words of general English,
  from `wordfreq`, stored in the model file): names, codes, list and product names and
  header-format tokens are what one corpus's ham has and the next corpus's ham lacks, so a
  model that leans on them separates its own corpus and nothing else; dropped words are
  skipped, so the words either side of them make a pair;
* `hashed` maps the tokens to feature indices: body words, body word pairs and subject words
  (each both as itself, so a subject word means what it means in a body, and prefixed ``s:``),
  hashed with `zlib.crc32` (stable across runs and machines, unlike Python's salted `hash`;
  a vocabulary word's buckets are computed once at load, a pair's mixed from its words' CRCs)
  into 2**bits buckets; a feature counts once (binary presence) and the vector is divided by
  sqrt(max(n, min_evidence)), so a long message is not more spam-like for being long and a
  short one's few words do not speak as loudly as a whole message;
* short texts carry little evidence, so the text model's log-odds are shrunk toward the typical
  training ham's (`text_prior_logit`) by n / min_evidence below min_evidence features before
  the blend ("Happy birthday!" is not spam-like for lack of ham words); the phrasing features'
  part is not shrunk (shrinking the whole blend, as before, put Enron-Spam's many near-empty
  spams at typical-ham scores: AUC 0.81 where 0.88 was there to have);
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
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from operator import itemgetter, xor
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from outguard.checks import Message

MAGIC = b"OGSPAMTM"
FORMAT_VERSION = 3  # 3: the vocabulary is stored after the weights
MODEL_FILE = Path(__file__).with_name("data") / "spam_text_model.bin"
MAX_CHARS = 20_000  # a 5 KB message is read whole; the rest of a long one adds little and costs time
MAX_TOKEN_LEN = 30

_TOKEN = re.compile(r"[^\W_]+")
# `_TOKEN` on lower-cased ASCII text: the same runs (no upper case left, no other letters or
# digits there), 1.5x faster than the Unicode class
_ASCII_TOKEN = re.compile(r"[a-z0-9]+")
_ASCII_RUNS = bytes(c if 48 <= c <= 57 or 97 <= c <= 122 else 32 for c in range(256))  # [a-z0-9] kept, the rest a space
_DIGITS = str.maketrans("123456789", "000000000")
_LINK_TARGET = re.compile(r" <[^<>\s]+>")  # what outguard.core.htmltext appends after a link's text
SUBJECT_PREFIX = "subject:"


def tokens(text: str) -> list[str]:
    """Lower-cased runs of letters and digits, digits as 0, numbers alone dropped, of the first
    MAX_CHARS characters."""
    out = _TOKEN.findall(text[:MAX_CHARS].lower().translate(_DIGITS))
    return [t[:MAX_TOKEN_LEN] for t in out if t.strip("0")]


def vocabulary_word(word: str) -> bool:
    """A word the vocabulary may hold: letters only, lower case, shorter than MAX_TOKEN_LEN, one
    token as `tokens` reads it. For such words, membership of the raw lower-cased runs (no digit
    mapping, no number dropping, no truncation) is the same as of `tokens`: TextModel.read's fast path."""
    return word.isalpha() and len(word) < MAX_TOKEN_LEN and word.lower() == word  # letters are [^\W_]: one token


def words(text: str) -> list[str]:
    """Lower-cased runs of letters and digits of the first MAX_CHARS characters, as they are."""
    lower = text[:MAX_CHARS].lower()
    return (_ASCII_TOKEN if lower.isascii() else _TOKEN).findall(lower)


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


def _items(table: Any, keys: Collection[Any]) -> tuple[Any, ...]:
    """`tuple(table[k] for k in keys)`, in the order `keys` iterates. One `itemgetter` call
    subscripts in C (0.55x the time of `map(table.__getitem__, keys)` over a message's ~900
    buckets of the weights array, 0.75x over a dict); itemgetter returns a lone item bare."""
    if len(keys) > 1:
        return itemgetter(*keys)(table)  # type: ignore[no-any-return]
    return tuple(map(table.__getitem__, keys))


PAIR_MIX = 0x9E3779B1  # Fibonacci hashing: the first word's CRC spread over the high bits


@dataclass(frozen=True)
class Vocabulary:
    """The words the model counts, each with its buckets for a table of 2**bits, computed once:
    reading a message is then dict look-ups and XORs in C loops, no CRC per word."""

    bits: int
    unigram: dict[str, int]  # word -> bucket of the word (crc32 & mask)
    first: dict[str, int]    # word -> its share of a pair's bucket when it comes first
    subject: dict[str, int]  # word -> bucket of the word as a subject word ("s:" + word)
    # `unigram` and `first` keyed by the ASCII words' bytes, for `text_buckets` (ASCII text is
    # cut into words by bytes.translate and bytes.split, 3x faster than the regex)
    ascii_unigram: dict[bytes, int] = field(default_factory=dict, compare=False, repr=False)
    ascii_first: dict[bytes, int] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, words: Iterable[str], bits: int) -> Vocabulary:
        mask, crc = (1 << bits) - 1, zlib.crc32
        crcs = {w: crc(w.encode()) for w in words}
        unigram = {w: h & mask for w, h in crcs.items()}
        first = {w: ((h * PAIR_MIX) >> 16) & mask for w, h in crcs.items()}
        return cls(bits, unigram, first, {w: crc(b"s:" + w.encode()) & mask for w in crcs},
                   {w.encode(): u for w, u in unigram.items() if w.isascii()},
                   {w.encode(): f for w, f in first.items() if w.isascii()})

    def text_buckets(self, subject: str, body: str) -> set[int]:
        """`buckets(words(subject), words(body))`. On ASCII text the lower-cased runs of letters and
        digits are what is left once every other byte is a space: split there, looked up by bytes
        (an ASCII run is in the vocabulary exactly when its bytes are in the ASCII part of it)."""
        lower = body[:MAX_CHARS].lower()
        if not lower.isascii():
            return self.buckets(words(subject), _TOKEN.findall(lower))
        uni = self.ascii_unigram
        known = list(filter(uni.__contains__, lower.encode().translate(_ASCII_RUNS).split()))
        us = _items(uni, known)
        idx = set(us)
        idx.update(map(xor, _items(self.ascii_first, known[:-1]), us[1:]))
        self._add_subject(idx, words(subject))
        return idx

    def buckets(self, subject: list[str], body: list[str]) -> set[int]:
        """What `hashed` gives with this vocabulary, as a set; words outside it are skipped."""
        uni = self.unigram
        known = list(filter(uni.__contains__, body))
        us = _items(uni, known)
        idx = set(us)
        idx.update(map(xor, _items(self.first, known[:-1]), us[1:]))
        self._add_subject(idx, subject)
        return idx

    def _add_subject(self, idx: set[int], subject: list[str]) -> None:
        uni = self.unigram
        sub = list(filter(uni.__contains__, subject))
        idx.update(map(uni.__getitem__, sub))
        idx.update(map(self.subject.__getitem__, sub))


def hashed(subject: list[str], body: list[str], bits: int, vocab: Vocabulary | None = None) -> list[int]:
    """Sorted distinct bucket indices of the subject words (as themselves and as ``s:`` words),
    body words and body word pairs; with `vocab` only its words count.

    A pair (a, b) hashes to ((crc(a) * PAIR_MIX) >> 16) ^ crc(b): no string is built and no
    CRC computed for it."""
    if vocab is not None:
        if vocab.bits != bits:
            raise ValueError(f"a vocabulary for {vocab.bits} hash bits used with {bits}")
        return sorted(vocab.buckets(subject, body))
    mask = (1 << bits) - 1
    crc = zlib.crc32
    hs = [crc(t.encode()) for t in body]
    idx = {crc(b"s:" + t.encode()) & mask for t in subject}
    idx.update(crc(t.encode()) & mask for t in subject)
    idx.update(h & mask for h in hs)
    idx.update((((a * PAIR_MIX) >> 16) ^ b) & mask for a, b in zip(hs, hs[1:], strict=False))
    return sorted(idx)


@dataclass
class TextModel:
    """Quantised weights of the hashed features plus the calibration that ships with them."""

    bits: int
    weights: array  # float32, 2**bits entries, decoded from the file's int8 codes
    scale: float
    bias: float
    header: dict[str, Any] = field(default_factory=dict)
    vocab: Vocabulary | None = None  # the words that count; None: every word counts

    @property
    def combine(self) -> dict[str, float]:
        return self.header.get("combine") or {}

    @property
    def min_evidence(self) -> int:
        """Below this many distinct features a text counts as only n / min_evidence of a message."""
        return max(1, int(self.header.get("min_evidence", 1)))

    def read(self, subject: str, body: str) -> tuple[float, int]:
        """(log-odds that the text is spam from the text model alone, its number of distinct features)."""
        idx: Collection[int]
        if self.vocab is None:
            idx = hashed(*normalise(subject, body), self.bits)
        else:  # only vocabulary words count, and they are what `tokens` would make of them anyway
            idx = self.vocab.text_buckets(subject, _LINK_TARGET.sub("", body) if " <" in body else body)
        n = len(idx)
        return self.bias + sum(_items(self.weights, idx)) / math.sqrt(max(n, self.min_evidence)), n

    def logit(self, subject: str, body: str) -> float:
        """Log-odds that the text is spam, from the text model alone."""
        return self.read(subject, body)[0]

    def combined_logit(self, text_logit: float, phrasing_logit: float, evidence: int | None = None) -> float:
        """The shipped score's log-odds: a stacked blend of the text model and the phrasing features,
        the text model's part shrunk toward typical training ham when the text has fewer than
        min_evidence features (the phrasing features judge a short text on their own: an empty
        or image-only spam is still spam)."""
        c = self.combine
        text = shrink(text_logit, evidence, self.min_evidence, c.get("text_prior_logit"))
        return c.get("bias", 0.0) + c.get("text", 1.0) * text + c.get("phrasing", 0.0) * phrasing_logit

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
    blob = zlib.decompress(data[start + hlen:])
    codes, tail = blob[:1 << bits], blob[1 << bits:]
    if len(codes) != 1 << bits:
        raise ValueError(f"{path}: {len(codes)} weights for {bits} hash bits")
    size, vocab = header.get("vocabulary_size"), None
    if size is not None or tail:
        listed = tail.decode("utf-8").split("\n") if tail else []
        if len(set(listed)) != size or not all(map(vocabulary_word, listed)):
            raise ValueError(f"{path}: {len(set(listed))} vocabulary words (header: {size}), or some not vocabulary_word")
        vocab = Vocabulary.of(listed, bits)
    scale = float(header["scale"])
    table = [dequantise(q if q < 128 else q - 256, scale) for q in range(256)]
    weights = array("f", map(table.__getitem__, codes))
    return TextModel(bits=bits, weights=weights, scale=scale, bias=float(header["bias"]), header=header, vocab=vocab)


def dequantise(q: int, scale: float) -> float:
    """The weight an int8 code stands for: sign * (|q| / 127)**2 * scale."""
    return math.copysign((q / 127.0) ** 2 * scale, q)


def quantise(weights: Iterable[float]) -> tuple[array, float]:
    """int8 codes on a square-root scale (max |weight| -> 127) and that maximum, the scale."""
    ws = list(weights)
    scale = max((abs(w) for w in ws), default=0.0) or 1.0
    return array("b", (int(math.copysign(min(127, round(127 * math.sqrt(abs(w) / scale))), w)) for w in ws)), scale


def write_model(path: Path, weights: Iterable[float], bias: float, bits: int, header: dict[str, Any],
                vocabulary: Iterable[str] | None = None) -> dict[str, Any]:
    """Write the compact file: magic, header length, JSON header, then zlib-compressed int8
    weights followed by the vocabulary (one word a line; none: every word counts)."""
    q, scale = quantise(weights)
    if len(q) != 1 << bits:
        raise ValueError(f"{len(q)} weights for {bits} hash bits")
    words = list(dict.fromkeys(vocabulary)) if vocabulary is not None else None
    full = {**header, "format": FORMAT_VERSION, "hash_bits": bits, "scale": scale, "bias": bias}
    if words is not None:
        full["vocabulary_size"] = len(words)
    blob = json.dumps(full, indent=1, sort_keys=True).encode("utf-8")
    tail = "\n".join(words).encode("utf-8") if words else b""
    path.write_bytes(MAGIC + struct.pack("<I", len(blob)) + blob + zlib.compress(q.tobytes() + tail, 9))
    return full
