"""Architecture guard: `pipeline/` is pure (no Prefect, no file writes); flows do the I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIPELINE_FILES = sorted((ROOT / "pipeline").rglob("*.py"))

# Method names that only ever write to the file system.
_WRITING_CALLS = {
    "write_text", "write_bytes", "mkdir", "makedirs", "unlink", "rmtree", "touch", "to_csv",
    "to_parquet", "savez", "symlink_to", "mkdtemp", "mkstemp", "NamedTemporaryFile", "save_file",
}  # fmt: skip
# Names that also exist as harmless methods (str.replace, dataclasses.replace): writes only as
# functions of these modules.
_WRITING_MODULE_CALLS = {
    ("os", "replace"),
    ("os", "rename"),
    ("os", "remove"),
    ("shutil", "move"),
    ("shutil", "copy"),
    ("shutil", "copyfile"),
    ("np", "save"),
}


def test_pipeline_has_modules() -> None:
    names = {p.stem for p in PIPELINE_FILES}
    assert {"segment", "regions", "embed", "themes", "matrix"} <= names
    assert (ROOT / "pipeline" / "extract" / "__init__.py").is_file()


@pytest.mark.parametrize("path", PIPELINE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pipeline_module_is_pure(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] in {"prefect", "flows"} for a in node.names), path
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in {"prefect", "flows"}, path
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert name not in _WRITING_CALLS, f"{path}:{node.lineno}: {name}() writes files"
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                pair = (func.value.id, func.attr)
                assert pair not in _WRITING_MODULE_CALLS, f"{path}:{node.lineno}: {pair} writes"
            if name == "open":
                modes = [a.value for a in node.args[1:2] if isinstance(a, ast.Constant)]
                modes += [
                    k.value.value
                    for k in node.keywords
                    if k.arg == "mode" and isinstance(k.value, ast.Constant)
                ]
                assert not any(set(str(m)) & set("wax+") for m in modes), f"{path}:{node.lineno}"


def test_the_guard_catches_a_write(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from pathlib import Path\nPath('x').write_text('y')\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="write_text"):
        test_pipeline_module_is_pure(bad)
