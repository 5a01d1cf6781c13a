"""The national-identity-number guard: one guard over every byte the load may store or show.

The contract: if any part of a delivered file (its name, any field, header, JSON key,
sheet or sheet name, a line that fails to parse) holds an 11-digit Norwegian national
identity number or D-number with valid control digits, however it is written, the whole
file is refused as a privacy incident, recorded with file, row and column, and the
number itself is written nowhere. A file whose *name* holds one is recorded under its
masked name (`safe_name`).

## The rule (docs/decisions.md, "The national-identity guard", says why)

1. **Keys are set aside first.** A token of exactly 32, 40 or 64 hex characters (an MD5,
   SHA-1 or SHA-256 digest, like the contract's 64-character `pid`) and a UUID, each
   standing alone (no letter or digit right before or after it; `_`, `-`, `;`, space …
   are fine), is blanked out before numbers are looked for. About one key in five holds
   ten or more digits in a row by chance, and one in a few thousand an 11-digit run with
   valid control digits: those are not national ids. Any other token is looked at, so a
   number run into letters (`fnr15019012317`, `TM15019012317`, `ab15019012317`) counts.
2. **Numbers.** A *run* is digit groups joined by 1–3 separators (space, tab, no-break
   and other fixed-width spaces, `.`, `-` and Unicode dashes). Every sequence of whole,
   consecutive groups of a run with 11 digits in total is checked with
   `stdnum.no.fodselsnummer` (both control digits, a real birth date, D- and H-numbers),
   and a lone group of 10 digits is checked with a `0` in front (the leading zero that a
   spreadsheet drops from a *number*, which has no separators inside). So `150190 12317`,
   `150190.12317`, `15.01.90-123 17`, `15019012317.0` (an Excel float), `1.5019012317E10`
   and `1019012480` all count. A digit group is never split: 12 or more digits in a row
   are another number (an account, a phone number with country code, a digest). Dates
   and times never make 11 digits (their groups have 2 or 4 digits), which is why 10
   digits across groups are not checked: `2024-03-16 00:00` would otherwise read as the
   valid `02024031600` about once in a hundred dates.
3. **Everything.** The file name; for text formats the whole decoded text line by line
   (so headers, keys, unknown fields, columns without a header or starting with `_`,
   and lines that fail to parse are all covered), plus JSON text with `\\u` escapes
   decoded; for workbooks every cell of every sheet and every sheet name. A file that
   cannot be decoded is scanned as Latin-1 and with NUL bytes removed (UTF-16), so
   digits in any ASCII-compatible encoding are found.

Cost is linear in the size of the file: a vectorised pre-filter (Polars, Rust regex)
finds the few lines or cells that hold ten digits outside keys; only those are checked
in Python, where each digit group starts at most a handful of candidate sequences.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from stdnum.no import fodselsnummer

HEX_KEY = r"(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{40}|[0-9a-fA-F]{32})"
UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
SEPARATORS = "[ \t\u00a0\u2007\u2009\u202f.\\-\u2010\u2011\u2012\u2013\u2014\u2212]"

_key = re.compile(rf"(?<![0-9A-Za-z])(?:{UUID}|{HEX_KEY})(?![0-9A-Za-z])")
_run = re.compile(rf"\d+(?:{SEPARATORS}{{1,3}}\d+)*")
_group = re.compile(r"\d+")
# Pre-filter (Rust regex, no look-around): keys with their boundary characters, then
# ten digits with separators. It passes a superset of what the exact check finds.
_PL_KEY = rf"(^|[^0-9A-Za-z])(?:{UUID}|{HEX_KEY})([^0-9A-Za-z]|$)"
_PL_TEN = rf"\d(?:{SEPARATORS}{{0,3}}\d){{9}}"


@dataclass(frozen=True)
class Finding:
    """Where a national id was found. Never the value: `column` is already masked."""

    place: str  # "file name", "field", "column header", "JSON key", "line", "sheet name", ...
    row: int | None = None
    column: str | None = None


def _ascii_digits(text: str) -> str:
    return "".join(str(unicodedata.digit(c)) for c in text if c.isdigit())


def _valid(digits: str) -> bool:
    if len(digits) == 10:
        digits = "0" + digits
    return len(digits) == 11 and fodselsnummer.is_valid(digits)


def _blank_keys(text: str) -> str:
    return _key.sub(lambda m: "#" * len(m.group()), text)


def find_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every national id in `text`, as written (separators included)."""
    spans = []
    for run in _run.finditer(_blank_keys(text)):
        groups = [(m.start() + run.start(), m.end() + run.start()) for m in _group.finditer(run.group())]
        if sum(e - s for s, e in groups) < 10:
            continue
        for i in range(len(groups)):
            total = 0
            for j in range(i, len(groups)):
                total += groups[j][1] - groups[j][0]
                if total > 11:
                    break
                if total == 11 or (total == 10 and i == j):
                    digits = "".join(_ascii_digits(text[s:e]) for s, e in groups[i : j + 1])
                    if _valid(digits):
                        spans.append((groups[i][0], groups[j][1]))
    return spans


