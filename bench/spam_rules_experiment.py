#!/usr/bin/env python3
"""Feasibility: SpamAssassin's shipped rules (Debian spamassassin 4.0.1) as a training-free
spam score on our three corpora.

    PYTHONSAFEPATH=1 .venv/bin/python bench/spam_rules_experiment.py [--corpora DIR] [--sa-out DIR]

The rules were written and scored by other people on other mail, so the score (the sum of
the set-0 scores of the fired body, rawbody, Subject-header, uri and meta rules; see
bench/sa_rules.py) is held-out on every corpus here: nothing is fitted. Prints per corpus
the ROC AUC, spam recall and ham false positives at a few thresholds, ham false positives on
business-email (3,000 Enron business mails), how many rules fire, the translation counts,
and the cost per message. With --sa-out, also the AUC of real SpamAssassin (`spamassassin -L
-t --mbox` on a balanced sample that --write-sample makes) next to ours on the same messages.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import ahocorasick_rs
import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_messages  # noqa: E402
import sa_rules  # noqa: E402
from spam_corpora import CORPORA, LABEL, SA_HAM, SA_SPAM, _read_raw, corpora_or_skip, load, load_business  # noqa: E402

from outguard.core.message import Envelope, parse_message  # noqa: E402
from outguard_plugins import spam_model  # noqa: E402

THRESHOLDS = (2.0, 3.0, 5.0)
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+", re.I)


@dataclass
class Msg:
    corpus: str
    name: str
    label: int
    subject: str
    texts: list[str]
    uris: list[str]
    size: int


class RulesReader:
    """Stands in for spam_corpora.Reader: keeps what the rules read (texts, links)."""

    def doc(self, corpus: str, name: str, label: int, raw: bytes) -> Msg:
        msg = parse_message(raw, Envelope())
        texts = [v.text for v in msg.texts("body", "html")]
        uris = [link.href for link in msg.links] + [u for t in texts for u in _URL.findall(t)]
        return Msg(corpus, name, label, msg.subject, texts, uris, len(raw))

    def pretokenised(self, corpus: str, name: str, label: int, text: str) -> Msg:
        subject, body = spam_model.split_pretokenised(text)
        raw = ("Subject: " + " ".join(subject.split()) + "\n\n" + body).encode("utf-8")
        return self.doc(corpus, name, label, raw)


class Scorer:
    """Runs a RuleSet over a message the way SpamAssassin presents it to each rule type."""

    def __init__(self, rs: sa_rules.RuleSet, prefilter: bool = True) -> None:
        self.rs = rs
        self.by_kind: dict[str, list[sa_rules.Rule]] = {}
        for r in rs.rules.values():
            self.by_kind.setdefault(r.kind, []).append(r)
        self.meta_order = self._order()
        self.prefilter = prefilter
        # the literal prefilter: rules with required literals run only when one occurs
        keys: dict[bytes, list[int]] = {}
        self.always: dict[str, list[sa_rules.Rule]] = {}
        self.gated: list[sa_rules.Rule] = []
        for kind in ("body", "rawbody", "subject", "uri"):
            for r in self.by_kind.get(kind, []):
                lits = sa_rules.required_literals(r.pattern) if r.pattern is not None and not r.negate else None
                if lits is None:
                    self.always.setdefault(kind, []).append(r)
                    continue
                for lit in lits:
                    keys.setdefault(lit, []).append(len(self.gated))
                self.gated.append(r)
        self.keys = list(keys)
        self.key_rules = [keys[k] for k in self.keys]
        self.auto = ahocorasick_rs.BytesAhoCorasick(self.keys) if self.keys else None
        self.meta_code = {r.name: compile(r.meta, r.name, "eval") for r in self.by_kind.get("meta", [])}

    def _order(self) -> list[sa_rules.Rule]:
        """Meta rules after the meta rules they read (cycles broken arbitrarily)."""
        order: list[sa_rules.Rule] = []
        state: dict[str, int] = {}

        def visit(name: str) -> None:
            r = self.rs.rules.get(name)
            if r is None or r.kind != "meta" or state.get(name):
                return
            state[name] = 1
            for d in r.deps:
                visit(d)
            state[name] = 2
            order.append(r)

        for r in self.by_kind.get("meta", []):
            visit(r.name)
        return order

    @staticmethod
    def rendered(subject: str, texts: list[str]) -> bytes:
        """SA's rendered body: the subject line, then one line per paragraph, whitespace collapsed."""
        text = "\n".join(texts)
        text = re.sub(r"\n+\s*\n+", "\x00", text)
        text = re.sub(r"\s+", " ", text).replace("\x00", "\n")
        return ((subject or "") + "\n" + text).encode("utf-8", "replace")

    @staticmethod
    def _hits(r: sa_rules.Rule, data: bytes) -> int:
        assert r.pattern is not None
        if r.maxhits > 1:
            n = 0
            for _ in r.pattern.finditer(data):
                n += 1
                if n >= r.maxhits:
                    break
            return n
        return 1 if r.pattern.search(data) else 0

    def fired(self, subject: str, texts: list[str], uris: list[str]) -> dict[str, int]:
        """Rule name -> value (1, or a match count for `tflags multiple`) of every rule that fired."""
        v: dict[str, int] = {}
        body = self.rendered(subject, texts)
        raw = "\n".join(texts).encode("utf-8", "replace")
        subj = (subject or "").encode("utf-8", "replace")
        ub = [u.encode("utf-8", "replace") for u in uris]
        if self.prefilter:
            run: dict[str, list[sa_rules.Rule]] = {k: list(rs) for k, rs in self.always.items()}
            if self.auto is not None:
                # every rule's literals are looked for in all its inputs at once (a superset is fine)
                hay = b"\x00".join([body.lower(), raw.lower()] + [u.lower() for u in ub])
                seen: set[int] = set()
                for k in {i for i, _, _ in self.auto.find_matches_as_indexes(hay, overlapping=True)}:
                    seen.update(self.key_rules[k])
                for i in sorted(seen):
                    r = self.gated[i]
                    run.setdefault(r.kind, []).append(r)
        else:
            run = self.by_kind
        for r in run.get("body", []):
            if h := self._hits(r, body):
                v[r.name] = h
        for r in run.get("rawbody", []):
            if h := self._hits(r, raw):
                v[r.name] = h
        for r in self.by_kind.get("subject", []):
            assert r.pattern is not None
            if bool(r.pattern.search(subj)) != r.negate:
                v[r.name] = 1
        for r in run.get("uri", []):
            assert r.pattern is not None
            if any(r.pattern.search(u) for u in ub):
                v[r.name] = 1
        for r in self.meta_order:
            try:
                val = eval(self.meta_code[r.name], {"__builtins__": {}}, {"v": v})  # noqa: S307 - from the .cf files
            except ZeroDivisionError:
                val = 0
            if val:
                v[r.name] = int(val) if not isinstance(val, bool) else 1
        return v

    def score(self, fired: dict[str, int]) -> float:
        """The sum of the scores of the fired rules (the __ sub-rules score nothing)."""
        return sum(self.rs.score(n) for n in fired if not n.startswith("__"))


