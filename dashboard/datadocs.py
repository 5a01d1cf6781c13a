"""The audit report (Great Expectations Data Docs) of every build, for the dashboard to serve.

`warehouse/audit.py` writes the Data Docs site beside the warehouse (`data_docs/`); its
index lists the current build only and is filled in by JavaScript from public CDNs, and
every page loads Bootstrap, Font Awesome, jQuery and Vega from CDNs. Neither the CSS nor
the JavaScript ships in any installed package, and the dashboard's users may have no
internet, so this module:

- lists every build from the folders on disk (`validations/<suite>/<build_id>/<run>/…`),
  joined to `meta.build` for its date (a build whose pages were pruned is still listed);
- serves one validation page at a time as self-contained HTML: every external `<link>` and
  `<script>` removed, GX's own stylesheet (which the site keeps under `static/styles/`)
  and a small local stylesheet (`datadocs.css`, the few Bootstrap rules the pages rely on)
  inlined, links to other pages of the site disabled (the dashboard lists them instead).

No Streamlit here, so the tests call it directly. The Datakvalitet pages show the result
in an iframe behind the dashboard's login (a file:// link is blocked by browsers, and a
separate static server would have no login).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

LOCAL_CSS = Path(__file__).with_name("datadocs.css")
_EXTERNAL_LINK = re.compile(r"<link\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*>", re.I)
_EXTERNAL_SCRIPT = re.compile(r"<script\b[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", re.I | re.S)
_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>.*?</script>", re.I | re.S)
_LOCAL_LINK = re.compile(r"<link\b[^>]*\bhref=\"(?!https?://)[^\"]*\"[^>]*>", re.I)
_RELATIVE_HREF = re.compile(r"\bhref=\"(?!#)(?!https?://)[^\"]*\"", re.I)
_EXTERNAL_HREF = re.compile(r"\bhref=\"https?://[^\"]*\"", re.I)
_STATUS = re.compile(r"Status:</span>\s*<i[^>]*>\s*</i>\s*(Succeeded|Failed)")
_IMG = re.compile(r"<img\b[^>]*>", re.I)


@dataclass(frozen=True)
class Page:
    build_id: str
    suite: str  # the table audited, e.g. core__event
    path: Path  # the validation page's HTML file
    success: bool | None  # None when the page does not say


def docs_root(warehouse: Path) -> Path:
    return Path(warehouse).parent / "data_docs"


def pages(warehouse: Path) -> list[Page]:
    """Every validation page on disk, of every build."""
    root = docs_root(warehouse) / "validations"
    if not root.is_dir():
        return []
    out = []
    for html in sorted(root.glob("*/*/*/*.html")):
        suite, build_id = html.relative_to(root).parts[:2]
        out.append(Page(build_id, suite, html, _success(html)))
    return out


def _success(html: Path) -> bool | None:
    # GX writes the overall status in the page's overview: "Status: <i …></i> Succeeded"
    found = _STATUS.search(html.read_text("utf-8", errors="replace"))
    return None if found is None else found.group(1) == "Succeeded"


def builds(warehouse: Path, known: list[dict]) -> list[dict]:
    """Every build with pages on disk or in meta.build, newest first: build_id, finished_at
    (None when only the folder is known), as_of, pages (count), failed (count)."""
    by_id: dict[str, dict] = {}
    for row in known:
        by_id[row["build_id"]] = {
            "build_id": row["build_id"],
            "finished_at": row.get("finished_at"),
            "as_of": row.get("as_of"),
            "pages": 0,
            "failed": 0,
        }
    for page in pages(warehouse):
        entry = by_id.setdefault(
            page.build_id, {"build_id": page.build_id, "finished_at": None, "as_of": None, "pages": 0, "failed": 0}
        )
        entry["pages"] += 1
        entry["failed"] += page.success is False
    if not by_id:
        return []
    mtimes = {p.build_id: p.path.stat().st_mtime for p in pages(warehouse)}
    return sorted(
        by_id.values(),
        key=lambda b: (b["finished_at"] is not None, str(b["finished_at"] or ""), mtimes.get(b["build_id"], 0)),
        reverse=True,
    )


def self_contained(page: Page, warehouse: Path) -> str:
    """The page as one HTML document that needs nothing from the network or the disk."""
    html = page.path.read_text("utf-8", errors="replace")
    html = _EXTERNAL_LINK.sub("", html)
    html = _EXTERNAL_SCRIPT.sub("", html)
    html = _INLINE_SCRIPT.sub("", html)  # they drive the CDN libraries removed above
    html = _LOCAL_LINK.sub("", html)  # favicon and the site's own stylesheet (inlined below)
    html = _RELATIVE_HREF.sub('href="#"', html)
    html = _EXTERNAL_HREF.sub('href="#"', html)
    html = _IMG.sub("", html)  # the GX logo (and animated help images)
    styles = []
    gx_css = docs_root(warehouse) / "static" / "styles" / "data_docs_default_styles.css"
    for css in (LOCAL_CSS, gx_css):
        if css.exists():
            styles.append(css.read_text("utf-8", errors="replace"))
    style = "<style data-pathways-local>\n" + "\n".join(styles) + "\n</style>"
    if "</head>" in html:
        return html.replace("</head>", style + "\n</head>", 1)
    return style + html


# -- the other records beside the warehouse ---------------------------------------------------------
def load_runs(warehouse: Path, limit: int = 50) -> list[dict]:
    """The newest attempts of `load_runs.jsonl` (published, refused by the audits, crashed),
    newest first; a line that cannot be read is skipped."""
    import json

    path = Path(warehouse).parent / "load_runs.jsonl"
    if not path.exists():
        return []
    runs = []
    for line in path.read_text("utf-8", errors="replace").splitlines()[-limit * 4 :]:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            runs.append(record)
    return sorted(runs, key=lambda r: str(r.get("at", "")), reverse=True)[:limit]


def failed_candidates(warehouse: Path) -> list[Path]:
    """The refused candidates kept in `failed/` beside the warehouse, newest first."""
    folder = Path(warehouse).parent / "failed"
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.glob("*.duckdb") if p.is_file()), key=lambda p: p.stat().st_mtime, reverse=True)
