"""dashboard/disclosure.py directly: the perturbation table, publishing a query result,
shares and cross tables from published counts, and the last check."""

from __future__ import annotations

import random

import duckdb
import polars as pl
import pytest

from dashboard import disclosure as d


def test_the_perturbation_table():
    rng = random.Random(1)
    for n in range(200):
        for _ in range(20):
            key = rng.randrange(d.KEY_MOD)
            out = d.perturb_value(n, key)
            if n < 5:
                assert out is None  # 0–4: "<5"
            else:
                assert out % 5 == 0 and out >= 5 and abs(out - n) <= 4
                assert out in (n - n % 5, n - n % 5 + 5)
    # the cell key decides the direction: r/5 of the keys round up
    assert d.perturb_value(13, 0) == 15 and d.perturb_value(13, d.KEY_MOD - 1) == 10
    assert d.perturb_value(13, int(d.KEY_MOD * 0.59)) == 15 and d.perturb_value(13, int(d.KEY_MOD * 0.61)) == 10


def test_rounding_is_unbiased_over_cell_keys():
    rng = random.Random(2)
    for n in (6, 12, 33, 99):
        mean = sum(d.perturb_value(n, rng.randrange(d.KEY_MOD)) for _ in range(2000)) / 2000
        assert abs(mean - n) < 0.3, (n, mean)


def test_cell_keys_in_sql_depend_only_on_the_set_of_persons():
    con = duckdb.connect()
    con.execute(
        "create table t as select 'p' || i as person_id, (i * 7919 * 104729) % 4503599627370496 as record_key, "
        "i % 3 as g, i % 2 as h from range(1, 60) r(i)"
    )
    # the same persons reached through two different groupings, rows repeated per person
    a = con.execute(f"select {d.cell_sql()} from t where g = 0 and h = 1").fetchall()
    b = con.execute(
        f"select {d.cell_sql()} from (select * from t union all select * from t) where h = 1 and g = 0"
    ).fetchall()
    assert a == b and a[0][0] == 10
    c = con.execute(f"select {d.cell_sql()} from t where g = 0").fetchall()
    assert c[0][1] != a[0][1]  # other persons, other key


def test_publish_perturbs_counts_hides_small_statistics_and_drops_keys():
    raw = pl.DataFrame(
        {
            "stage": ["a", "b", "c", "d"],
            "persons": [3, 7, 120, 0],
            "persons_key": [5, d.KEY_MOD - 1, 17, 0],
            "median_days": [10.0, 20.4, 30.6, None],
            "p90_days": [11.0, 25.0, 70.0, None],
        }
    )
    out = d.publish(raw)
    assert out.columns == ["stage", "persons", "median_days", "p90_days"]
    assert out["persons"].to_list() == [None, 5, 120, None]
    assert out["median_days"].to_list() == [None, 20.0, 31.0, None]
    assert out["p90_days"].to_list() == [None, None, 70.0, None]  # p90 needs 10 persons
    assert d.display(out, ["persons"]).row(0) == ("a", "<5", "–", "–")


def test_shares_come_from_published_counts_and_hide_with_a_small_part_or_complement():
    frame = pl.DataFrame({"part": [30, None, 40, 20], "whole": [40, 40, 40, None], "rest": [10, 35, None, 5]})
    out = frame.with_columns(d.share(pl.col("part"), pl.col("whole"), pl.col("rest")).alias("s"))["s"].to_list()
    assert out == [0.75, None, None, None]


def test_pivot_never_turns_a_hidden_cell_into_zero():
    long = pl.DataFrame({"stage": ["x", "x", "y"], "t": ["a", "Totalt", "a"], "persons": [None, 10, 15]})
    wide = d.pivot(long, "stage", "t", "persons", ["a", "b", "Totalt"])
    assert wide.columns == ["stage", "a", "b", "Totalt"]
    assert wide.row(0) == ("x", None, None, 10) and wide.row(1) == ("y", 15, None, None)


def test_the_last_check_refuses_small_unrounded_counts_and_keys():
    for bad in ([3], [0], [12]):
        with pytest.raises(ValueError):
            d.assert_protected(pl.DataFrame({"n": bad}), ["n"])
    with pytest.raises(ValueError):
        d.assert_protected(pl.DataFrame({"n": [5], "n_key": [1]}), ["n"])
    d.assert_protected(pl.DataFrame({"n": [None, 5, 1240]}), ["n"])
