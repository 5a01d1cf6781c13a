"""Reference data the rules check against (municipality codes, country codes).

The municipality list is the 2024 structure (357 municipalities), kept as a CSV in
`warehouse/reference/` because the warehouse publishes the same list for the dashboard.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

import pycountry


@cache
def municipalities() -> dict[str, dict[str, str]]:
    """code -> {municipality_name, county_name, region} for every 2024 municipality."""
    text = resources.files("warehouse").joinpath("reference/municipalities.csv").read_text("utf-8")
    return {row["municipality_code"]: row for row in csv.DictReader(text.splitlines())}


@cache
def municipality_codes() -> frozenset[str]:
    return frozenset(municipalities())


@cache
def trondelag_codes() -> tuple[str, ...]:
    return tuple(c for c, row in municipalities().items() if row["county_name"] == "Trøndelag")


@cache
def country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-3, from the maintained pycountry tables (plus XXX for stateless)."""
    return frozenset(c.alpha_3 for c in pycountry.countries) | {"XXX"}
