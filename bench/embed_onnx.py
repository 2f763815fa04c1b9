"""ONNX Runtime (fp32, fused fp32, dynamic int8) and torch bf16 against torch float32.

Run: ``nice -n 10 HF_HUB_OFFLINE=1 python bench/embed_onnx.py [--threads 1] [--n 600]``.
Exports `models/e5-small-st`'s transformer to ONNX (offline, from the local weights) in a temp
folder, runs the same length-sorted batches with the same mean pooling, and prints statements
per second and the cosine of each path's vectors to the torch float32 vectors (adoption needs
cosine >= 0.999 on every statement and more speed; torch bf16 (the packed engine) is what
`model.precision: auto` runs on CPUs with native bf16). Needs `pip install '.[bench]'`
(onnx, onnxruntime).
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

Forward = Callable[[Any, Any], Any]


def _texts(n: int) -> list[str]:
    from _corpus import write_corpus

    from flows import io
    from pipeline.extract import extract_document
    from pipeline.segment import segment_document

    config = io.load_config()
    abbreviations = io.load_abbreviations(config)
    texts: dict[str, None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in write_corpus(Path(tmp), 40):
            document = extract_document(path.name, path.read_bytes(), config.limits)
            texts.update(
                (s.text, None) for s in segment_document(document, config.segment, abbreviations)
            )
    return list(texts)[:n]


def _encode(
    ids: list[list[int]], forward: Forward, bos: int, eos: int, pad: int, batch: int
) -> Any:
    """Length-sorted batches, mean over all tokens of each sequence, L2-normalised."""
    out = np.zeros((len(ids), 384), dtype=np.float64)
    order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), i))
    for s in range(0, len(order), batch):
        idx = order[s : s + batch]
        seqs = [[bos, *ids[i], eos] for i in idx]
        width = max(len(q) for q in seqs)
        tokens = np.full((len(seqs), width), pad, dtype=np.int64)
        mask = np.zeros((len(seqs), width), dtype=np.int64)
        for r, q in enumerate(seqs):
            tokens[r, : len(q)], mask[r, : len(q)] = q, 1
        hidden = np.asarray(forward(tokens, mask), dtype=np.float64)
        out[idx] = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=600, help="distinct statements")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from pipeline.embed import SentenceTransformerEmbedder, bf16_refused

    texts = _texts(args.n)
    emb = SentenceTransformerEmbedder(ROOT / "models" / "e5-small-st", threads=args.threads)
    ids = emb.content_ids(texts)
    assert max(len(i) for i in ids) <= 510, "bench texts must fit one window"
    emb.encode(texts[:32])
    reference = emb.encode(texts)
    auto_model = emb.sentence_transformer[0].auto_model

    class _LastHidden(torch.nn.Module):
        """Keyword arguments in, last hidden state out (what the ONNX graph computes)."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = auto_model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    model = _LastHidden().eval()
    vocab = emb._tok.get_vocab()
    bos, eos, pad = vocab["<s>"], vocab["</s>"], vocab["<pad>"]

    paths: list[tuple[str, Callable[[], Any]]] = [("torch float32", lambda: emb.encode(texts))]
    refused = bf16_refused()
    if refused:
        print(f"(torch bfloat16 skipped: oneDNN refuses bf16 on this CPU: {refused})")
    else:
        bf16 = SentenceTransformerEmbedder(
            ROOT / "models" / "e5-small-st", threads=args.threads, precision="bfloat16"
        )
        bf16.encode(texts[:32])
        paths.append(("torch bfloat16, packed engine", lambda: bf16.encode(texts)))
    with tempfile.TemporaryDirectory(prefix="onnx-") as tmp:
        fp32 = Path(tmp) / "e5.onnx"
        sample = torch.ones((2, 8), dtype=torch.long)
        torch.onnx.export(
            model,
            (sample, sample),
            str(fp32),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in ("input_ids", "attention_mask")},
            opset_version=17,
            dynamo=False,
        )
        int8 = Path(tmp) / "e5-int8.onnx"
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
        variants = [("onnxruntime fp32", fp32), ("onnxruntime int8 (dynamic)", int8)]
        try:
            from onnxruntime.transformers.optimizer import optimize_model

            fused = Path(tmp) / "e5-fused.onnx"
            optimize_model(
                str(fp32), model_type="bert", num_heads=12, hidden_size=384
            ).save_model_to_file(str(fused))
            variants.append(("onnxruntime fp32 fused", fused))
        except Exception as exc:
            print(f"(fused fp32 skipped: {type(exc).__name__}: {exc})")
        for label, path in variants:
            options = ort.SessionOptions()
            options.intra_op_num_threads = args.threads
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

            def forward(tokens: Any, mask: Any, session: Any = session) -> Any:
                return session.run(None, {"input_ids": tokens, "attention_mask": mask})[0]

            _encode(ids[:32], forward, bos, eos, pad, args.batch)
            timed = functools.partial(_encode, ids, forward, bos, eos, pad, args.batch)
            paths.append((label, timed))
        # Rounds over every path, best time of each: a shared machine's load moves between
        # paths measured one after the other, much less between rounds.
        best = {label: float("inf") for label, _ in paths}
        vectors_of: dict[str, Any] = {}
        for _ in range(args.rounds):
            for label, run in paths:
                t0 = time.perf_counter()
                vectors_of[label] = run()
                best[label] = min(best[label], time.perf_counter() - t0)
    torch_s = best[paths[0][0]]
    results = [(label, best[label], vectors_of[label]) for label, _ in paths]

    print(
        f"{len(texts)} distinct statements, {args.threads} thread(s), batch {args.batch}, "
        f"best of {args.rounds} interleaved rounds"
    )
    print(f"{'path':<30}{'stmts/s':>9}{'speed-up':>10}{'cos min':>10}{'cos mean':>10}")
    for label, seconds, vectors in results:
        cos = (np.asarray(vectors, np.float64) * reference).sum(axis=1)
        print(
            f"{label:<30}{len(texts) / seconds:>9.1f}{torch_s / seconds:>10.2f}"
            f"{cos.min():>10.6f}{cos.mean():>10.6f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
