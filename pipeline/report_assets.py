"""The inline stylesheet and script of `report.html` (see `pipeline/report.py`).

Kept apart from the builder so each stays readable. Both are inlined into the page: the report
must open from a mail attachment or a file share, so nothing is fetched (no CDN, no web fonts).
The script reads the statements from the page's JSON blob only when a cell is first opened, so
the heatmap paints before the (possibly large) blob is parsed.
"""

from __future__ import annotations

# ColorBrewer "Blues" (single hue, sequential): readable with every common colour-vision
# deficiency and in greyscale print. The builder interpolates cell colours along these stops.
BLUES = (
    "#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6",
    "#4292c6", "#2171b5", "#08519c", "#08306b",
)  # fmt: skip

# Okabe-Ito colours for the polarity split (distinguishable with colour-vision deficiencies);
# every bar also carries its label and number in text.
POLARITY_COLOURS = {
    "Möjlighet": "#009E73",
    "Hinder": "#D55E00",
    "Styrka": "#0072B2",
    "Svaghet": "#E69F00",
    "ingen": "#999999",
}

CSS = """
:root{--ink:#1b1b1b;--muted:#555;--line:#d0d7de;--focus:#e66100;font-family:system-ui,
-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;color:var(--ink)}
body{margin:0 auto;max-width:1200px;padding:1rem 1.5rem;line-height:1.4}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.15rem;margin:1.6rem 0 .5rem}
.meta{color:var(--muted);margin:.2rem 0 1rem}
table{border-collapse:collapse}th,td{padding:.3rem .45rem;vertical-align:top}
.plain th,.plain td{border-bottom:1px solid var(--line);text-align:left}
.plain th{background:#f3f5f7}
#heatmap th{text-align:left;font-weight:600;vertical-align:middle}
#heatmap thead th{text-align:center;font-size:.85rem}
#heatmap td{text-align:center;min-width:4.6rem;border:2px solid #fff;cursor:pointer;
font-variant-numeric:tabular-nums}
#heatmap td.cell{background:var(--bs);color:var(--fs)}
.show-counts #heatmap td.cell{background:var(--bc);color:var(--fc)}
#heatmap td.cell:focus{outline:3px solid var(--focus);outline-offset:-3px}
#heatmap td.cell:hover{outline:2px solid var(--ink);outline-offset:-2px}
#heatmap td.selected{box-shadow:inset 0 0 0 3px var(--ink)}
#heatmap td .n{display:block;font-size:.72rem;opacity:.85}
#heatmap td.total,#heatmap th.total{border-left:4px solid #fff}
#heatmap tfoot th,#heatmap tfoot td{background:#f3f5f7;cursor:default;font-size:.85rem;
border-top:2px solid var(--line)}
.v-count{display:none}.show-counts .v-count{display:inline}.show-counts .v-share{display:none}
.controls{display:flex;gap:.5rem;align-items:center;flex-wrap:wrap;margin:.3rem 0}
button{font:inherit;padding:.25rem .7rem;border:1px solid #8c959f;border-radius:4px;
background:#fff;cursor:pointer}button[aria-pressed=true]{background:#08306b;color:#fff}
button:focus-visible,input:focus-visible{outline:3px solid var(--focus)}
.hint{color:var(--muted);font-size:.9rem;margin:.2rem 0}
.legend{display:flex;align-items:center;gap:.5rem;font-size:.85rem;color:var(--muted);
margin:.4rem 0}.legend .ramp{width:180px;height:12px;border:1px solid var(--line);
background:linear-gradient(to right,%RAMP%)}
#panel{border:1px solid var(--line);border-radius:6px;padding:.3rem 1rem 1rem;margin-top:1rem}
#panel h2{margin-top:.6rem}
.polbar{display:flex;height:14px;width:100%;max-width:520px;border:1px solid var(--line)}
.polbar span{display:block;height:100%}
.pollegend{display:flex;flex-wrap:wrap;gap:.2rem 1rem;font-size:.85rem;margin:.3rem 0}
.pollegend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;
vertical-align:-.1rem}
#search{font:inherit;padding:.25rem .4rem;width:22rem;max-width:100%}
#statements{width:100%;font-size:.9rem;margin-top:.5rem}#statements td.text{min-width:18rem}
.small{font-size:.85rem;color:var(--muted)}
ul.reps{margin:0;padding-left:1.1rem}
details{margin:.4rem 0}code{font-size:.85rem}
@media print{
@page{size:A4 landscape;margin:10mm}
body{max-width:none;padding:0;font-size:9pt}
.controls,.hint,#panel-close,#search-label,.noprint{display:none!important}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
#heatmap{width:100%;break-inside:avoid}#heatmap td{min-width:0;padding:.15rem .3rem}
#heatmap td.cell:focus{outline:none}
h2{break-after:avoid}tr{break-inside:avoid}
table{width:100%}details>*{display:block}
}
"""

