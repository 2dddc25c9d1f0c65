#!/usr/bin/env python3
"""CPU cost of the spam text model per 5 KB message (target: at most 1 ms), and of the whole check.

    PYTHONSAFEPATH=1 .venv/bin/python bench/spam_model_speed.py [--n 300] [--synthetic] [--baseline REV]

Messages: the SpamAssassin corpus files of 4.5-5.5 KB when ../shared/corpora is there (about
half of such a file is headers), else, or with --synthetic, 5 KB bodies of English-like words
(a fixed seed: the worst case, every byte is text the model reads). Timed on already parsed messages
(the MIME parse is the core's): the text model alone (normalise, hash, sum) and the whole
`spam` check with it. Prints the median and p95 in ms, and the weights file's size and load time.
`--baseline REV` also times the text model of git revision REV (its plugins/spam_model.py and
weights file) on the same messages, interleaved message by message with the current one, and
prints the ratio of the medians: the figure to quote on a loaded machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spam_corpora import SA_HAM, SA_SPAM, find_corpora  # noqa: E402

from outguard.core.message import Envelope, Message, parse_message  # noqa: E402
from outguard_plugins import spam, spam_model  # noqa: E402

WORDS = ("the of and to a in for is on that by this with you it not or be are from at as your all have new more an was "
         "we will home can us about if page my has search free but our one other do no information time they site he "
         "up may what which their news out use any there see only so his when contact here business who web also now "
         "help get view online first been would how were me services some these click its like service than find price "
         "date back top people had list name just over state year day into email two health world re next used go work "
         "last most products music buy data make them should product system post her city add policy number such please").split()


def messages(n: int, synthetic: bool) -> tuple[str, list[Message]]:
    root = None if synthetic else find_corpora()
    if root is not None:
        out = []
        for folder in SA_HAM + SA_SPAM:
            for p in sorted((root / "spamassassin" / folder).iterdir()):
                if 4500 <= p.stat().st_size <= 5500:
                    raw = p.read_bytes()
                    raw = raw.split(b"\n", 1)[1] if raw.startswith(b"From ") else raw
                    out.append(parse_message(raw, Envelope()))
        random.Random(0).shuffle(out)
        return "SpamAssassin messages of 4.5-5.5 KB", out[:n]
    rng = random.Random(0)
    out = []
    for _ in range(n):
        words: list[str] = []
        while sum(len(w) + 1 for w in words) < 5000:
            words.append(rng.choice(WORDS) + ("." if rng.random() < 0.07 else ""))
        out.append(parse_message(("Subject: " + " ".join(words[:6]) + "\n\n" + " ".join(words)).encode(), Envelope()))
    return "synthetic messages with a 5 KB body", out


def baseline(rev: str) -> tuple[ModuleType, object]:
    """(spam_model module, its loaded text model) as they were at git revision `rev`."""
    project = Path(__file__).resolve().parent.parent
    root = Path(tempfile.mkdtemp(prefix="spam-model-baseline-"))
    (root / "data").mkdir()
    for name, dest in (("plugins/spam_model.py", root / "spam_model_baseline.py"),
                       ("plugins/data/spam_text_model.bin", root / "data" / "spam_text_model.bin")):
        dest.write_bytes(subprocess.run(["git", "-C", str(project), "show", f"{rev}:{name}"], check=True,
                                        capture_output=True).stdout)
    spec = importlib.util.spec_from_file_location("spam_model_baseline", root / "spam_model_baseline.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module, module.load_model(root / "data" / "spam_text_model.bin")


def interleaved(fns: list, items: list[Message], rounds: int = 3) -> list[list[float]]:  # type: ignore[type-arg]
    """Per function, each message's fastest of `rounds` runs, the functions alternating message by
    message, so both see the same load."""
    out: list[list[float]] = [[] for _ in fns]
    for m in items:
        best = [float("inf")] * len(fns)
        for _ in range(rounds):
            for i, fn in enumerate(fns):
                t0 = time.perf_counter_ns()
                fn(m)
                best[i] = min(best[i], (time.perf_counter_ns() - t0) / 1e6)
        for i, b in enumerate(best):
            out[i].append(b)
    return out


def timed(fn, items: list[Message]) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for m in items:
        t0 = time.perf_counter_ns()
        fn(m)
        out.append((time.perf_counter_ns() - t0) / 1e6)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--synthetic", action="store_true", help="5 KB bodies of generated text, even with the corpora")
    ap.add_argument("--baseline", metavar="REV", default=None, help="also time the text model of this git revision")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    tm = spam_model.load_model()
    load_s = time.perf_counter() - t0
    state = spam.State(features=spam.Features(), model=spam.Model.load(spam.WEIGHTS_FILE), min_score=float("-inf"),
                       text_model=tm)
    what, items = messages(args.n, args.synthetic)
    timed(lambda m: tm.logit(*spam_model.message_text(m)), items[:20])  # warm up
    text = timed(lambda m: tm.logit(*spam_model.message_text(m)), items)
    check = timed(lambda m: spam.inspect(m, state), items)
    print(f"{len(items)} {what}")
    print(f"weights file {spam_model.MODEL_FILE.name}: {spam_model.MODEL_FILE.stat().st_size / 1024:.0f} KiB on disk, "
          f"2^{tm.bits} weights, loaded in {load_s * 1000:.0f} ms")
    for name, xs in (("text model", text), ("whole spam check", check)):
        xs.sort()
        print(f"{name}: median {statistics.median(xs):.3f} ms per message, p95 {xs[int(0.95 * (len(xs) - 1))]:.3f} ms")
    if args.baseline:
        _, old = baseline(args.baseline)
        # the check reads its text model by duck typing (read, combined_logit, score, min_evidence)
        old_state = spam.State(features=state.features, model=state.model, min_score=state.min_score,
                               text_model=old)  # type: ignore[arg-type]
        runs = interleaved([lambda m: tm.logit(*spam_model.message_text(m)),
                            lambda m: old.logit(*spam_model.message_text(m)),  # type: ignore[attr-defined]
                            lambda m: spam.inspect(m, state), lambda m: spam.inspect(m, old_state)], items)
        now, then, check_now, check_then = map(statistics.median, runs)
        print(f"side by side (fastest of 3 per message, interleaved), median ms: text model {now:.3f} here, "
              f"{then:.3f} at {args.baseline} (ratio {now / then:.2f}); whole spam check {check_now:.3f} here, "
              f"{check_then:.3f} with {args.baseline}'s text model (ratio {check_now / check_then:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
