"""pipeline/themes.py at scale: the themes stage on 200 000 statements in a child process whose
address space is capped below what one n x n matrix of them would need.

The vectors are synthetic but shaped like real ones: each statement is a real e5 vector (a
codebook example, or one of the IT statements the codebook does not name) plus seeded noise,
renormalised, and its text is that source text with a number appended (numbers are no content
lemma), so a large share lands in the inductive pool, which HDBSCAN must then cluster.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from pipeline.codebook import parse_codebook
from pipeline.config import PROJECT_ROOT

pytestmark = pytest.mark.slow

N_STATEMENTS = 200_000
# Address space of the child: the libraries (numpy, scikit-learn, hdbscan, spaCy's stop words)
# and the linear data (vectors, probabilities, records) fit; an n x n float32 matrix of the
# 200 000 statements (160 GB), or a float64 one of the inductive pool, does not.
LIMIT_BYTES = 6 * 1024**3

_CHILD = r"""
import json, resource, sys
import numpy as np

limit, workdir, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

from pipeline.codebook import parse_codebook
from pipeline.config import PROJECT_ROOT, Config
from pipeline.records import Location, Statement
from pipeline.themes import assign_themes

inputs = np.load(f"{workdir}/inputs.npz")
sources = json.loads(open(f"{workdir}/sources.json", encoding="utf-8").read())
codebook = parse_codebook(
    (PROJECT_ROOT / "models" / "codebook.yaml").read_text(encoding="utf-8"), "codebook.yaml"
)
stopwords = frozenset(sources["stopwords"])
texts, source_vectors = sources["texts"], inputs["source_vectors"]
rng = np.random.default_rng(20171213)
# A fifth of the statements vary a codebook text, the rest an IT statement (a topic the
# codebook does not name, though the classifier files many under a codebook theme): the
# inductive pool is then tens of thousands of statements.
n_codebook = int(sources["n_codebook"])
pick = np.where(
    rng.random(n) < 0.2,
    rng.integers(0, n_codebook, n),
    rng.integers(n_codebook, len(texts), n),
)
vectors = source_vectors[pick] + rng.normal(0.0, 0.012, (n, source_vectors.shape[1])).astype(
    np.float32
)
vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
statements = [
    Statement(
        id=f"doc{i // 1000:03d}.txt:{i % 1000 + 1}:1",
        document=f"doc{i // 1000:03d}.txt",
        location=Location(line=i % 1000 + 1),
        text=f"{texts[int(p)]} {i}",
        heading_path=(f"Grupp {i % 7 + 1}",),
    )
    for i, p in enumerate(pick)
]
result = assign_themes(
    statements, vectors, codebook, inputs["codebook_vectors"], Config().themes, stopwords
)
with open("/proc/self/status", encoding="ascii") as status:
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
methods = {}
for a in result.assignments:
    methods[a.method] = methods.get(a.method, 0) + 1
print(json.dumps({
    "n": len(result.assignments),
    "methods": methods,
    "inductive": [t.size for t in result.themes if t.origin == "inductive"],
    "ids_match": [a.statement_id for a in result.assignments] == [s.id for s in statements],
    # VmHWM is this process's own peak: ru_maxrss would start at the parent's (pytest's) peak,
    # which Linux carries over into a child across fork and exec.
    "peak_rss_mb": peak_kb // 1024,
}))
"""


@pytest.fixture(scope="module")
def workdir(
    tmp_path_factory: pytest.TempPathFactory,
    encode: Callable[[Sequence[str]], npt.NDArray[np.float32]],
) -> Path:
    """Real vectors of the codebook and of the texts the synthetic statements vary."""
    from pipeline.themes import load_stopwords

    codebook = parse_codebook(
        (PROJECT_ROOT / "models" / "codebook.yaml").read_text(encoding="utf-8"), "codebook.yaml"
    )
    it_statements = (
        (PROJECT_ROOT / "tests" / "data" / "it_statements.txt")
        .read_text(encoding="utf-8")
        .splitlines()
    )
    texts = [*codebook.texts, *it_statements]
    folder = tmp_path_factory.mktemp("scale")
    np.savez(
        folder / "inputs.npz",
        codebook_vectors=encode(codebook.texts),
        source_vectors=encode(texts),
    )
    extra = (PROJECT_ROOT / "models" / "stopwords_extra.txt").read_text(encoding="utf-8")
    (folder / "sources.json").write_text(
        json.dumps(
            {
                "texts": texts,
                "n_codebook": len(codebook.texts),
                "stopwords": sorted(load_stopwords(extra)),
            }
        ),
        encoding="utf-8",
    )
    return folder


def test_themes_stage_runs_on_200k_statements_under_a_memory_cap(workdir: Path) -> None:
    # The cap is one an n x n matrix of the statements could not live under.
    assert N_STATEMENTS**2 * 4 > 20 * LIMIT_BYTES
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(LIMIT_BYTES), str(workdir), str(N_STATEMENTS)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTHONPATH": str(PROJECT_ROOT),
        },
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["n"] == N_STATEMENTS and out["ids_match"]
    # A large inductive pool reached HDBSCAN: more statements than its sample, and even the
    # pool's float64 distance matrix (HDBSCAN's generic algorithm holds it, and about as much
    # again) would not fit under the cap.
    pool = out["methods"].get("hdbscan", 0) + out["methods"].get("unassigned", 0)
    assert pool > 30_000 and pool**2 * 8 > LIMIT_BYTES, out
    assert out["inductive"] and out["methods"].get("hdbscan", 0) > 0, out
    assert out["peak_rss_mb"] * 1024**2 < LIMIT_BYTES
