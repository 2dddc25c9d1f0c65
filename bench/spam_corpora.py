"""The three labelled spam corpora of ../shared/corpora, read into one record type.

Used by bench/train_spam_model.py and bench/spam_accuracy.py so both see the same messages
the same way: SpamAssassin (raw RFC 822, parsed like live mail), Enron-Spam enron1 and
Ling-Spam bare (pre-tokenised text, a `Subject:` line then the body). Each record carries
the subject and body as the text model reads them and the log-odds of the shipped phrasing
features (outguard_plugins.spam), so the training and the bench need one pass over the files.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from outguard.core.message import Envelope, parse_message
from outguard_plugins import spam, spam_model

ROOT = Path(__file__).resolve().parent.parent
SA_HAM = ("easy-ham-1", "easy-ham-2", "hard-ham-1")
SA_SPAM = ("spam-1", "spam-2")
CORPORA = ("spamassassin", "enron", "lingspam")
LABEL = {"spamassassin": "SpamAssassin", "enron": "Enron-Spam", "lingspam": "Ling-Spam"}


@dataclass(frozen=True)
class Doc:
    corpus: str
    name: str
    label: int  # 1 = spam
    subject: str
    body: str
    phrasing_logit: float


def find_corpora() -> Path | None:
    """../shared/corpora beside this checkout, or beside the main checkout when this is a git
    worktree (its `.git` is a file naming the main repository); $OUTGUARD_CORPORA overrides."""
    env = os.environ.get("OUTGUARD_CORPORA")
    candidates = [Path(env)] if env else [ROOT.parent / "shared" / "corpora"]
    dotgit = ROOT / ".git"
    if not env and dotgit.is_file():
        gitdir = dotgit.read_text(encoding="utf-8").partition("gitdir:")[2].strip()
        if gitdir:  # <main>/.git/worktrees/<name>
            candidates.append(Path(gitdir).resolve().parents[2].parent / "shared" / "corpora")
    return next((c for c in candidates if (c / "spamassassin").is_dir() and (c / "spam-more").is_dir()), None)


def corpora_or_skip(given: Path | None, bench: str) -> Path | None:
    """The corpora folder (`given`, else find_corpora()), or None once it has said that `bench`
    skips: a bench without the corpora exits 0, as the tests skip."""
    root = given or find_corpora()
    if root is None or not root.is_dir():
        print(f"shared corpora not found (../shared/corpora beside the checkout); skipping {bench}")
        return None
    return root


def _read_raw(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw.startswith(b"From "):  # the corpus files start with an mbox separator line
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    return raw


class Reader:
    """Turns a message into a Doc, computing the shipped phrasing log-odds on the way."""

    def __init__(self) -> None:
        self.features = spam.Features()
        self.model = spam.Model.load(spam.WEIGHTS_FILE)

    def doc(self, corpus: str, name: str, label: int, raw: bytes) -> Doc:
        msg = parse_message(raw, Envelope())
        subject, body = spam_model.message_text(msg)
        return Doc(corpus, name, label, subject, body, self.model.logit(self.features.extract(msg)))

    def pretokenised(self, corpus: str, name: str, label: int, text: str) -> Doc:
        subject, body = spam_model.split_pretokenised(text)
        # the phrasing features read a message: give them the same text as one
        raw = ("Subject: " + " ".join(subject.split()) + "\n\n" + body).encode("utf-8")
        return self.doc(corpus, name, label, raw)


def load_business(root: Path, reader: Reader | None = None) -> list[Doc]:
    """The 3,000 raw Enron business mails of business-email: ham no model is trained on."""
    reader = reader or Reader()
    files = sorted((root / "business-email" / "messages").rglob("*.eml"))
    return [reader.doc("business", str(p.relative_to(root / "business-email")), 0, p.read_bytes()) for p in files]


def load(root: Path, corpus: str, reader: Reader | None = None) -> list[Doc]:
    """Every labelled message of one corpus, in a stable order (sorted by path)."""
    reader = reader or Reader()
    out: list[Doc] = []
    if corpus == "spamassassin":
        for folder in SA_HAM + SA_SPAM:
            files = sorted(p for p in (root / "spamassassin" / folder).iterdir() if p.is_file() and not p.name.startswith("cmds"))
            for p in files:
                out.append(reader.doc(corpus, f"{folder}/{p.name}", int(folder in SA_SPAM), _read_raw(p)))
        return out
    prefix = {"enron": "enron-spam-enron1", "lingspam": "lingspam-bare"}[corpus]
    more = root / "spam-more"
    with (more / "labels.csv").open(encoding="utf-8", newline="") as fh:
        rows = sorted((r["file"], r["label"]) for r in csv.DictReader(fh) if r["corpus"] == prefix)
    for name, label in rows:
        text = (more / name).read_text(encoding="utf-8", errors="replace")
        out.append(reader.pretokenised(corpus, name, int(label == "spam"), text))
    return out
