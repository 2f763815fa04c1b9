"""Seconds from `temakarta run` to exit 3 for each bad input (the command as a user runs it).

    python bench/validation_exit.py [--repeat 3]

Each case breaks one input of a good set-up (two sample documents, the project's data files) in a
temporary folder and runs `python -m flows.cli run` in a fresh process; the table gives the
exit code, the median wall-clock seconds and the first line of the message. Before this check,
an unknown region in metadata.csv ended after ~20 s in a traceback (exit 1).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("000_cc70e5e80d086de1.txt", "004_77aaf0857291a2ba.txt")
Case = Callable[[Path, Path], list[str]]  # (work folder, corpus) -> extra CLI arguments


def _config(work: Path, text: str) -> list[str]:
    path = work / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return ["--config", str(path)]


def _broken(work: Path, name: str, old: str, new: str) -> Path:
    text = (ROOT / "models" / name).read_text(encoding="utf-8")
    path = work / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _metadata(corpus: Path, text: str) -> list[str]:
    (corpus / "metadata.csv").write_text(text, encoding="utf-8")
    return []


def _gazetteer_string_group(work: Path, corpus: Path) -> list[str]:
    old = 'names: ["södra sjukvårdsregion\\\\w*", "sjukvårdsregion syd"]'
    return _config(work, f"gazetteer: {_broken(work, 'gazetteer.yaml', old, 'names: Skåne')}\n")


def _labels_without_theme(work: Path, corpus: Path) -> list[str]:
    (corpus / "labels.csv").write_text("document,text,label\n", encoding="utf-8")
    return []


def _output_below_a_file(work: Path, corpus: Path) -> list[str]:
    (work / "fil").write_text("", encoding="utf-8")
    return ["--output", str(work / "fil" / "ut")]


CASES: dict[str, Case] = {
    "config: misspelled top-level key": lambda w, c: _config(w, "seeed: 1\n"),
    "config: value not allowed": lambda w, c: _config(w, "outputs:\n  csv_dialect: semicolon\n"),
    "config: representatives 11": lambda w, c: _config(w, "themes:\n  representatives: 11\n"),
    "config: YAML syntax error": lambda w, c: _config(w, "model:\n  path: [x\n"),
    "codebook: YAML syntax error": lambda w, c: _config(
        w,
        f"themes:\n  codebook: {_broken(w, 'codebook.yaml', '- id: roller', '- id: [roller')}\n",
    ),
    "codebook: unknown key": lambda w, c: _config(
        w,
        f"themes:\n  codebook: {_broken(w, 'codebook.yaml', 'label: Tydliga', 'lable: Tydliga')}\n",
    ),
    "gazetteer: `names: Skåne`": _gazetteer_string_group,
    "metadata.csv: unknown region": lambda w, c: _metadata(
        c, f"document,region\n{DOCS[0]},Gotland\n"
    ),
    "metadata.csv: column `regon`": lambda w, c: _metadata(c, f"document,regon\n{DOCS[0]},Södra\n"),
    "metadata.csv: document not in corpus": lambda w, c: _metadata(
        c, "document,region\nx.txt,Södra\n"
    ),
    "metadata.csv: bad date": lambda w, c: _metadata(c, f"document,date\n{DOCS[0]},13/12/2017\n"),
    "labels.csv: no theme column": _labels_without_theme,
    "model folder missing": lambda w, c: _config(w, f"model:\n  path: {w / 'ingen'}\n"),
    "output folder not writable": _output_below_a_file,
}


def _run_case(case: Case) -> tuple[int, float, str]:
    with tempfile.TemporaryDirectory(prefix="temakarta-validation-") as tmp:
        work = Path(tmp)
        corpus = work / "korpus"
        corpus.mkdir()
        for name in DOCS:
            shutil.copy(ROOT / "corpus" / name, corpus / name)
        extra = case(work, corpus)
        argv = ["run", str(corpus), "--output", str(work / "ut"), "--quiet", *extra]
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "flows.cli", *argv],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"},
            check=False,
        )
        seconds = time.perf_counter() - start
        lines = done.stderr.strip().splitlines()
        message = lines[1] if len(lines) > 1 else (lines[0] if lines else "")
        if "Traceback" in done.stderr:
            message = "TRACEBACK: " + message
        return done.returncode, seconds, message.replace(str(work), "…")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("| bad input | exit | seconds (median) | message |")
    print("|---|---|---|---|")
    for name, case in CASES.items():
        runs = [_run_case(case) for _ in range(args.repeat)]
        codes = {code for code, _, _ in runs}
        median = statistics.median(seconds for _, seconds, _ in runs)
        message = runs[0][2][:110]
        print(f"| {name} | {'/'.join(map(str, sorted(codes)))} | {median:.1f} | `{message}` |")


if __name__ == "__main__":
    main()
