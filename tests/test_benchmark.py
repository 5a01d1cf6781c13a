"""The benchmark's baselines cover every source and count what the readers count.

The floor of issue 13 (DuckDB and calamine simply reading the landing files) is the
denominator of every ratio `pathways bench scale` prints: if it skipped a source, or read
it as another format, the ratios would flatter the pipeline (or the benchmark would die
on the first county that has the source, as it once did when settlement plans arrived).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.benchmark import _baseline_parse, _floor
from flows.landing import LandingFile, discover
from flows.sources import SOURCES
from synthetic.generator import generate


@pytest.fixture(scope="module")
def clean_county(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bench-county")
    generate(150, 3, root)  # no planted faults: every file is readable by the bare libraries
    return root


def test_floor_reads_every_source_and_counts_the_readers_rows(clean_county):
    files = discover(clean_county, settle_seconds=0)
    assert {f.source for f in files} == set(SOURCES), "the synthetic county delivers every source"
    _, floor_rows = _floor(files)
    baseline_rows = 0
    for f in files:
        expected = SOURCES[f.source].read(f.path).rows_read
        assert _baseline_parse(f.source, f.path) == expected, f.source
        baseline_rows += expected
    assert floor_rows == baseline_rows


def test_an_unknown_source_is_refused_not_skipped(clean_county):
    any_file = discover(clean_county, settle_seconds=0)[0]
    stranger = LandingFile("new_source", any_file.path, any_file.sha256, any_file.size)
    with pytest.raises(ValueError, match="new_source"):
        _floor([stranger])
    with pytest.raises(ValueError, match="new_source"):
        _baseline_parse("new_source", any_file.path)


def test_the_model_profile_times_every_model_of_a_loaded_warehouse_and_leaves_it_alone(loaded, capsys):
    from bench.benchmark import models
    from warehouse.build import load_models

    _, warehouse = loaded
    before = warehouse.stat().st_mtime_ns
    seconds = models(warehouse, top=5)
    assert set(seconds) == set(load_models()) | {"marts.school_place_forecast (Python)"}
    assert all(s > 0 for s in seconds.values())
    assert warehouse.stat().st_mtime_ns == before  # timed on a copy
    assert len([line for line in capsys.readouterr().out.splitlines() if line.endswith(tuple(seconds))]) == 5
