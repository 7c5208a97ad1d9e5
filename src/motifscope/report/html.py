"""HTML building blocks of the report: escaping, sortable tables, inline images, the page.

Everything the page needs is inside the one file: images are base64 ``data:`` URIs, the
style sheet and the table-sorting script are inline, and a Content-Security-Policy forbids
the browser from fetching anything else. Text from user files (motif, peak and target
names, config values) always goes through :func:`escape`; only :class:`Markup` strings
built here are inserted as HTML.
"""

from __future__ import annotations

import base64
import html
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

# No network: nothing may be loaded except data: images and the inline style and script.
CONTENT_SECURITY_POLICY = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                           "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")

STATUS_LABELS = {"ok": "done", "empty": "no results", "skipped": "skipped",
                 "missing": "missing outputs", "warning": "check the warnings"}


class Markup(str):
    """A string that is already HTML (built by this module) and is inserted unescaped."""


def escape(value) -> Markup:
    """HTML-escape any value (quotes included); :class:`Markup` passes through unchanged."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def join(parts) -> Markup:
    """Concatenate pieces, escaping those that are not :class:`Markup`."""
    return Markup("".join(escape(p) for p in parts))


def tag(name: str, content="", **attrs) -> Markup:
    """``<name attrs>content</name>`` with escaped attribute values and content.

    Attribute names ending in ``_`` lose it (``class_`` -> ``class``); ``None`` values are
    left out.
    """
    rendered = "".join(f' {key.rstrip("_").replace("_", "-")}="{escape(val)}"'
                       for key, val in attrs.items() if val is not None)
    return Markup(f"<{name}{rendered}>{join([content]) if content != '' else ''}</{name}>")


def paragraph(*parts) -> Markup:
    """A ``<p>`` of the given pieces (strings are escaped, Markup kept)."""
    return Markup(f"<p>{join(parts)}</p>")


def note(*parts) -> Markup:
    """A highlighted sentence, e.g. why a section has no results."""
    return Markup(f'<p class="note">{join(parts)}</p>')


def code(text) -> Markup:
    """Inline code (a file name, a config key), escaped."""
    return tag("code", str(text))


def preformatted(text: str) -> Markup:
    """A ``<pre>`` block of escaped text (e.g. the config as YAML)."""
    return tag("pre", text)


def _image_data(image) -> tuple[bytes, str]:
    if isinstance(image, (bytes, bytearray)):
        data = bytes(image)
        mime = "image/svg+xml" if data.lstrip()[:5] in (b"<?xml", b"<svg ") else "image/png"
        return data, mime
    path = Path(image)
    mime = "image/svg+xml" if path.suffix.lower() == ".svg" else "image/png"
    return path.read_bytes(), mime


def image(image, alt: str, css_class: str = "figure", max_width: str | None = None) -> Markup:
    """An ``<img>`` whose source is the image itself, base64-encoded (PNG or SVG).

    Parameters
    ----------
    image : bytes or path
        PNG or SVG content, or a file holding it.
    alt : str
        Alternative text (escaped).
    css_class : str, default "figure"
    max_width : str, optional
        CSS width limit, e.g. ``"240px"``.
    """
    data, mime = _image_data(image)
    uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    style = f"max-width:{max_width}" if max_width else None
    return Markup(f'<img class="{escape(css_class)}" alt="{escape(alt)}" src="{uri}"'
                  + (f' style="{escape(style)}"' if style else "") + ">")


def figure(image_source, caption, alt: str | None = None) -> Markup:
    """An inline image with a caption underneath."""
    text = caption if isinstance(caption, Markup) else escape(caption)
    return Markup(f"<figure>{image(image_source, alt or str(caption))}"
                  f"<figcaption>{text}</figcaption></figure>")


def _is_number(value) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, (bool, np.bool_))


def format_number(value, digits: int = 4) -> str:
    """Integers as is, floats with ``digits`` significant digits, NaN as an empty cell."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    value = float(value)
    if math.isnan(value):
        return ""
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.{max(1, digits - 1)}e}"
    return f"{value:.{digits}g}"