def contains_national_id(text: str | None) -> bool:
    return bool(text) and bool(find_spans(str(text)))


def is_national_id(token: str) -> bool:
    digits = _ascii_digits(token)
    return len(digits) in (10, 11) and _valid(digits)


def mask(text: str) -> str:
    """`text` with the digits of every national id in it replaced by `*`."""
    spans = find_spans(text)
    if not spans:
        return text
    chars = list(text)
    for start, end in spans:
        for i in range(start, end):
            if chars[i].isdigit():
                chars[i] = "*"
    return "".join(chars)


def safe_name(name: str) -> str:
    """The name a file is recorded, logged and shown under: its number masked."""
    return mask(name)


_eleven = re.compile(r"\d{11}")


def redact(text: str) -> str:
    """Safety net for messages: mask national ids and blank any remaining 11-digit run.
    Messages are built never to quote values; this catches a mistake, it is not the rule."""
    return _eleven.sub("[redacted]", mask(text))


# -- vectorised pre-filter ------------------------------------------------------------------------
def _suspect(expr: pl.Expr) -> pl.Expr:
    cleaned = expr.str.replace_all(_PL_KEY, "${1}#${2}").str.replace_all(_PL_KEY, "${1}#${2}")
    return cleaned.str.contains(_PL_TEN).fill_null(False)


def lines_with_ids(text: str) -> list[int]:
    """1-based numbers of the lines (split on `\\n`) that hold a national id."""
    if not text:
        return []
    lines = pl.DataFrame({"line": text.split("\n")}).with_row_index("n", offset=1)
    # two stages: ten digits at all (cheap), then the same after blanking keys (fewer lines)
    suspects = lines.filter(pl.col("line").str.contains(_PL_TEN)).filter(_suspect(pl.col("line")))
    return [n for n, line in suspects.iter_rows() if find_spans(line)]


def find_national_ids(
    frame: pl.DataFrame, row_column: str = "_row", header_row: int | None = None
) -> list[tuple[int | None, str]]:
    """(row number, masked column) of every cell, and every column header, holding a national
    id; every column is looked at (also unnamed ones and ones starting with `_`), whatever
    its type. A header hit is reported at `header_row`."""
    hits: list[tuple[int | None, str]] = []
    columns = [c for c in frame.columns if c != row_column]
    for column in columns:
        if contains_national_id(column):
            hits.append((header_row, mask(column)))
    if not columns or frame.height == 0:
        return hits
    text = {c: pl.col(c).cast(pl.String) for c in columns}
    flags = frame.select(_suspect(e).alias(c) for c, e in text.items())
    any_flag = flags.select(pl.any_horizontal(pl.all()).alias("any"))["any"]
    if not any_flag.any():
        return hits
    rows = frame[row_column] if row_column in frame.columns else pl.Series(range(frame.height))
    for index in any_flag.arg_true().to_list():
        for column in columns:
            if flags[column][index] and contains_national_id(str(frame[column][index])):
                hits.append((rows[index], mask(column)))
    return hits


# -- per format -----------------------------------------------------------------------------------
def decoded_fallback(data: bytes) -> str:
    """Text to scan for a file that is neither UTF-8 nor Windows-1252 (e.g. UTF-16)."""
    return data.decode("latin-1") + "\n" + data.replace(b"\x00", b"").decode("latin-1")


def _json_findings(obj, row: int | None) -> list[Finding]:
    out = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if contains_national_id(str(key)):
                out.append(Finding("JSON key", row, mask(str(key))))
            if contains_national_id(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)):
                out.append(Finding("field", row, mask(str(key))))
    elif contains_national_id(json.dumps(obj, ensure_ascii=False)):
        out.append(Finding("line", row, None))
    return out


def _scan_csv(text: str, frame: pl.DataFrame | None, row_column: str) -> list[Finding]:
    lines = lines_with_ids(text)
    if not lines:
        return []
    out: list[Finding] = []
    if frame is not None:
        for row, column in find_national_ids(frame, row_column, header_row=1):
            out.append(Finding("column header" if row == 1 else "field", row, column))
    covered = {f.row for f in out}
    out += [Finding("line", n, None) for n in lines if n not in covered]
    return out


