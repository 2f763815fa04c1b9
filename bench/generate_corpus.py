"""Generate a large corpus of realistic Swedish meeting notes from the sample documents.

    .venv/bin/python bench/generate_corpus.py OUT_DIR --statements 100000 [--seed 20171213]

Writes markdown `.txt` documents in the style of the sample workshop notes (corpus/): a title
naming one of the six sjukvårdsregioner (in one of its spellings), a city and date line,
"Segment k – …" sections with headings taken from the samples, "Grupp n" subsections of
bullets, and some "Möjligheter | Hinder" (or "Styrkor | Svagheter") tables whose cells get a
polarity. Each statement is one of the sample corpus's statements, varied: a place name swapped
for a city of the document's own region, its first half joined to the second half of another
statement, a word dropped or repeated. About 1 document in 12 is a national summary that names
several regions. Documents hold 40-160 statements; the generator stops once it has written
`--statements` bullets and cells (the segmenter splits a few of them, so a run finds slightly
more statements than asked). Same seed, same bytes.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flows import io
from pipeline.config import PROJECT_ROOT, Config
from pipeline.extract import extract_document
from pipeline.records import Statement
from pipeline.regions import attribute_regions
from pipeline.segment import segment_document
from pipeline.vocabulary import vocabulary

# Spellings a title may use for each region (all recognised by models/gazetteer.yaml).
REGION_TITLES = {
    "Norra": ("Norra sjukvårdsregionen", "Sjukvårdsregion Norr", "Norrlandstingens regionförbund"),
    "Mellansverige": ("Sjukvårdsregion Mellansverige", "Uppsala-Örebroregionen"),
    "Stockholm-Gotland": ("Stockholms sjukvårdsregion", "Sjukvårdsregion Stockholm-Gotland"),
    "Västra": ("Västra sjukvårdsregionen", "Västra Götalandsregionen"),
    "Sydöstra": ("Sydöstra sjukvårdsregionen", "Sydöstra sjukvårdsregionen (SÖSR)"),
    "Södra": ("Södra sjukvårdsregionen", "Sjukvårdsregion Syd"),
}
CITIES = {
    "Norra": ("Umeå", "Luleå", "Sundsvall", "Östersund"),
    "Mellansverige": ("Uppsala", "Örebro", "Västerås", "Karlstad", "Falun", "Gävle"),
    "Stockholm-Gotland": ("Stockholm", "Visby"),
    "Västra": ("Göteborg", "Borås", "Skövde", "Halmstad"),
    "Sydöstra": ("Linköping", "Jönköping", "Kalmar", "Norrköping"),
    "Södra": ("Malmö", "Lund", "Helsingborg", "Kristianstad", "Växjö"),
}
POLARITY_HEADERS = (("Möjligheter", "Hinder"), ("Styrkor", "Svagheter"))
_ALL_CITIES = sorted({c for cities in CITIES.values() for c in cities}, key=len, reverse=True)
_CITY_RE = re.compile(r"\b(" + "|".join(_ALL_CITIES) + r")\b")


@dataclass(frozen=True)
class Sources:
    """What the sample corpus offers: statement texts and section headings."""

    texts: tuple[str, ...]
    headings: tuple[str, ...]


def sample_sources(corpus_dir: Path = PROJECT_ROOT / "corpus") -> Sources:
    """Statements and headings of the sample documents, read as a run reads them."""
    config = Config()
    data = io.load_project_data(config, corpus_dir)
    statements: list[Statement] = []
    for path in sorted(corpus_dir.iterdir()):
        if path.is_file():
            document = extract_document(path.name, path.read_bytes(), config.limits)
            found = segment_document(document, config.segment, data.abbreviations)
            statements += attribute_regions(document, found, data.gazetteer)[0]
    texts = sorted({s.text for s in statements if len(s.text.split()) >= 2})
    headings = sorted(
        {
            h
            for s in statements
            for h in s.heading_path
            if 2 <= len(h.split()) <= 8 and not re.search(r"grupp|region|\d{4}", h, re.I)
        }
    )
    return Sources(tuple(texts), tuple(headings))


def _vary(text: str, rng: np.random.Generator, texts: Sequence[str], region: str) -> str:
    """One to three perturbations of a sample statement (see the module docstring)."""
    words = text.split()
    for op in rng.permutation(4)[: int(rng.integers(1, 4))]:
        if op == 0 and len(words) >= 4:
            other = texts[int(rng.integers(len(texts)))].split()
            words = words[: len(words) // 2] + other[len(other) // 2 :]
        elif op == 1 and len(words) >= 5:
            del words[int(rng.integers(len(words)))]
        elif op == 2 and len(words) >= 3:
            j = int(rng.integers(len(words)))
            words.insert(j, words[j])
        elif op == 3:
            city = CITIES[region][int(rng.integers(len(CITIES[region])))]
            joined = " ".join(words)
            if _CITY_RE.search(joined):
                words = _CITY_RE.sub(city, joined).split()
            elif rng.random() < 0.2:
                words = f"I {city}: {joined}".split()
    out = " ".join(words).replace("|", "/")
    return out[0].upper() + out[1:] if out else text


def _document(rng: np.random.Generator, sources: Sources, n_statements: int) -> tuple[str, int]:
    """The text of one generated document with about `n_statements` bullets and cells."""
    regions = sorted(REGION_TITLES)
    national = rng.random() < 1 / 12
    region = regions[int(rng.integers(len(regions)))]
    titles = REGION_TITLES[region]
    day, month = int(rng.integers(1, 29)), vocabulary().months[int(rng.integers(12))]
    year = int(rng.integers(2016, 2024))
    lines = (
        ["# Sammanställning från de sex sjukvårdsregionerna", "", f"{day} {month} {year}", ""]
        if national
        else [
            f"# {titles[int(rng.integers(len(titles)))]}",
            "",
            f"**{CITIES[region][int(rng.integers(len(CITIES[region])))]}, {day} {month} {year}**",
            "",
        ]
    )
    written, segment = 0, 0
    while written < n_statements:
        segment += 1
        heading = sources.headings[int(rng.integers(len(sources.headings)))]
        lines += [f"## Segment {segment} – {heading}", ""]
        if national:
            region = regions[int(rng.integers(len(regions)))]
            lines += [f"### {REGION_TITLES[region][0]}", ""]
        for group in range(1, int(rng.integers(2, 5)) + 1):
            lines += [f"### Grupp {group}", ""]
            for _ in range(int(rng.integers(3, 9))):
                text = _vary(
                    sources.texts[int(rng.integers(len(sources.texts)))], rng, sources.texts, region
                )
                lines.append(f"- {text}")
                written += 1
            lines.append("")
        if rng.random() < 0.4:
            left, right = POLARITY_HEADERS[int(rng.integers(len(POLARITY_HEADERS)))]
            lines += [f"| {left} | {right} |", "| --- | --- |"]
            for _ in range(int(rng.integers(2, 6))):
                cells = [
                    _vary(
                        sources.texts[int(rng.integers(len(sources.texts)))],
                        rng,
                        sources.texts,
                        region,
                    )
                    for _ in range(2)
                ]
                lines.append(f"| {cells[0]} | {cells[1]} |")
                written += 2
            lines.append("")
    return "\n".join(lines) + "\n", written


def generate(out_dir: Path, statements: int, seed: int, sources: Sources | None = None) -> int:
    """Write documents into `out_dir` until about `statements` statements; returns how many
    documents were written."""
    sources = sources or sample_sources()
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    total, n_documents = 0, 0
    while total < statements:
        size = min(int(rng.integers(40, 161)), statements - total)
        text, written = _document(rng, sources, size)
        (out_dir / f"dialog_{n_documents:06d}.txt").write_text(text, encoding="utf-8")
        total += written
        n_documents += 1
    return n_documents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--statements", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=Config().seed)
    args = parser.parse_args()
    n = generate(args.out_dir, args.statements, args.seed)
    print(f"wrote {n} documents to {args.out_dir}")


if __name__ == "__main__":
    main()
