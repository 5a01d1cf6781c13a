"""A differencing attacker against every page's queries, scored against the true counts.

The attacker sees only what the dashboard publishes (`disclosure.publish` of each query in
`queries.PAGE_QUERIES`, exactly what `ui.query` gives the pages) and tries to work out a
count of 1–4 persons by:

- Alle − Kvinner − Menn (and Alle − Kvinner, Alle − Menn),
- a region minus its other municipalities,
- overlapping cohort selections ({a, b} − {a}),
- a row's total minus its visible cells,
- interval reasoning (a published p ≥ 5 means p−4 … p+4, "<5" means 0–4),
- the same quantity reached through two pages or two filter paths.

A count is *recovered* when the attacker's value equals the true count (from the same
warehouse, before disclosure control) and that true count is 1–4. The cell-key method must
give 0 recoveries; the same attacker against plain small-cell suppression (what the
dashboard did before) must find some, which shows the attacker is able to.
"""

from __future__ import annotations

import dataclasses
import itertools

import duckdb
import polars as pl
import pytest

from dashboard import disclosure, queries
from dashboard.disclosure import KEY_SUFFIX, STATISTIC_MIN

COUNTY = queries.Filters(scope=queries.COUNTY)


@pytest.fixture(scope="module")
def con(loaded):
    _, warehouse = loaded
    with duckdb.connect(str(warehouse), read_only=True) as c:
        yield c


@pytest.fixture(scope="module")
def as_of(con):
    return queries.latest_build(con)["as_of"]


@pytest.fixture(scope="module")
def places(con):
    return queries.municipality_choices(con)


def _args(name: str, as_of) -> list[tuple]:
    """Every call a page makes of a query (extra arguments besides the filters)."""
    return {
        "persons_on_stage_now": [(as_of,)],
        "ended_this_year": [(as_of,)],
        "share_waiting_longer": [(30,), (90,), (180,)],
        "wait_by_school_year": [(30,), (90,), (180,)],
        "cohort_funnel": [(True,), (False,)],
    }.get(name, [()])


def _calls(as_of) -> list[tuple[str, tuple]]:
    names = sorted({n for ns in queries.PAGE_QUERIES.values() for n in ns})
    return [(n, a) for n in names for a in _args(n, as_of)]


class Cells:
    """One query result as cells: (row labels, count column) → (published, naive, true)."""

    def __init__(self, raw: pl.DataFrame):
        counts = disclosure.count_columns(raw)
        published = disclosure.publish(raw)
        labels = [
            c
            for c in raw.columns
            if c not in counts and not c.endswith(KEY_SUFFIX) and not any(c.startswith(p) for p in STATISTIC_MIN)
        ]
        self.cells: dict[tuple, tuple] = {}
        for raw_row, pub_row in zip(raw.iter_rows(named=True), published.iter_rows(named=True), strict=True):
            label = tuple(raw_row[c] for c in labels)
            for c in counts:
                true = raw_row[c]
                naive = None if 1 <= true <= 4 else true  # plain small-cell suppression
                self.cells[(label, c)] = (pub_row[c], naive, true)

    def get(self, key) -> tuple:
        return self.cells.get(key, (None, 0, 0))  # an absent row: 0 persons, shown as "<5"


class Remainder(Cells):
    """The persons of `whole` in none of `parts` (e.g. sex not recorded): only its truth is
    known (nothing publishes it); the attacker tries to derive it."""

    def __init__(self, whole: Cells, parts: list[Cells]):
        keys = set(whole.cells) | {k for p in parts for k in p.cells}
        self.cells = {k: (None, None, whole.get(k)[2] - sum(p.get(k)[2] for p in parts)) for k in keys}


