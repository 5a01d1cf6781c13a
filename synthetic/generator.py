"""`pathways generate`: write a synthetic county's landing zone, its truth and its faults.

    OUT/intro/ … OUT/settlement_plan/    landing files in the sources' real formats
    OUT/_synthetic/truth_*.parquet         the true pathways (what the marts must show)
    OUT/_synthetic/faults.json             every planted fault and the rule that must catch it

The pipeline only looks in the source folders, so `_synthetic/` is never loaded.
Deterministic for a seed: the same arguments give byte-identical files.
"""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from flows import progress
from synthetic import faults as faults_mod
from synthetic import parameters as P
from synthetic import writers
from synthetic.model import County, Truth

TRUTH_DIR = "_synthetic"


@dataclass
class Generated:
    files: int
    persons: int
    faults: int
    out: Path


def write_truth(truth: Truth, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    date_cols = ("settlement_date", "start_date", "end_date", "date", "applied_date", "offered_date", "started_date")
    for name in ("persons", "spells", "milestones", "applications", "intro_transitions"):
        rows = getattr(truth, name)
        frame = pl.DataFrame(rows, infer_schema_length=None)
        frame = frame.with_columns(pl.col(c).cast(pl.Date) for c in date_cols if c in frame.columns)
        frame.write_parquet(folder / f"truth_{name}.parquet")


def generate(persons: int, seed: int, out: Path, fault_rate: float = 0.0, clean: bool = False) -> Generated:
    out = Path(out)
    if clean and out.exists():
        for name in (
            "intro",
            "adult_education",
            "combination_classes",
            "trondelag_model",
            "settlement_plan",
            TRUTH_DIR,
        ):
            shutil.rmtree(out / name, ignore_errors=True)
    county = County(persons, seed)
    progress.step("simulate persons", total=persons)
    truth, records = county.simulate()
    progress.step("plan deliveries")
    county.real_life["persons born before 1940"] = sum(
        1 for p in truth.persons if p["birth_year"] is not None and p["birth_year"] < 1940
    )
    settlements = Counter(r["deltaker_pid"] for r in records.intro if r["hendelse"] == "bosatt")
    county.real_life["persons settled in two or more municipalities"] = sum(1 for n in settlements.values() if n > 1)
    rng = random.Random(seed + 1)
    deliveries = (
        writers.plan_intro(records.intro, rng)
        + writers.plan_adult_education(records.adult_education, rng)
        + writers.plan_combination(records.combination, county.schools, rng)
        + writers.plan_trondelag_model(records.tm_cases, rng, county.real_life)
    )
    planted: list[faults_mod.Fault] = []
    if fault_rate > 0:
        deliveries, planted = faults_mod.plant(deliveries, fault_rate, random.Random(seed + 2))
    # Not faults but real life: rows a source sent with refused values (cases registered in
    # error, still listed by later exports); they must be quarantined, and nothing else.
    for d in deliveries:
        if d.source == "trondelag_model" and d.raw_bytes is None:
            planted += [
                faults_mod.Fault("tm_registered_in_error", d.source, d.name, "date_format", "row", row, "date")
                for row, _ in writers.expected_quarantine(d)
            ]
    # Settlement plans: their own random stream, so adding them left every other file as it was.
    plans = writers.plan_settlement(truth.persons, random.Random(seed + 3))
    deliveries += plans
    progress.step("write landing files", total=len(deliveries))
    for d in deliveries:
        writers.write(d, out)
        progress.advance()
    folder = out / TRUTH_DIR
    write_truth(truth, folder)
    plan_schema = {
        "municipality_code": pl.String,
        "year": pl.Int32,
        "requested": pl.Int32,
        "decided": pl.Int32,
        "unaccompanied_minors": pl.Int32,
        "source_file": pl.String,
    }
    pl.DataFrame(writers.settlement_plan_truth(plans), schema=plan_schema).write_parquet(
        folder / "truth_settlement_plan.parquet"
    )
    (folder / "faults.json").write_text(json.dumps([f.as_dict() for f in planted], indent=1, default=str))
    (folder / "generation.json").write_text(
        json.dumps(
            {
                "persons": persons,
                "seed": seed,
                "fault_rate": fault_rate,
                "data_end": P.DATA_END.isoformat(),
                "files": len(deliveries),
                "real_life": dict(sorted(county.real_life.items())),
            },
            indent=1,
            ensure_ascii=False,
        )
    )
    return Generated(len(deliveries), persons, len(planted), out)
