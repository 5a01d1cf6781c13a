"""dashboard/disclosure.py directly: primary, derived and secondary suppression."""
from __future__ import annotations

import polars as pl

from dashboard import disclosure as d


def test_counts_under_five_are_hidden_with_their_derived_figures():
    frame = pl.DataFrame({"stage": ["a", "b", "c"], "persons": [4, 5, 120], "median_days": [10.0, 20.0, 30.0]})
    out = d.protect_counts(frame, "persons", ["median_days"])
    assert out["persons"].to_list() == [None, 5, 120]
    assert out["median_days"].to_list() == [None, 20.0, 30.0]
    assert d.display(out)["persons"].to_list() == ["<5", "5", "120"]


def test_a_share_hides_when_part_or_complement_is_small():
    frame = pl.DataFrame({"year": [1, 2, 3, 4], "part": [3, 37, 20, 2], "whole": [40, 40, 40, 3]})
    out = d.protect_share(frame.with_columns((pl.col("part") / pl.col("whole")).alias("share")), "part", "whole",
                          "share")
    assert out["part"].to_list() == [None, None, 20, None]   # 3 of 40, and 37 of 40 (→ 3), hidden
    assert out["share"].to_list()[:2] == [None, None] and out["share"][2] == 0.5
    assert out["whole"].to_list() == [40, 40, 40, None]


def test_a_hidden_cell_cannot_be_derived_from_the_row_total():
    matrix = pl.DataFrame({"stage": ["intro", "norwegian"], "0–3": [3, 40], "3–6": [12, 50], "6–12": [30, 60]})
    out = d.protect_matrix(matrix, "stage")
    intro = out.row(0, named=True)
    assert intro["Totalt"] == 45
    hidden = [c for c in ("0–3", "3–6", "6–12") if intro[c] is None]
    assert len(hidden) >= 2, "one hidden cell alone could be worked out as total minus the others"
    # the columns add up too: every column with a hidden cell has a second hidden cell
    for column in hidden:
        assert sum(v is None for v in out[column]) >= 2 or all(v is None for v in out[column])
    d.assert_protected(out, ["0–3", "3–6", "6–12", "Totalt"])


def test_secondary_suppression_within_groups():
    frame = pl.DataFrame({"municipality": ["A"] * 3 + ["B"] * 3, "transition": ["x", "y", "z"] * 2,
                          "persons": [2, 9, 30, 10, 12, 14]})
    out = d.protect_groups(frame, "persons", ["municipality"])
    assert out["persons"].to_list() == [None, None, 30, 10, 12, 14]


def test_zero_is_not_a_small_group_but_one_to_four_are():
    out = d.protect_matrix(pl.DataFrame({"k": ["a"], "x": [0], "y": [7], "z": [9]}), "k")
    assert out.row(0) == ("a", 0, 7, 9, 16)
    try:
        d.assert_protected(pl.DataFrame({"n": [3]}), ["n"])
    except ValueError:
        pass
    else:
        raise AssertionError("a visible 3 must be refused")