class Attacker:
    def __init__(self, con, as_of):
        self.con, self.as_of = con, as_of
        self.cache: dict = {}
        self.tries = 0
        self.recovered: list[tuple] = []  # against the cell-key method
        self.naive_recovered: list[tuple] = []  # against plain suppression (the control)

    def cells(self, name: str, f: queries.Filters, args: tuple) -> Cells:
        key = (name, f, args)
        if key not in self.cache:
            self.cache[key] = Cells(getattr(queries, name)(self.con, f, *args))
        return self.cache[key]

    def difference(self, what: str, target: Cells, plus: list[Cells], minus: list[Cells]) -> None:
        """Try target = Σ plus − Σ minus on every cell, as a point and as an interval."""
        keys = set(target.cells) | {k for c in plus + minus for k in c.cells}
        for key in keys:
            true = target.get(key)[2]
            for index, found in ((0, self.recovered), (1, self.naive_recovered)):
                values = [c.get(key)[index] for c in plus + minus]
                if any(v is None for v in values):
                    continue
                self.tries += index == 0
                derived = sum(c.get(key)[index] for c in plus) - sum(c.get(key)[index] for c in minus)
                if 1 <= true <= 4 and derived == true:
                    found.append((what, key, derived))
            # interval reasoning on the perturbed values
            lo = sum(_interval(c.get(key)[0])[0] for c in plus) - sum(_interval(c.get(key)[0])[1] for c in minus)
            hi = sum(_interval(c.get(key)[0])[1] for c in plus) - sum(_interval(c.get(key)[0])[0] for c in minus)
            own_lo, own_hi = _interval(target.get(key)[0])
            lo, hi = max(lo, own_lo), min(hi, own_hi)
            if lo == hi and 1 <= lo <= 4 and lo == true:
                self.recovered.append((what + " (interval)", key, lo))


def _interval(published) -> tuple[int, int]:
    """What a published value says about the true count."""
    if published is None:
        return 0, disclosure.MIN_COUNT - 1
    if published == 0:
        return 0, 0
    return max(disclosure.MIN_COUNT, published - disclosure.BASE + 1), published + disclosure.BASE - 1


def test_differencing_attacker_recovers_no_small_count(con, as_of, places):
    attacker = Attacker(con, as_of)
    calls = _calls(as_of)
    region_filters = {
        r: dataclasses.replace(COUNTY, municipalities=tuple(codes)) for r, codes in places["by_region"].items()
    }
    place_filters = [COUNTY, *region_filters.values()] + [
        dataclasses.replace(COUNTY, municipalities=(code,)) for code in places["code_by_name"].values()
    ]

    for name, args in calls:
        for f in place_filters[:20]:  # the county, its regions and a dozen municipalities
            # Alle − Kvinner − Menn (and each sex from Alle minus the other)
            alle = attacker.cells(name, f, args)
            women = attacker.cells(name, dataclasses.replace(f, sex="K"), args)
            men = attacker.cells(name, dataclasses.replace(f, sex="M"), args)
            attacker.difference(f"{name}{args}: Alle − Kvinner", men, [alle], [women])
            attacker.difference(f"{name}{args}: Alle − Menn", women, [alle], [men])
            attacker.difference(
                f"{name}{args}: Alle − Kvinner − Menn", Remainder(alle, [women, men]), [alle], [women, men]
            )
            # a row's total minus its visible cells (tables with a Totalt category)
            _totals_attack(attacker, name, args, alle)
        # a region minus its other municipalities
        for region, codes in places["by_region"].items():
            whole = attacker.cells(name, region_filters[region], args)
            parts = {c: attacker.cells(name, dataclasses.replace(COUNTY, municipalities=(c,)), args) for c in codes}
            for target in codes:
                attacker.difference(
                    f"{name}{args}: {region} − others ({target})",
                    parts[target],
                    [whole],
                    [parts[c] for c in codes if c != target],
                )
        # overlapping cohort selections: {a, b} − {a} = {b}
        cohorts = [
            r[0]
            for r in con.execute(
                "select distinct cohort_year from dash.person_filter where cohort_year is not null order by 1"
            ).fetchall()
        ]
        for a, b in itertools.pairwise(cohorts):
            both = attacker.cells(name, dataclasses.replace(COUNTY, cohorts=(a, b)), args)
            only_a = attacker.cells(name, dataclasses.replace(COUNTY, cohorts=(a,)), args)
            only_b = attacker.cells(name, dataclasses.replace(COUNTY, cohorts=(b,)), args)
            attacker.difference(f"{name}{args}: cohorts {{{a},{b}}} − {{{a}}}", only_b, [both], [only_a])

    print(
        f"\ndifferencing attacker: {attacker.tries} differences tried over {len(attacker.cache)} "
        f"query results; exact small counts recovered: {len(attacker.recovered)} "
        f"(plain suppression: {len(attacker.naive_recovered)})"
    )
    assert attacker.tries > 2000
    assert attacker.naive_recovered, "the attacker must be able to break plain small-cell suppression"
    assert attacker.recovered == [], attacker.recovered[:10]