def _scan_jsonl(text: str) -> list[Finding]:
    numbers = set(lines_with_ids(text))
    if "\\u" in text:  # a digit or separator may be written as a JSON escape
        for n, line in enumerate(text.split("\n"), start=1):
            if "\\u" in line and n not in numbers:
                try:
                    if contains_national_id(json.dumps(json.loads(line), ensure_ascii=False)):
                        numbers.add(n)
                except ValueError:
                    pass
    out: list[Finding] = []
    lines = text.split("\n") if numbers else []
    for n in sorted(numbers):
        try:
            found = _json_findings(json.loads(lines[n - 1]), n)
        except ValueError:
            found = []
        out += found or [Finding("line", n, None)]
    return out


def _scan_json_document(text: str) -> list[Finding]:
    """The Trøndelag-model document; rows are its events in document order (a case
    without events counts as one row), as the reader numbers them."""
    hit = bool(lines_with_ids(text))
    if not hit and "\\u" not in text:
        return []
    try:
        doc = json.loads(text)
    except ValueError:
        return [Finding("document", None, None)] if hit else []
    if not hit and "\\u" in text:
        hit = contains_national_id(json.dumps(doc, ensure_ascii=False))
    if not hit:
        return []
    out: list[Finding] = []
    if not isinstance(doc, dict):
        return [Finding("document", None, None)]
    row = 0
    for key, value in doc.items():
        if key != "cases" or not isinstance(value, list):
            out += _json_findings({key: value}, None)
            continue
        if contains_national_id(key):
            out.append(Finding("JSON key", None, mask(key)))
        for case in value:
            case = case if isinstance(case, dict) else {"case": case}
            events = case.get("events") if isinstance(case.get("events"), list) else []
            base = {k: v for k, v in case.items() if k != "events"}
            first = row + 1
            if "events" in case and not isinstance(case["events"], list):
                base["events"] = case["events"]
            out += _json_findings(base, first)
            for event in events or [{}]:
                row += 1
                out += _json_findings(event if isinstance(event, dict) else {"type": event}, row)
    return out or [Finding("document", None, None)]


def _scan_workbook(path: Path, skip_sheet: str | None) -> list[Finding]:
    """Every sheet name, and every cell of every sheet but `skip_sheet` (which the reader
    read with its header and row numbers, and is scanned as a frame)."""
    try:
        sheets = pl.read_excel(path, sheet_id=0, engine="calamine", has_header=False, infer_schema_length=0)
    except Exception:  # not a workbook: nothing of it can be read, stored or shown
        return []
    out: list[Finding] = []
    for number, (name, sheet) in enumerate(sheets.items(), start=1):
        if contains_national_id(name):
            out.append(Finding("sheet name", None, f"sheet {number}"))
        if name == skip_sheet:
            continue
        if find_national_ids(sheet, row_column="\x00none"):
            out.append(Finding("sheet", None, f"sheet {number}"))
    return out


def scan_file(
    name: str,
    fmt: str,
    text: str | None = None,
    frame: pl.DataFrame | None = None,
    path: Path | None = None,
    sheet: str | None = None,
    row_column: str = "_row",
) -> list[Finding]:
    """Every place of one landing file where a national id is written.

    `fmt`: "csv", "jsonl", "json" (text formats: `text` is the whole decoded text; `frame`
    the parsed cells when parsing worked) or "xlsx" (`frame`: the sheet `sheet` as read with
    its header; `path`: the workbook, whose other sheets and sheet names are read here).
    """
    out: list[Finding] = []
    if contains_national_id(name):
        out.append(Finding("file name"))
    if fmt == "xlsx":
        if frame is not None:
            out += [
                Finding("column header" if row == 1 else "field", row, column)
                for row, column in find_national_ids(frame, row_column, header_row=1)
            ]
        if path is not None:
            out += _scan_workbook(path, sheet if frame is not None else None)
        if text:
            out += [Finding("line", n) for n in lines_with_ids(text)]
    elif text is not None:
        if fmt == "csv":
            out += _scan_csv(text, frame, row_column)
        elif fmt == "jsonl":
            out += _scan_jsonl(text)
        elif fmt == "json":
            out += _scan_json_document(text)
        else:
            out += [Finding("line", n) for n in lines_with_ids(text)]
    elif frame is not None:
        out += [Finding("field", row, column) for row, column in find_national_ids(frame, row_column)]
    return out


def describe(value) -> str:
    """A safe description of a value that broke a rule: its length and kinds of characters,
    never the value (it may be personal data typed into the wrong field)."""
    if value is None:
        return "empty"
    text = str(value)
    kinds = []
    if any(c.isdigit() for c in text):
        kinds.append("digits")
    if any(c.isalpha() for c in text):
        kinds.append("letters")
    if any(c.isspace() for c in text):
        kinds.append("spaces")
    if any(not (c.isalnum() or c.isspace()) for c in text):
        kinds.append("other characters")
    what = " and ".join([", ".join(kinds[:-1]), kinds[-1]] if len(kinds) > 1 else kinds) or "nothing"
    return f"{len(text)} characters: {what}"
