"""The built health lexicon, kept in a cache file so a start does not rebuild it (3 s of CPU).

Why a cache built at first use rather than shipped prebuilt data: the lexicon is derived from
installed packages (ICD-10-CM, the drug dictionary, wordfreq), and a site may have other
versions than the ones a shipped file was made from. The cache key is a hash of everything the
build reads: those packages' versions, the curated lists beside `context.py` and the source of
`context.py` itself; any change builds (and writes) a new one.

The file is plain text (no pickle: a cache directory is not a place to load code from), one
phrase a line: a kind letter, a tab, the tokens separated by spaces. Where the cache cannot be
read or written (read-only home, ProtectHome) the lexicon is simply built, as before.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from outguard_plugins.phi.context import Lexicon

log = logging.getLogger("outguard.checks.phi")
HERE = Path(__file__).resolve().parent
FORMAT = "outguard-lexicon 1"
SOURCES = ("simple_icd_10_cm", "drug-named-entity-recognition", "wordfreq")
INPUTS = ("context.py", "lexicon_cache.py", "lexicon_labs.txt", "lexicon_procedures.txt",
          "lexicon_medications.txt", "lexicon_conditions.txt",
          "lexicon_conditions_framed.txt")


def cache_dir() -> Path:
    """OUTGUARD_CACHE_DIR, else systemd's CACHE_DIRECTORY, else the XDG cache folder."""
    for var in ("OUTGUARD_CACHE_DIR", "CACHE_DIRECTORY"):
        if os.environ.get(var):
            return Path(os.environ[var].split(":")[0])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "outguard"


def cache_key() -> str:
    """A hash of everything the build reads (package versions, curated lists, build code)."""
    h = hashlib.sha256(FORMAT.encode())
    for dist in SOURCES:
        try:
            h.update(f"{dist}={version(dist)}\n".encode())
        except PackageNotFoundError:
            h.update(f"{dist}=none\n".encode())
    for name in INPUTS:
        h.update(name.encode() + b"\0" + (HERE / name).read_bytes())
    return h.hexdigest()[:24]


def dump(lex: Lexicon) -> str:
    kinds = sorted(set(lex.phrases.values()))
    head = [FORMAT, "\t".join(kinds)]
    letter = {k: chr(ord("a") + i) for i, k in enumerate(kinds)}
    return "\n".join([*head, *(f"{letter[kind]}\t{' '.join(toks)}" for toks, kind in lex.phrases.items())]) + "\n"


def load(text: str, make: Callable[[], Lexicon]) -> Lexicon | None:
    """The lexicon in `text` (as `dump` wrote it), or None when it is not one."""
    lines = text.split("\n")
    if len(lines) < 2 or lines[0] != FORMAT or lines[-1] != "":
        return None
    kinds = lines[1].split("\t")
    by_letter = {chr(ord("a") + i): k for i, k in enumerate(kinds)}
    lex = make()
    phrases, first = lex.phrases, lex.first
    for line in lines[2:-1]:
        kind = by_letter.get(line[:1])
        if kind is None or line[1:2] != "\t":
            return None
        toks = tuple(line[2:].split(" "))
        phrases[toks] = kind
        if first.get(toks[0], 0) < len(toks):
            first[toks[0]] = len(toks)
    return lex


def cached(build: Callable[[], Lexicon], make: Callable[[], Lexicon]) -> Lexicon:
    """The lexicon from the cache file for the current inputs; built and written when absent."""
    try:
        path = cache_dir() / f"phi-lexicon-{cache_key()}.txt"
        lex = load(path.read_text(encoding="utf-8"), make) if path.is_file() else None
    except (OSError, UnicodeDecodeError, ValueError, RuntimeError):   # RuntimeError: no home folder
        path, lex = None, None
    if lex is not None:
        return lex
    lex = build()
    if path is not None:
        _write(path, dump(lex))
    return lex


def _write(path: Path, text: str) -> None:
    """Write atomically (a concurrent start reads the old file or the new one, never half)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".lexicon-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError as exc:
        log.info("phi lexicon cache not written (%s): the next start builds it again", type(exc).__name__)
