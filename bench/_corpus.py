"""A larger corpus from the five sample documents, by light, seeded perturbation (for bench/).

Each generated document keeps a sample document's title lines (so its region is found as in
the original) and a random run of its other lines; in nine of ten lines of more than 20
characters one word is replaced by another word of the corpus, so most statements are new texts
to embed (as in a real corpus) while the documents still read like
meeting notes. Deterministic for a given seed.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "corpus").glob("*.txt"))
_HEAD_LINES = 6  # the title lines: region, place and date, meeting
_WORD = re.compile(r"[A-Za-zÅÄÖåäö]{5,}")


def _vocabulary(texts: list[str]) -> list[str]:
    return sorted({w.lower() for t in texts for w in _WORD.findall(t)})


def perturbed_document(sample: str, vocabulary: list[str], rng: random.Random) -> str:
    """One new document from the text of a sample document."""
    lines = sample.splitlines()
    head, body = lines[:_HEAD_LINES], lines[_HEAD_LINES:]
    span = min(len(body), rng.randint(60, 120))
    start = rng.randint(0, max(0, len(body) - span))
    out = []
    for line in body[start : start + span]:
        words = line.split(" ")
        if len(line) > 20 and rng.random() < 0.9:
            at = [i for i, w in enumerate(words) if _WORD.fullmatch(w)]
            if at:
                words[rng.choice(at)] = rng.choice(vocabulary)
        out.append(" ".join(words))
    return "\n".join([*head, *out]) + "\n"


def write_corpus(folder: Path, n_documents: int, seed: int = 20171213) -> list[Path]:
    """`n_documents` perturbed sample documents in `folder` (created); their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    texts = [p.read_text(encoding="utf-8") for p in SAMPLES]
    vocabulary = _vocabulary(texts)
    rng = random.Random(seed)
    paths = []
    for i in range(n_documents):
        k = i % len(texts)
        path = folder / f"{i:05d}_{SAMPLES[k].stem.split('_')[0]}.txt"
        path.write_text(perturbed_document(texts[k], vocabulary, rng), encoding="utf-8")
        paths.append(path)
    return paths
