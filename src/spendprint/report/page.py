"""The HTML frame of the report: styles, tables with units, sorting and the page's self-checks.

Tables are built from `Column` definitions (header, unit, how a cell is written), never from
``DataFrame.to_html``: each cell carries its raw value in ``data-v`` for sorting, and shows the
number as `spendprint.report.format` writes it. A few lines of vanilla JavaScript sort a table
when a header is clicked, and record checks into ``<pre id="report-checks">`` (script errors,
the rendered size of every chart, cells that look like scientific notation) for the browser test.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;
max-width:1180px;color:#222;line-height:1.45;padding:0 1rem}
h1{font-size:1.7rem;margin-bottom:.2rem} .org{font-size:1.1rem;color:#444;margin-top:0}
h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2.4rem}
h3{margin-top:1.4rem}
table{border-collapse:collapse;font-size:.84rem;margin:.6rem 0;width:100%}
td,th{border:1px solid #ddd;padding:.25rem .5rem;vertical-align:top}
th{background:#f4f6f8;text-align:left;cursor:pointer;user-select:none}
th .u{display:block;font-weight:normal;color:#666;font-size:.75rem}
th[aria-sort=ascending]::after{content:" ▲"} th[aria-sort=descending]::after{content:" ▼"}
td.n{text-align:right;white-space:nowrap} td.t{white-space:normal;word-break:normal}
.banner{background:#fff4d6;border:1px solid #e6c200;padding:.6rem 1rem;border-radius:4px}
.warn{background:#fdecea;border:1px solid #e0a19b;padding:.6rem 1rem;border-radius:4px}
.summary{background:#f4f8fb;border:1px solid #cfe0ee;border-radius:6px;padding:.6rem 1.2rem}
.summary li{margin:.35rem 0}
figure{margin:1rem 0} .chart svg{max-width:100%;height:auto} figcaption{color:#555;font-size:.85rem}
.meta{color:#555;font-size:.85rem} .note{color:#555;font-size:.85rem}
.wide{overflow-x:auto}
"""

JS = r"""
(function(){
  var errors = [];
  window.addEventListener('error', function(e){ errors.push(String(e.message)); });
  function key(td){ var v = td.getAttribute('data-v'); if (v === null) v = td.textContent;
    var f = parseFloat(v); return (v !== '' && !isNaN(f) && isFinite(v)) ? f : v.toLowerCase(); }
  document.querySelectorAll('table.sortable').forEach(function(table){
    table.querySelectorAll('thead th').forEach(function(th, col){
      th.addEventListener('click', function(){
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        table.querySelectorAll('thead th').forEach(function(o){ o.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        rows.sort(function(a, b){ var x = key(a.cells[col]), y = key(b.cells[col]);
          if (typeof x !== typeof y) { x = String(x); y = String(y); }
          return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1); });
        rows.forEach(function(r){ body.appendChild(r); });
      });
    });
  });
  window.addEventListener('load', function(){
    try {
      var charts = [];
      document.querySelectorAll('figure.chart').forEach(function(f){
        var s = f.querySelector('svg'); var r = s ? s.getBoundingClientRect() : {width:0,height:0};
        charts.push({id: f.id, width: Math.round(r.width), height: Math.round(r.height)});
      });
      var sci = [];
      document.querySelectorAll('td, th, .summary li').forEach(function(c){
        if (/\b\d+(\.\d+)?[eE][+-]?\d+\b/.test(c.textContent)) sci.push(c.textContent.slice(0, 80)); });
      var cats = [];
      document.querySelectorAll('[data-category]').forEach(function(e){
        cats.push(e.getAttribute('data-category')); });
      // a sort round trip works on the first sortable table
      var t = document.querySelector('table.sortable'); var sorted = false;
      if (t) { var th = t.querySelector('thead th'); th.click(); th.click();
               sorted = th.getAttribute('aria-sort') === 'descending'; th.click();
               th.removeAttribute('aria-sort'); }
      var out = {errors: errors, charts: charts, scientific: sci, categories: cats,
                 summary: !!document.getElementById('summary'), sortable: sorted};
      document.getElementById('report-checks').textContent = JSON.stringify(out);
    } catch (e) {
      document.getElementById('report-checks').textContent =
        JSON.stringify({errors: errors.concat([String(e)])});
    }
  });
})();
"""


@dataclass
class Column:
    """One table column: header, unit line, the cell text from a raw value, numeric or not."""

    header: str
    key: str
    fmt: Callable[[Any], str] = str
    unit: str = ""
    numeric: bool = True


def esc(text: Any) -> str:
    return html.escape(str(text))


def _raw(v: Any) -> str:
    if isinstance(v, (bool, str)) or v is None:
        return esc("" if v is None else v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return esc(v)
    return "" if math.isnan(f) else repr(f)


def table(rows: Iterable[dict[str, Any]], columns: Sequence[Column], *, caption: str = "",
          category_key: str | None = None, cls: str = "sortable") -> str:
    """A sortable table: one header row (name and unit), one row per dict of raw values."""
    head = "".join(f"<th scope='col'>{esc(c.header)}"
                   + (f"<span class='u'>{esc(c.unit)}</span>" if c.unit else "") + "</th>"
                   for c in columns)
    body = []
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c.key)
            attr = ""
            if category_key and c.key == category_key:
                attr = f" data-category='{html.escape(str(v), quote=True)}'"
            cells.append(f"<td class='{'n' if c.numeric else 't'}' data-v='{_raw(v)}'{attr}>"
                         f"{esc(c.fmt(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption class='note'>{esc(caption)}</caption>" if caption else ""
    return (f"<div class='wide'><table class='{cls}'>{cap}<thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")


def chart(svg: str, caption: str, ident: str) -> str:
    return (f"<figure class='chart' id='{esc(ident)}'>{svg}"
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def render(sections: list[tuple[str, str, str]], title: str, organisation: str | None,
           banners: list[tuple[str, str]]) -> str:
    """The whole page; ``sections`` are (id, heading, trusted html); banners (css class, text)."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    if organisation:
        parts.append(f"<p class='org'>{esc(organisation)}</p>")
    for cls, text in banners:
        parts.append(f"<p class='{cls}'>{esc(text)}</p>")
    for ident, heading, body in sections:
        parts.append(f"<section id='{esc(ident)}'><h2>{esc(heading)}</h2>{body}</section>")
    parts.append("<pre id='report-checks' hidden></pre>")
    parts.append(f"<script>{JS}</script></body></html>")
    return "\n".join(parts)