def _totals_attack(attacker: Attacker, name: str, args: tuple, cells: Cells) -> None:
    """Totalt − the other cells of its row, for each cell of the row."""
    rows: dict[tuple, dict] = {}
    for (label, column), value in cells.cells.items():
        if queries.TOTAL in label:
            continue
        rows.setdefault((label[:-1], column), {})[label] = value
    for (prefix, column), members in rows.items():
        total_key = ((*prefix, queries.TOTAL), column)
        if total_key not in cells.cells:
            continue
        for target in members:
            others = [m for m in members if m != target]
            for index, found in ((0, attacker.recovered), (1, attacker.naive_recovered)):
                values = [members[m][index] for m in others] + [cells.cells[total_key][index]]
                if any(v is None for v in values):
                    continue
                attacker.tries += index == 0
                derived = cells.cells[total_key][index] - sum(members[m][index] for m in others)
                true = members[target][2]
                if 1 <= true <= 4 and derived == true:
                    found.append((f"{name}{args}: Totalt − rest", target, derived))


def test_the_same_persons_give_the_same_figure_on_every_page_and_path(con, as_of, places):
    """Consistency: one set of persons, one published value, whatever led to it."""
    # the same query on two pages (Oversikt and Introprogram show november_indicator)
    assert "november_indicator" in queries.PAGE_QUERIES["oversikt"]
    assert "november_indicator" in queries.PAGE_QUERIES["introprogram"]
    # a cohort's row in the per-cohort table = the funnel of that cohort chosen in the filter
    per_cohort = disclosure.publish(queries.cohort_funnel(con, COUNTY, True))
    compared = 0
    for year in per_cohort["cohort_year"].unique().to_list()[:6]:
        chosen = disclosure.publish(queries.cohort_funnel(con, dataclasses.replace(COUNTY, cohorts=(year,)), False))
        row = per_cohort.filter(pl.col("cohort_year") == year).select("stage", "persons").sort("stage")
        assert row.equals(chosen.select("stage", "persons").sort("stage")), year
        compared += row.height
    assert compared > 20
    # a region chosen in the filter = the same municipalities as an adviser's scope
    region, codes = next(iter(places["by_region"].items()))
    by_filter = disclosure.publish(
        queries.persons_on_stage_now(con, dataclasses.replace(COUNTY, municipalities=tuple(codes)), as_of)
    ).sort("stage")
    by_scope = disclosure.publish(queries.persons_on_stage_now(con, queries.Filters(scope=tuple(codes)), as_of)).sort(
        "stage"
    )
    assert by_filter.equals(by_scope) and by_filter.height > 0


def test_every_published_count_is_hidden_or_a_multiple_of_five(con, as_of, places):
    calls = _calls(as_of)
    seen = hidden = 0
    for code in list(places["code_by_name"].values())[:10]:
        for name, args in calls:
            raw = getattr(queries, name)(con, queries.Filters(scope=(code,)), *args)
            out = disclosure.publish(raw)
            assert not [c for c in out.columns if c.endswith(KEY_SUFFIX)]
            for c in disclosure.count_columns(raw):
                for value in out[c].to_list():
                    assert disclosure.is_publishable(value), (name, c, value)
                    seen += 1
                    hidden += value is None
    assert seen > 500 and hidden > 20