def auc(y: np.ndarray, s: np.ndarray) -> float:
    return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else float("nan")


def read_sa_out(out: Path, labels: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Names, labels and scores from `spamassassin -t --mbox` output. SA's ArchiveIterator
    reorders the messages (by date), so each is matched by the id its `From sample-N@` line carries."""
    rows = [line.rstrip("\n").split("\t", 1) for line in labels.read_text(encoding="utf-8").splitlines()]
    text = out.read_text(encoding="latin-1")
    by_id: dict[int, float] = {}
    for seg in re.split(r"^(?=From sample-\d+@)", text, flags=re.M):
        m_id = re.match(r"From sample-(\d+)@", seg)
        m_sc = re.search(r"^X-Spam-Status: \w+, score=(-?[\d.]+)", seg, re.M)
        if m_id and m_sc:
            by_id[int(m_id.group(1))] = float(m_sc.group(1))
    if len(by_id) != len(rows):
        raise SystemExit(f"{out}: {len(by_id)} scores for {len(rows)} messages")
    return [n for _, n in rows], np.array([int(lab) for lab, _ in rows]), np.array([by_id[i] for i in range(len(rows))])


def write_sa_sample(root: Path, out: Path, per_class: int = 100, seed: int = 13) -> None:
    """<corpus>.mbox (+ .labels) for real SpamAssassin: `per_class` ham and spam per corpus; the
    pre-tokenised corpora as the readers present them (a Subject line, then the text). Run on each:
    spamassassin -L -t --mbox -p FILE --cf='use_bayes 0' --cf='bayes_auto_learn 0' < X.mbox > X.out"""
    import csv
    import random

    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    picks: dict[str, list[tuple[str, int, bytes]]] = {}
    sa = root / "spamassassin"
    files = {lab: [p for f in (SA_SPAM if lab else SA_HAM) for p in sorted((sa / f).iterdir())
                   if p.is_file() and not p.name.startswith("cmds")] for lab in (0, 1)}
    picks["spamassassin"] = [(str(p.relative_to(sa)), lab, _read_raw(p))
                             for lab in (0, 1) for p in rng.sample(files[lab], per_class)]
    with (root / "spam-more" / "labels.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for corpus, prefix in (("enron", "enron-spam-enron1"), ("lingspam", "lingspam-bare")):
        mine = sorted((r["file"], int(r["label"] == "spam")) for r in rows if r["corpus"] == prefix)
        chosen = [n for lab in (0, 1) for n in rng.sample([(n, x) for n, x in mine if x == lab], per_class)]
        picks[corpus] = []
        for name, lab in chosen:
            text = (root / "spam-more" / name).read_text(encoding="utf-8", errors="replace")
            subject, body = spam_model.split_pretokenised(text)
            picks[corpus].append((name, lab, ("Subject: " + " ".join(subject.split()) + "\n\n" + body).encode("utf-8")))
    for corpus, msgs in picks.items():
        with (out / f"{corpus}.mbox").open("wb") as fh:
            for i, (_, _, raw) in enumerate(msgs):
                body = re.sub(rb"(?m)^From ", b">From ", raw).rstrip(b"\n")
                fh.write(f"From sample-{i}@example.invalid Wed Dec  2 00:00:00 2026\n".encode() + body + b"\n\n")
        (out / f"{corpus}.mbox.labels").write_text("".join(f"{lab}\t{name}\n" for name, lab, _ in msgs), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpora", type=Path, default=None)
    ap.add_argument("--rules", type=Path, default=sa_rules.RULES_DIR)
    ap.add_argument("--sa-out", type=Path, default=None,
                    help="folder with <corpus>.out (spamassassin -L -t --mbox output) and <corpus>.mbox.labels")
    ap.add_argument("--limit", type=int, default=0, help="at most this many messages per corpus (quick runs)")
    ap.add_argument("--dump", type=Path, default=None,
                    help="write corpus, name, label, score and the fired rules of every message here (TSV)")
    ap.add_argument("--write-sample", type=Path, default=None,
                    help="write the balanced sample for real SpamAssassin (100 ham + 100 spam a corpus) here and stop")
    args = ap.parse_args(argv)
    root = corpora_or_skip(args.corpora, "the SpamAssassin rules bench")
    if root is None:
        return 0
    if args.write_sample:
        write_sa_sample(root, args.write_sample)
        return 0
    t0 = time.perf_counter()
    rs = sa_rules.read_rules(args.rules)
    scorer = Scorer(rs)
    print(f"rules read in {time.perf_counter() - t0:.1f} s from {args.rules}")
    print("translation:")
    for k, n in sorted(rs.counts.items()):
        print(f"  {n:5d} {k}")
    print("  run here: " + ", ".join(f"{k} {len(v)}" for k, v in sorted(scorer.by_kind.items())))

    reader = RulesReader()
    # the loaders call reader.doc / reader.pretokenised, so they hand back this reader's Msg records
    corpora = {c: cast(list[Msg], load(root, c, reader)) for c in CORPORA}  # type: ignore[arg-type]
    corpora["business"] = cast(list[Msg], load_business(root, reader))  # type: ignore[arg-type]
    scored: dict[str, dict[str, float]] = {}
    print(f"\n{'corpus':13} {'n':>5} {'AUC':>6} " + " ".join(f"{'rec@' + str(t):>7} {'FP@' + str(t):>6}" for t in THRESHOLDS)
          + f" {'any>0 spam/ham':>15} {'rules fired':>11} {'ms/msg':>7}")
    fired_sets: dict[str, Counter[str]] = {}
    dump = args.dump.open("w", encoding="utf-8") if args.dump else None
    for c, msgs in corpora.items():
        if args.limit:
            msgs = msgs[:: max(1, len(msgs) // args.limit)]
        ys, ss, costs = [], [], []
        fired_n: Counter[str] = Counter()
        fired_by_label: dict[int, Counter[str]] = {0: Counter(), 1: Counter()}
        for m in msgs:
            t = time.perf_counter()
            f = scorer.fired(m.subject, m.texts, m.uris)
            score = scorer.score(f)
            costs.append(time.perf_counter() - t)
            ys.append(m.label)
            ss.append(score)
            named = [n for n in f if not n.startswith("__")]
            if dump:
                dump.write(f"{c}\t{m.name}\t{m.label}\t{score:g}\t{','.join(sorted(named))}\n")
            fired_n.update(named)
            fired_by_label[m.label].update(named)
        y, s = np.array(ys), np.array(ss)
        scored[c] = {m.name: v for m, v in zip(msgs, ss, strict=True)}
        fired_sets[c] = fired_n
        cells = []
        for t in THRESHOLDS:
            rec = (s[y == 1] >= t).mean() if y.sum() else float("nan")
            fp = (s[y == 0] >= t).mean()
            cells.append(f"{rec:7.1%} {fp:6.2%}")
        print(f"{LABEL.get(c, c):13} {len(msgs):5d} {auc(y, s):6.3f} " + " ".join(cells)
              + f" {(s[y == 1] > 0).mean() if y.sum() else float('nan'):7.1%}/{(s[y == 0] > 0).mean():6.1%}"
              + f" {len(fired_n):11d} {1000 * statistics.mean(costs):7.2f}", flush=True)
        if c != "business":
            top = sorted(fired_n, key=lambda n: -fired_n[n])[:12]
            print("   most fired (spam/ham): " + ", ".join(f"{n} {fired_by_label[1][n]}/{fired_by_label[0][n]}" for n in top))
    if dump:
        dump.close()
    print("\nCost per 5 KB ham message (bench_messages.ham_text, 5,000-byte easy-ham bodies; fastest of 3 runs each)")
    hams = [reader.doc("cost", str(i), 0, raw) for i, raw in enumerate(bench_messages.ham_text(100, corpora=root))]
    for label, sc in (("literal prefilter", scorer), ("every rule", Scorer(rs, prefilter=False))):
        per = []
        for m in hams:
            best = float("inf")
            for _ in range(3):
                t = time.perf_counter()
                sc.score(sc.fired(m.subject, m.texts, m.uris))
                best = min(best, time.perf_counter() - t)
            per.append(best)
        p90 = sorted(per)[int(0.9 * len(per))]
        print(f"  {label:18} median {1000 * statistics.median(per):6.2f} ms, p90 {1000 * p90:6.2f} ms")
    print(f"  prefilter: {len(scorer.gated)} rules gated by {len(scorer.keys)} literals; always run: "
          + ", ".join(f"{k} {len(v)}" for k, v in sorted(scorer.always.items())))
    if args.sa_out:
        print("\nReal SpamAssassin (spamassassin -L -t, no Bayes) vs these rules, same balanced sample")
        print(f"{'corpus':13} {'n':>5} {'AUC SA':>7} {'AUC ours':>9} {'SA rec@5':>9} {'SA FP@5':>8}")
        for c in CORPORA:
            out = args.sa_out / f"{c}.out"
            if not out.is_file():
                continue
            names, y, sa = read_sa_out(out, args.sa_out / f"{c}.mbox.labels")
            by_name = {m.name: m for m in corpora[c]}
            ours = np.array([scored[c][n] if n in scored[c] else scorer.score(scorer.fired(
                by_name[n].subject, by_name[n].texts, by_name[n].uris)) for n in names])
            print(f"{LABEL[c]:13} {len(names):5d} {auc(y, sa):7.3f} {auc(y, ours):9.3f} "
                  f"{(sa[y == 1] >= 5).mean():9.1%} {(sa[y == 0] >= 5).mean():8.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
