"""Report: the run's tables → one self-contained `report.html` (a string; flows write it).

What an analyst opens from a mail attachment or a file share: the theme × region heatmap of
shares (counts in the cells, a toggle to counts) with the N_statements / N_documents rows; a
cell opens the statements behind it (document, page, line, heading path, polarity, method and
confidence), searchable, with the cell's polarity split; the themes with their keywords and
representative statements; the documents read; the files skipped and what to do; the run's id,
date, model and config.

Everything is inline (CSS, JS, data): the page makes no request. Cells are focusable and the
arrow keys move between them (Enter opens one); the palette is a single-hue blue scale; a print
stylesheet fits A4 landscape. The statements are a JSON blob in a `<script
type="application/json">` (`</` written `<\\/` so no text can close the script), in reading
order, and nothing depends on the clock: the same tables and `RunInfo` give the same bytes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import pandas as pd

from pipeline.config import MAX_REPRESENTATIVES, REPORT_STATEMENTS_PER_CELL, Config
from pipeline.labels import STAGE as LABELS_STAGE
from pipeline.matrix import (
    COL_CONFIDENCE,
    COL_DATE,
    COL_DOCUMENT,
    COL_ENCODING,
    COL_FORMAT,
    COL_HEADING_PATH,
    COL_ID,
    COL_KEYWORDS,
    COL_LINE,
    COL_METHOD,
    COL_N_DROPPED,
    COL_N_STATEMENTS,
    COL_NO_POLARITY,
    COL_ORIGIN,
    COL_PAGE,
    COL_POLARITY,
    COL_REGION,
    COL_REGION_SOURCE,
    COL_REPRESENTATIVE,
    COL_SIZE,
    COL_TEXT,
    COL_THEME_ID,
    COL_THEME_LABEL,
    COL_TOTAL,
    POLARITY_COLUMNS,
    REGION_COLUMNS,
    ROW_N_DOCUMENTS,
    ROW_N_STATEMENTS,
    Tables,
)
from pipeline.records import DocumentError, Region
from pipeline.report_assets import BLUES, CSS, JS, POLARITY_COLOURS

# The columns of a statement row in the JSON blob (the script looks them up by name).
DATA_COLUMNS = (
    COL_ID, COL_DOCUMENT, COL_PAGE, COL_LINE, COL_HEADING_PATH, COL_REGION, COL_POLARITY,
    COL_TEXT, COL_THEME_ID, COL_METHOD, COL_CONFIDENCE,
)  # fmt: skip
_POLARITIES = (*POLARITY_COLUMNS, COL_NO_POLARITY)
_GRID_COLUMNS = (*REGION_COLUMNS, COL_TOTAL)
_UNKNOWN = "okänd"


@dataclass(frozen=True)
class RunInfo:
    """The run facts the report shows besides the tables (the documents read come from
    `tables.documents`).

    `date` is shown as given (the flow passes the run's start time); `config` is (key, value)
    pairs, e.g. from `config_summary`; `errors` are the run's error rows: skipped files with what
    to do, and `labels.csv` rows that were not used; `per_cell` caps the statements the page
    carries per theme × region cell (`_sample_cells`)."""

    run_id: str
    date: str = ""
    model: str = ""
    model_hash: str = ""
    config: tuple[tuple[str, str], ...] = ()
    errors: tuple[DocumentError, ...] = ()
    per_cell: int = REPORT_STATEMENTS_PER_CELL  # per theme × region cell (outputs config)


def config_summary(config: Config) -> tuple[tuple[str, str], ...]:
    """The config as dotted (key, value) pairs in the order of its fields."""
    pairs: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        else:
            pairs.append((prefix, "" if value is None else str(value)))

    walk("", config.model_dump(mode="json"))
    return tuple(pairs)


def build_report(tables: Tables, run_info: RunInfo) -> str:
    """The whole `report.html` of a run."""
    counts = tables.counts.set_index(COL_THEME_ID)
    n_statements = _count(counts, ROW_N_STATEMENTS, COL_TOTAL)
    n_documents = len(tables.documents)
    css = CSS.replace("%RAMP%", ",".join(BLUES))
    title = f"Temakarta – körning {run_info.run_id}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="sv"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{css}</style></head>",
        '<body><header><h1>Temakarta: teman per region</h1><p class="meta">'
        f"Körning <strong>{_e(run_info.run_id)}</strong> · {_e(run_info.date or _UNKNOWN)} · "
        f"{n_statements} påståenden ur {n_documents} dokument · "
        f"modell {_e(run_info.model or _UNKNOWN)}</p></header><main>",
        _heatmap_section(tables),
        _panel_section(),
        _themes_section(tables.themes),
        _documents_section(tables.documents),
        _errors_section(run_info.errors),
        _run_section(run_info),
        "</main>",
        f'<script type="application/json" id="report-data">'
        f"{_data_json(tables, run_info.per_cell)}</script>",
        f"<script>{JS}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _count(frame: pd.DataFrame, row: str, column: str) -> int:
    return int(str(frame.loc[row, column]))


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _heatmap_section(tables: Tables) -> str:
    counts = tables.counts.set_index(COL_THEME_ID)
    shares = tables.shares.set_index(COL_THEME_ID)
    theme_ids = [t for t in shares.index if t not in (ROW_N_STATEMENTS, ROW_N_DOCUMENTS)]
    max_share = max((float(shares.loc[t, c]) for t in theme_ids for c in _GRID_COLUMNS), default=0)
    max_count = max((int(counts.loc[t, c]) for t in theme_ids for c in REGION_COLUMNS), default=0)
    max_total = max((int(counts.loc[t, COL_TOTAL]) for t in theme_ids), default=0)
    head = "".join(f'<th scope="col"{_total_class(c)}>{_e(c)}</th>' for c in _GRID_COLUMNS)
    rows = []
    for row, theme_id in enumerate(theme_ids):
        label = str(counts.loc[theme_id, COL_THEME_LABEL])
        cells = []
        for col, column in enumerate(_GRID_COLUMNS):
            count = int(counts.loc[theme_id, column])
            share = float(shares.loc[theme_id, column])
            count_max = max_total if column == COL_TOTAL else max_count
            bs, fs = _colour(share / max_share if max_share else 0.0)
            bc, fc = _colour(count / count_max if count_max else 0.0)
            first = row == 0 and col == 0
            region_text = "alla regioner" if column == COL_TOTAL else column
            cells.append(
                f'<td class="cell{" total" if column == COL_TOTAL else ""}" role="gridcell" '
                f'tabindex="{0 if first else -1}" data-row="{row}" data-col="{col}" '
                f'data-theme="{_e(theme_id)}" data-region="{_e(column)}" '
                f'data-label="{_e(label)}" data-count="{count}" '
                f'style="--bs:{bs};--fs:{fs};--bc:{bc};--fc:{fc}" '
                f'aria-label="{_e(label)}, {_e(region_text)}: {_percent(share)}, '
                f'{count} påståenden">'
                f'<span class="v-share">{_percent(share)}<span class="n">{count}</span></span>'
                f'<span class="v-count">{count}</span></td>'
            )
        rows.append(f'<tr><th scope="row">{_e(label)}</th>{"".join(cells)}</tr>')
    footer = "".join(
        f'<tr><th scope="row">{name}</th>'
        + "".join(f"<td{_total_class(c)}>{_count(counts, name, c)}</td>" for c in _GRID_COLUMNS)
        + "</tr>"
        for name in (ROW_N_STATEMENTS, ROW_N_DOCUMENTS)
    )
    return (
        '<section id="matrix"><h2>Teman × regioner</h2>'
        '<div class="controls" role="group" aria-label="Visa i cellerna">Visa: '
        '<button type="button" id="show-shares" aria-pressed="true">Andel av regionens '
        'påståenden (%)</button><button type="button" id="show-counts" aria-pressed="false">'
        "Antal påståenden</button></div>"
        '<p class="hint">Klicka på en cell – eller gå dit med piltangenterna och tryck Enter – '
        "för att se påståendena bakom den. Andelar är kolumnprocent: varje regions kolumn "
        "summerar till 100 %.</p>"
        '<table id="heatmap" role="grid" aria-label="Teman per region">'
        f'<thead><tr><th scope="col">Tema</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody><tfoot>{footer}</tfoot></table>"
        '<div class="legend"><span class="v-share">0 %</span><span class="v-count">0</span>'
        '<span class="ramp" aria-hidden="true"></span>'
        f'<span class="v-share">{_percent(max_share)}</span>'
        f'<span class="v-count">{max_count} (Totalt: {max_total})</span></div>'
        f'<p class="small">N_statements: påståenden per region; N_documents: dokument med '
        f"påståenden i regionen. {_e(Region.NATIONELL.value)}: nationell nivå eller flera "
        f"regioner; {_e(Region.OKAND.value)}: inget i dokumentet placerar påståendet.</p>"
        "</section>"
    )


def _total_class(column: str) -> str:
    return ' class="total"' if column == COL_TOTAL else ""


def _percent(share: float) -> str:
    return f"{share:.1f}".replace(".", ",") + " %"


def _colour(fraction: float) -> tuple[str, str]:
    """Background along the Blues stops for 0 ≤ fraction ≤ 1, and a text colour that reads on
    it (white on the darker half)."""
    fraction = min(max(fraction, 0.0), 1.0)
    position = fraction * (len(BLUES) - 1)
    low = min(math.floor(position), len(BLUES) - 2)
    t = position - low
    a, b = _rgb(BLUES[low]), _rgb(BLUES[low + 1])
    rgb = [round(x + (y - x) * t) for x, y in zip(a, b, strict=True)]
    luminance = (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255
    return "#{:02x}{:02x}{:02x}".format(*rgb), "#ffffff" if luminance < 0.5 else "#1b1b1b"


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _panel_section() -> str:
    headers = ("Påstående", "Dokument", "Sida", "Rad", "Rubriker", "Polaritet",
               "Metod (säkerhet)")  # fmt: skip
    return (
        '<section id="panel" hidden aria-live="polite"><h2 id="panel-title"></h2>'
        '<div id="panel-polbar" class="polbar" aria-hidden="true"></div>'
        '<div id="panel-pol" class="pollegend"></div>'
        '<div class="controls"><label id="search-label">Sök bland påståendena: '
        '<input type="search" id="search" autocomplete="off"></label>'
        '<span id="panel-count" class="small"></span>'
        '<button type="button" id="panel-close">Stäng (Esc)</button></div>'
        '<table id="statements" class="plain"><thead><tr>'
        + "".join(f'<th scope="col">{h}</th>' for h in headers)
        + '</tr></thead><tbody id="statement-rows"></tbody></table></section>'
    )


def _themes_section(themes: pd.DataFrame) -> str:
    origins = {"codebook": "kodbok", "inductive": "induktivt", "unassigned": "ej tilldelad"}
    rows = []
    for theme in themes.to_dict("records"):
        reps = [
            str(theme[key])
            for n in range(1, MAX_REPRESENTATIVES + 1)
            if (key := COL_REPRESENTATIVE.format(n=n)) in theme and str(theme[key] or "")
        ]
        rows.append(
            f"<tr><td>{_e(theme[COL_THEME_LABEL])}<br><code>{_e(theme[COL_THEME_ID])}</code></td>"
            f"<td>{_e(origins.get(str(theme[COL_ORIGIN]), theme[COL_ORIGIN]))}</td>"
            f"<td>{int(theme[COL_SIZE])}</td><td>{_e(theme[COL_KEYWORDS] or '')}</td>"
            f'<td><ul class="reps">{"".join(f"<li>{_e(r)}</li>" for r in reps)}</ul></td></tr>'
        )
    return (
        '<section id="themes"><h2>Teman</h2><table class="plain"><thead><tr>'
        '<th scope="col">Tema</th><th scope="col">Ursprung</th><th scope="col">Påståenden</th>'
        '<th scope="col">Nyckelord</th><th scope="col">Representativa påståenden</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _documents_section(documents: pd.DataFrame) -> str:
    columns = (
        (COL_DOCUMENT, "Dokument"), (COL_FORMAT, "Format"), (COL_ENCODING, "Teckenkodning"),
        (COL_REGION, "Region"), (COL_REGION_SOURCE, "Regionen enligt"), (COL_DATE, "Datum"),
        (COL_N_STATEMENTS, "Påståenden"), (COL_N_DROPPED, "Utelämnat (webbsidans ram)"),
    )  # fmt: skip
    head = "".join(f'<th scope="col">{label}</th>' for _, label in columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_e(_cell(record[key]))}</td>" for key, _ in columns) + "</tr>"
        for record in documents.to_dict("records")
    )
    return (
        f'<section id="documents"><h2>Lästa dokument ({len(documents)})</h2>'
        f'<table class="plain"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
        "</section>"
    )


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _errors_section(errors: Sequence[DocumentError]) -> str:
    ordered = sorted(
        errors, key=lambda e: (e.stage == LABELS_STAGE, e.document, e.stage, e.where, e.what)
    )
    skipped = [e for e in ordered if e.stage != LABELS_STAGE]
    labels = [e for e in ordered if e.stage == LABELS_STAGE]
    out = [f'<section id="skipped"><h2>Filer som hoppades över ({len(skipped)})</h2>']
    if not skipped:
        out.append("<p>Inga: alla filer i korpusmappen lästes.</p>")
    for title, rows in (("", skipped), ("Rader i labels.csv som inte användes", labels)):
        if not rows:
            continue
        if title:
            out.append(f"<h3>{title} ({len(rows)})</h3>")
        out.append(
            '<table class="plain"><thead><tr><th scope="col">Fil</th><th scope="col">Steg</th>'
            '<th scope="col">Fel</th><th scope="col">Vad du kan göra</th></tr></thead><tbody>'
            + "".join(
                f"<tr><td>{_e(e.document)}</td><td>{_e(e.stage)}</td><td>{_e(e.message)}</td>"
                f"<td>{_e(e.fix)}</td></tr>"
                for e in rows
            )
            + "</tbody></table>"
        )
    out.append("</section>")
    return "".join(out)


def _run_section(run_info: RunInfo) -> str:
    config = "".join(
        f"<tr><td><code>{_e(key)}</code></td><td>{_e(value)}</td></tr>"
        for key, value in run_info.config
    )
    return (
        '<section id="run"><h2>Körningen</h2><table class="plain"><tbody>'
        f"<tr><th>Körnings-id</th><td>{_e(run_info.run_id)}</td></tr>"
        f"<tr><th>Datum</th><td>{_e(run_info.date or _UNKNOWN)}</td></tr>"
        f"<tr><th>Modell</th><td>{_e(run_info.model or _UNKNOWN)}</td></tr>"
        f"<tr><th>Modellens sha256</th><td><code>{_e(run_info.model_hash or _UNKNOWN)}</code>"
        "</td></tr></tbody></table>"
        + (
            f"<details open><summary>Inställningar ({len(run_info.config)})</summary>"
            f'<table class="plain"><tbody>{config}</tbody></table></details>'
            if run_info.config
            else ""
        )
        + "</section>"
    )


def _data_json(tables: Tables, per_cell: int) -> str:
    """The statements (reading order; at most `per_cell` per theme × region cell) and the
    polarity split per cell, as JSON safe to put inside a <script> element."""
    frame = tables.statements
    records = [
        [_json_value(column, row[column]) for column in DATA_COLUMNS]
        for row in frame.to_dict("records")
    ]
    records.sort(key=_reading_key)
    records = _sample_cells(records, per_cell)
    polarity: dict[str, dict[str, list[int]]] = {}
    for row in tables.polarity.to_dict("records"):
        split = polarity.setdefault(str(row[COL_THEME_ID]), {})
        split[str(row[COL_REGION])] = [int(row[p]) for p in _POLARITIES]
    payload = {
        "columns": list(DATA_COLUMNS),
        "rows": records,
        "total": COL_TOTAL,
        "polarity_names": list(_POLARITIES),
        "polarity_colours": [POLARITY_COLOURS[p] for p in _POLARITIES],
        "polarity": polarity,
    }
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    # `</` could close the script element and `<!--` open an HTML comment inside it.
    return text.replace("</", "<\\/").replace("<!--", "<\\u0021--")


def _sample_cells(records: list[list[object]], per_cell: int) -> list[list[object]]:
    """`records` (reading order) with at most `per_cell` per (theme, region): from a larger
    cell every (n / per_cell)-th, so the sample spans all its documents, not only the first."""
    theme, region = DATA_COLUMNS.index(COL_THEME_ID), DATA_COLUMNS.index(COL_REGION)
    cells: dict[tuple[object, object], list[int]] = {}
    for i, record in enumerate(records):
        cells.setdefault((record[theme], record[region]), []).append(i)
    keep: set[int] = set()
    for members in cells.values():
        n = len(members)
        keep.update(
            members if n <= per_cell else (members[k * n // per_cell] for k in range(per_cell))
        )
    return [record for i, record in enumerate(records) if i in keep]


def _json_value(column: str, value: object) -> object:
    if column == COL_LINE:
        return int(str(value))
    if column == COL_CONFIDENCE:
        return float(str(value))
    return _cell(value)


def _reading_key(row: list[object]) -> tuple[str, int, int, int, str]:
    """Document, page, line, n-th statement on the line (from the id), then the id."""
    get = dict(zip(DATA_COLUMNS, row, strict=True))
    statement_id = str(get[COL_ID])
    tail = statement_id.rpartition(":")[2]
    page = str(get[COL_PAGE])
    return (
        str(get[COL_DOCUMENT]),
        int(page) if page.isdigit() else 0,
        int(str(get[COL_LINE])),
        int(tail) if tail.isdigit() else 0,
        statement_id,
    )