JS = r"""
(function () {
  "use strict";
  var grid = document.getElementById("heatmap");
  var panel = document.getElementById("panel");
  var search = document.getElementById("search");
  var body = document.getElementById("statement-rows");
  var data = null, current = null, selected = null;

  function load() {
    if (data === null) {
      data = JSON.parse(document.getElementById("report-data").textContent);
      var c = data.columns, idx = {};
      for (var i = 0; i < c.length; i++) { idx[c[i]] = i; }
      data.idx = idx;
    }
    return data;
  }

  function cellAt(row, col) {
    return grid.querySelector('td.cell[data-row="' + row + '"][data-col="' + col + '"]');
  }

  function focusCell(cell) {
    var old = grid.querySelector('td.cell[tabindex="0"]');
    if (old) { old.setAttribute("tabindex", "-1"); }
    cell.setAttribute("tabindex", "0");
    cell.focus();
  }

  function td(text, cls) {
    var el = document.createElement("td");
    el.textContent = text;
    if (cls) { el.className = cls; }
    return el;
  }

  function render() {
    var d = load(), x = d.idx, q = search.value.trim().toLowerCase();
    var frag = document.createDocumentFragment(), shown = 0;
    for (var i = 0; i < current.length; i++) {
      var r = current[i];
      if (q && (r[x.text] + " " + r[x.document] + " " + r[x.heading_path] + " " +
          r[x.polarity]).toLowerCase().indexOf(q) < 0) { continue; }
      var tr = document.createElement("tr");
      tr.setAttribute("data-id", r[x.id]);
      tr.appendChild(td(r[x.text], "text"));
      tr.appendChild(td(r[x.document]));
      tr.appendChild(td(r[x.page]));
      tr.appendChild(td(String(r[x.line])));
      tr.appendChild(td(r[x.heading_path]));
      tr.appendChild(td(r[x.polarity] || "–"));
      tr.appendChild(td(r[x.method] + " (" +
        Number(r[x.confidence]).toFixed(2).replace(".", ",") + ")"));
      frag.appendChild(tr);
      shown++;
    }
    body.textContent = "";
    body.appendChild(frag);
    // A large cell carries a sample (report.py: _sample_cells); its true size is data-count.
    var all = selected ? +selected.getAttribute("data-count") : current.length;
    document.getElementById("panel-count").textContent =
      (q ? shown + " av " + current.length + " påståenden" : current.length + " påståenden") +
      (all > current.length ? " (ett urval av " + all + ": alla finns i statements.csv)" : "");
  }

  function polarity(theme, region) {
    var d = load(), names = d.polarity_names, split = d.polarity[theme] || {}, sums = [];
    for (var k = 0; k < names.length; k++) { sums.push(0); }
    Object.keys(split).forEach(function (r) {
      if (region === d.total || r === region) {
        for (var k = 0; k < names.length; k++) { sums[k] += split[r][k]; }
      }
    });
    var total = sums.reduce(function (a, b) { return a + b; }, 0);
    var bar = document.getElementById("panel-polbar");
    var legend = document.getElementById("panel-pol");
    bar.textContent = ""; legend.textContent = "";
    for (var k = 0; k < names.length; k++) {
      var seg = document.createElement("span");
      seg.style.width = total ? (100 * sums[k] / total) + "%" : "0";
      seg.style.background = d.polarity_colours[k];
      seg.title = names[k] + ": " + sums[k];
      bar.appendChild(seg);
      var item = document.createElement("span"), sw = document.createElement("i");
      sw.style.background = d.polarity_colours[k];
      item.appendChild(sw);
      item.appendChild(document.createTextNode(names[k] + " " + sums[k]));
      legend.appendChild(item);
    }
  }

  function open(cell) {
    var d = load(), x = d.idx, theme = cell.getAttribute("data-theme");
    var region = cell.getAttribute("data-region");
    current = d.rows.filter(function (r) {
      return r[x.theme_id] === theme && (region === d.total || r[x.region] === region);
    });
    if (selected) {
      selected.classList.remove("selected");
      selected.removeAttribute("aria-selected");
    }
    selected = cell;
    cell.classList.add("selected");
    cell.setAttribute("aria-selected", "true");
    document.getElementById("panel-title").textContent =
      cell.getAttribute("data-label") + " – " + (region === d.total ? "alla regioner" : region);
    polarity(theme, region);
    panel.hidden = false;
    render();
    panel.scrollIntoView({block: "nearest"});
  }

  grid.addEventListener("click", function (ev) {
    var cell = ev.target.closest("td.cell");
    if (cell) { focusCell(cell); open(cell); }
  });

  grid.addEventListener("keydown", function (ev) {
    var cell = ev.target.closest("td.cell");
    if (!cell) { return; }
    var row = +cell.getAttribute("data-row"), col = +cell.getAttribute("data-col");
    var moves = {ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1]};
    if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault(); open(cell);
    } else if (moves[ev.key]) {
      var next = cellAt(row + moves[ev.key][0], col + moves[ev.key][1]);
      if (next) { focusCell(next); }
      ev.preventDefault();
    } else if (ev.key === "Home" || ev.key === "End") {
      var last = grid.querySelectorAll("thead th").length - 2;
      var target = cellAt(row, ev.key === "Home" ? 0 : last);
      if (target) { focusCell(target); }
      ev.preventDefault();
    }
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && !panel.hidden) { close(); }
  });

  function close() {
    panel.hidden = true;
    if (selected) { selected.classList.remove("selected"); selected.focus(); }
  }

  document.getElementById("panel-close").addEventListener("click", close);
  search.addEventListener("input", function () { if (current) { render(); } });

  function mode(counts) {
    document.body.classList.toggle("show-counts", counts);
    document.getElementById("show-shares").setAttribute("aria-pressed", String(!counts));
    document.getElementById("show-counts").setAttribute("aria-pressed", String(counts));
  }
  document.getElementById("show-shares").addEventListener("click", function () { mode(false); });
  document.getElementById("show-counts").addEventListener("click", function () { mode(true); });
})();
"""