def _cell(value, digits: int) -> Markup:
    if isinstance(value, Markup):
        return Markup(f"<td>{value}</td>")
    if isinstance(value, (bool, np.bool_)):
        return Markup(f"<td>{'yes' if value else 'no'}</td>")
    if _is_number(value):
        number = float(value)
        sort_key = ("" if math.isnan(number) else str(int(value))
                    if isinstance(value, numbers.Integral) else repr(number))
        return Markup(f'<td class="num" data-value="{sort_key}">'
                      f"{escape(format_number(value, digits))}</td>")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Markup("<td></td>")
    return Markup(f"<td>{escape(value)}</td>")


def table(frame: pd.DataFrame, max_rows: int | None = None, digits: int = 4,
          caption=None, source: str | None = None, table_id: str | None = None) -> Markup:
    """A sortable HTML table of a DataFrame (click a column header to sort by it).

    Numbers are right-aligned, shown with ``digits`` significant digits and sorted by value
    (``data-value``); every other cell is escaped text unless it is :class:`Markup`.

    Parameters
    ----------
    frame : pandas.DataFrame
    max_rows : int, optional
        Show only the first rows; a line under the table says how many were left out and,
        with ``source``, where the full table is.
    digits : int, default 4
    caption : str or Markup, optional
    source : str, optional
        The file holding the full table (shown in the truncation line).
    table_id : str, optional

    Returns
    -------
    Markup
    """
    shown = frame if max_rows is None else frame.head(max_rows)
    head = "".join(f'<th scope="col" title="click to sort">{escape(c)}</th>'
                   for c in shown.columns)
    rows = []
    for values in shown.itertuples(index=False, name=None):
        rows.append("<tr>" + "".join(_cell(v, digits) for v in values) + "</tr>")
    id_attr = f' id="{escape(table_id)}"' if table_id else ""
    parts = [f'<div class="table-wrap"><table class="sortable"{id_attr}>']
    if caption is not None:
        parts.append(f"<caption>{escape(caption)}</caption>")
    parts.append(f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")
    if len(shown) < len(frame):
        more = f"Showing {len(shown)} of {len(frame)} rows"
        more += f"; the full table is {source}." if source else "."
        parts.append(f'<p class="more">{escape(more)}</p>')
    return Markup("".join(parts))


def key_value_table(items, digits: int = 4) -> Markup:
    """A two-column table (key, value) of ``(key, value)`` pairs or a mapping."""
    pairs = list(items.items()) if isinstance(items, dict) else list(items)
    frame = pd.DataFrame(pairs, columns=["key", "value"])
    frame["value"] = [v if isinstance(v, Markup) or _is_number(v) else str(v)
                      for v in frame["value"]]
    return table(frame, digits=digits)


@dataclass
class Section:
    """One section of the report.

    Attributes
    ----------
    id : str
        Anchor (letters, digits, ``-``).
    title : str
    status : {"ok", "empty", "skipped", "missing", "warning"}
        ``empty``: the stage ran but produced nothing; ``skipped``: switched off or not
        applicable; ``missing``: switched on but its outputs are not there.
    body : list of Markup
    """

    id: str
    title: str
    status: str = "ok"
    body: list = field(default_factory=list)

    def add(self, *parts) -> "Section":
        self.body.extend(escape(p) if not isinstance(p, Markup) else p for p in parts)
        return self

    def render(self) -> Markup:
        badge = STATUS_LABELS.get(self.status, self.status)
        return Markup(f'<section id="{escape(self.id)}" data-status="{escape(self.status)}">'
                      f'<h2>{escape(self.title)} <span class="badge {escape(self.status)}">'
                      f"{escape(badge)}</span></h2>{''.join(self.body)}</section>")


_STYLE = """
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;font-size:14px;margin:0;color:#222;
background:#fafafa}
header{background:#233;color:#fff;padding:14px 24px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#cdd}
nav{position:sticky;top:0;background:#eef1f3;border-bottom:1px solid #ccd;padding:6px 24px;
z-index:2;display:flex;flex-wrap:wrap;gap:4px 16px}nav a{color:#234;text-decoration:none;
white-space:nowrap}nav a.skipped,nav a.empty{color:#888}nav a.missing,nav a.warning{color:#a11}
main{padding:8px 24px 40px;max-width:1300px}
section{background:#fff;border:1px solid #dde;border-radius:6px;margin:18px 0;padding:6px 18px 14px}
h2{font-size:18px;border-bottom:1px solid #eee;padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px}
.badge{font-size:11px;font-weight:normal;border-radius:8px;padding:2px 8px;margin-left:8px;
vertical-align:middle;background:#d7efd9;color:#164}
.badge.empty{background:#fde9c8;color:#7a4b00}.badge.skipped{background:#e4e4e4;color:#555}
.badge.missing,.badge.warning{background:#f7d4d4;color:#8a1010}
.note{background:#fff7e6;border-left:4px solid #f0a020;padding:6px 10px}
.table-wrap{overflow-x:auto;max-height:560px;overflow-y:auto;margin:6px 0}
table{border-collapse:collapse;font-size:12.5px}th,td{border:1px solid #dde;padding:3px 7px;
text-align:left;vertical-align:middle}th{background:#f0f3f5;cursor:pointer;position:sticky;top:0;
user-select:none}th[aria-sort=ascending]::after{content:" \\25B2"}
th[aria-sort=descending]::after{content:" \\25BC"}td.num{text-align:right;
font-variant-numeric:tabular-nums}caption{text-align:left;font-weight:bold;padding:4px 0}
tbody tr:nth-child(even){background:#f8fafb}
.more{color:#666;font-size:12px}pre{background:#f4f4f4;padding:8px;overflow-x:auto;font-size:12px}
figure{margin:10px 0}figcaption{color:#444;font-size:12.5px;max-width:900px}
img.figure{max-width:100%;height:auto;border:1px solid #eee}img.logo{height:60px}
code{background:#f1f1f1;padding:0 3px}
"""

# Sorts a table by the clicked column: numbers by data-value (empty cells last), text by
# locale order; clicking again reverses. On load it also records, on <body>, how many
# images decoded, so a headless browser can check them.
_SCRIPT = """
(function(){
"use strict";
function key(cell){
  if(cell===undefined){return null;}
  if(cell.hasAttribute("data-value")){
    var v=cell.getAttribute("data-value");
    return v===""?null:parseFloat(v);
  }
  return cell.textContent.trim();
}
function compare(a,b,asc){
  if(a===null&&b===null){return 0;}
  if(a===null){return 1;}
  if(b===null){return -1;}
  var r=(typeof a==="number"&&typeof b==="number")?a-b:String(a).localeCompare(String(b));
  return asc?r:-r;
}
function sortBy(th){
  var table=th.closest("table");
  var index=Array.prototype.indexOf.call(th.parentNode.children,th);
  var asc=th.getAttribute("aria-sort")!=="ascending";
  var body=table.tBodies[0];
  var rows=Array.prototype.slice.call(body.rows);
  rows.sort(function(r1,r2){
    return compare(key(r1.cells[index]),key(r2.cells[index]),asc);
  });
  Array.prototype.forEach.call(th.parentNode.children,function(h){
    h.removeAttribute("aria-sort");
  });
  th.setAttribute("aria-sort",asc?"ascending":"descending");
  rows.forEach(function(r){body.appendChild(r);});
}
document.querySelectorAll("table.sortable thead th").forEach(function(th){
  th.addEventListener("click",function(){sortBy(th);});
});
window.addEventListener("load",function(){
  var images=Array.prototype.slice.call(document.images);
  var broken=images.filter(function(i){return !(i.complete&&i.naturalWidth>0);});
  document.body.setAttribute("data-images",String(images.length));
  document.body.setAttribute("data-images-broken",String(broken.length));
});
})();
"""


def page(title: str, subtitle: str, sections: list[Section]) -> str:
    """The whole report: header, a navigation bar with each section's status, sections.

    Parameters
    ----------
    title, subtitle : str
        Escaped.
    sections : list of Section

    Returns
    -------
    str
        A complete HTML5 document with inline CSS and JavaScript and no external resource.
    """
    links = "".join(f'<a href="#{escape(s.id)}" class="{escape(s.status)}" '
                    f'title="{escape(STATUS_LABELS.get(s.status, s.status))}">'
                    f"{escape(s.title)}</a>" for s in sections)
    body = "".join(s.render() for s in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="icon" href="data:,">'
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
            f"<header><h1>{escape(title)}</h1><p>{escape(subtitle)}</p></header>"
            f"<nav>{links}</nav><main>{body}</main>"
            f"<script>{_SCRIPT}</script></body></html>\n")
