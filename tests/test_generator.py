"""The synthetic county: deterministic for a seed, and shaped like Trøndelag."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest

from synthetic import parameters as P
from synthetic.generator import generate


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(300, 5, a, fault_rate=0.01)
    generate(300, 5, b, fault_rate=0.01)
    generate(300, 6, c, fault_rate=0.01)
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)


@pytest.fixture(scope="module")
def truth(tmp_path_factory):
    root = tmp_path_factory.mktemp("big")
    generate(6000, 21, root)
    folder = root / "_synthetic"
    return {
        name: pl.read_parquet(folder / f"truth_{name}.parquet")
        for name in ("persons", "spells", "applications", "milestones", "intro_transitions")
    }


def test_settlements_peak_after_2022_and_stay_in_trondelag(truth):
    settled = truth["persons"].filter(pl.col("settlement_date").is_not_null())
    by_year = settled.group_by(pl.col("settlement_date").dt.year().alias("y")).len().sort("y")
    counts = dict(zip(by_year["y"], by_year["len"], strict=True))
    assert min(counts) == 2015 and max(counts) == 2025
    assert counts[2023] > 2 * counts[2019] and counts[2022] > counts[2017]
    assert settled["settlement_municipality_code"].str.starts_with("50").all()
    assert settled["settlement_municipality_code"].n_unique() >= 30


def test_participants_look_like_the_2024_statistics(truth):
    persons = truth["persons"]
    intro = truth["spells"].filter(pl.col("stage") == "intro")
    in_2024 = intro.filter(
        (pl.col("start_date").dt.year() <= 2024)
        & (pl.col("end_date").is_null() | (pl.col("end_date").dt.year() >= 2024))
    )
    people = persons.join(in_2024.select("person_id").unique(), on="person_id")
    ukr = (people["country_background"] == "UKR").mean()
    women = (people["sex"] == "K").mean()
    assert 0.60 <= ukr <= 0.80, ukr  # about 70 % Ukrainians (SSB-intro)
    assert 0.51 <= women <= 0.61, women  # 56 % women
    age = 2024 - people["birth_year"]
    share_26_45 = ((age >= 26) & (age <= 46)).mean()
    assert 0.50 <= share_26_45 <= 0.75, share_26_45  # 30 % + 33 % in the two middle groups


def test_half_start_norwegian_within_three_months(truth):
    persons = truth["persons"].select("person_id", "settlement_date")
    norwegian = (
        truth["spells"]
        .filter(pl.col("stage") == "norwegian")
        .group_by("person_id")
        .agg(pl.col("start_date").min())
        .join(persons, on="person_id")
    )
    share = ((norwegian["start_date"] - norwegian["settlement_date"]).dt.total_days() <= 92).mean()
    assert 0.40 <= share <= 0.60, share


def test_combination_classes_start_in_august_and_autumn_applicants_wait_months(truth):
    komb = truth["applications"].filter(pl.col("source") == "combination_classes")
    started = komb.filter(pl.col("started_date").is_not_null())
    assert (started["started_date"].dt.month() == 8).all()
    autumn = started.filter(pl.col("applied_date").dt.month().is_in([9, 10, 11]))
    waits = (autumn["started_date"] - autumn["applied_date"]).dt.total_days()
    assert waits.min() > 200
    ages = (
        truth["persons"]
        .join(started, on="person_id")
        .select((pl.col("started_date").dt.year() - pl.col("birth_year")).alias("age"))["age"]
    )
    assert ages.min() >= 16 and ages.max() <= 24


def test_outcomes_direct_transition_and_ukrainians_to_work(truth):
    t = (
        truth["intro_transitions"]
        .filter(pl.col("direct_transition").is_not_null())
        .join(truth["persons"], on="person_id")
    )
    to_work = pl.col("direct_transition").is_in(["arbeid", "arbeid_og_utdanning"])
    ukr = t.filter(pl.col("country_background") == "UKR").select(to_work.mean()).item()
    others = t.filter(pl.col("country_background") != "UKR").select(to_work.mean()).item()
    assert 0.38 <= ukr <= 0.52 and 0.17 <= others <= 0.30, (ukr, others)
    work_or_edu = t.select(
        pl.col("direct_transition").is_in(["arbeid", "arbeid_og_utdanning", "utdanning"]).mean()
    ).item()
    assert 0.40 <= work_or_edu <= 0.60


def test_trondelag_model_has_people_without_an_intro_record(truth):
    tm = truth["spells"].filter(pl.col("source") == "trondelag_model").select("person_id").unique()
    settled = truth["persons"].filter(pl.col("settlement_date").is_not_null()).select("person_id")
    only_tm = tm.join(settled, on="person_id", how="anti")
    assert only_tm.height > 0.2 * tm.height
    dropped = truth["spells"].filter((pl.col("source") == "trondelag_model") & (pl.col("end_type") == "dropped_out"))
    assert dropped["stage"].n_unique() >= 2


def test_parameters_cite_their_sources():
    doc = P.__doc__
    for tag in ("[IMDi-bos]", "[SSB-intro]", "[SSB-out]", "[IMDi-res]", "[TFK-komb]", "[TM]"):
        assert tag in doc


def test_every_person_has_their_own_key(tmp_path):
    """Random national ids collide by the birthday paradox (≈ 1 % of 200 000 persons);
    the generator must never give two persons the same number, hence the same pid."""
    from synthetic.model import County

    county = County(60000, 3)
    county.simulate()
    assert len(county.numbers) == 60000
    assert len({p["person_id"] for p in county.truth.persons}) == 60000


def test_generate_shows_progress_on_stderr_only_and_not_when_quiet(tmp_path):
    """The bar is for a person at a terminal (forced here as a terminal would get it): steps and
    counts on stderr, the result line alone on stdout, and nothing at all with --quiet."""
    import os
    import re
    import subprocess
    import sys

    env = dict(os.environ, PATHWAYS_PROGRESS="always", PATHWAYS_HOME=str(tmp_path / "home"))
    env.pop("PATHWAYS_QUIET", None)
    cmd = [sys.executable, "-m", "flows.cli", "generate", "--persons", "40", "--seed", "3"]
    shown = subprocess.run([*cmd, "--out", str(tmp_path / "a")], env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr[-1500:]
    files = int(re.match(r"(\d+) landing files", shown.stdout).group(1))
    bar = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.stderr)
    assert re.search(r"simulate persons\W+40/40\b", bar), bar[-800:]
    assert re.search(rf"write landing files\W+{files}/{files}\b", bar), bar[-800:]
    assert "━" not in shown.stdout
    quiet = subprocess.run(
        [sys.executable, "-m", "flows.cli", "--quiet", *cmd[3:], "--out", str(tmp_path / "b")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == "", quiet.stderr[-800:]
