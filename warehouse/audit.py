"""Audit a candidate warehouse with Great Expectations before it may be published.

One expectation suite per published table, run together as one checkpoint whose
results are rendered by GX's own Data Docs into `data_docs/` beside the warehouse (one
validation page per build, named by the build id). The audits run on GX's SQL path to
DuckDB (see `warehouse/gx_duckdb.py` for the patch that makes it correct); nothing is
skipped: an expectation that cannot be evaluated counts as a failure.

Row counts must not collapse: a build whose `core.event`, `core.person` or
`marts.stage_spell` has lost more than 20 % of the rows of the published build fails,
unless the load is forced (e.g. after a deliberate correction of a source). Tables of
fewer than 100 rows are not guarded: in a county's first loads a few rows are not a trend.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from warehouse import STAGES, one_row

SPELL_STAGES = [s for s in STAGES if s not in ("settlement", "trade_certificate")]
SOURCES = ["intro", "adult_education", "combination_classes", "trondelag_model"]
END_TYPES = ["completed", "dropped_out", "transferred", "ongoing"]
FILE_STATUSES = ["loaded", "quarantined", "privacy_incident", "superseded"]
GUARDED_TABLES = ("core.event", "core.person", "marts.stage_spell")
# The drop guard's thresholds are settings: [audit] max_drop (0.20), min_guarded_rows (100).


@dataclass
class AuditResult:
    success: bool
    failures: list[str] = field(default_factory=list)
    docs_index: Path | None = None
    expectations: int = 0
    # of which carried from a published build's audit of the same table (warehouse.audit_state)
    carried: int = 0
    suites_run: list[str] = field(default_factory=list)  # the tables whose suites ran
    own_process: bool = False  # run in the audit process of a one-off load (warehouse.audit_process)


@dataclass(frozen=True)
class Expect:
    """One expectation as written down: its GX class name and arguments."""

    kind: str
    kwargs: dict

    def build(self, gxe):
        return getattr(gxe, self.kind)(**self.kwargs)


class _Written:
    """Stands in for `great_expectations.expectations` while the suites are written down
    (`_suites` reads as GX code): each expectation is kept as an `Expect`, so the audit can
    tell whether a suite changed (`warehouse.audit_state`) without importing GX, ≈ 3–5 s,
    when none did."""

    def __getattr__(self, kind: str):
        return lambda **kwargs: Expect(kind, kwargs)


def _suites(gxe, as_of: dt.date, previous: dict[str, int], force: bool) -> dict[str, list]:
    """Expectations per published table (`gxe`: `_Written()`)."""

    def not_null(*cols):
        return [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in cols]

    def rows(sql: str, description: str):
        return gxe.UnexpectedRowsExpectation(unexpected_rows_query=sql, description=description)

    def ordered():
        return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="end_date", column_B="start_date", or_equal=True, ignore_row_if="either_value_is_missing"
        )

    suites = {
        "core.person": [
            gxe.ExpectColumnValuesToBeUnique(column="person_id"),
            *not_null("person_id"),
            gxe.ExpectColumnValuesToBeInSet(column="sex", value_set=["M", "K"]),
            # mirrors the row rules (born 1900 or later, not after the record's date): persons
            # of any age are valid, children settled with their families included
            gxe.ExpectColumnValuesToBeBetween(column="birth_year", min_value=1900, max_value=as_of.year),
            gxe.ExpectColumnValuesToBeBetween(
                column="settlement_date", min_value="2010-01-01", max_value=as_of.isoformat()
            ),
        ],
        "core.event": [
            *not_null("person_id", "event_date", "source", "stage", "event_type", "source_file"),
            gxe.ExpectColumnValuesToBeInSet(column="source", value_set=SOURCES),
            gxe.ExpectColumnValuesToBeInSet(column="stage", value_set=list(STAGES)),
            gxe.ExpectColumnValuesToBeBetween(column="event_date", min_value="2010-01-01"),
        ],
        "marts.stage_spell": [
            *not_null("person_id", "stage", "source", "start_date", "end_type"),
            gxe.ExpectColumnValuesToBeInSet(column="stage", value_set=SPELL_STAGES),
            gxe.ExpectColumnValuesToBeInSet(column="end_type", value_set=END_TYPES),
            ordered(),
            rows(
                "select * from {batch} where (end_type = 'ongoing') <> (end_date is null)",
                "an ongoing spell has no end date, an ended one has",
            ),
            rows(
                "select person_id, stage, source, start_date, school_orgnr, count(*) from {batch} "
                "group by all having count(*) > 1",
                "one spell per person, stage, source, start and school",
            ),
        ],
        "marts.school_place_wait": [
            *not_null("person_id", "source", "stage", "applied_date", "status"),
            gxe.ExpectColumnValuesToBeInSet(column="status", value_set=["started", "waiting", "withdrawn"]),
            gxe.ExpectColumnValuesToBeBetween(column="wait_days", min_value=0),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="started_date", column_B="applied_date", or_equal=True, ignore_row_if="either_value_is_missing"
            ),
            rows(
                "select * from {batch} where (status = 'withdrawn') <> (wait_days is null)",
                "wait_days is null exactly for withdrawn applications",
            ),
        ],
        "marts.intro_outcome": [
            *not_null("person_id", "start_date", "end_type", "municipality_code"),
            gxe.ExpectColumnValuesToBeInSet(column="end_type", value_set=END_TYPES),
            gxe.ExpectColumnValuesToBeInSet(
                column="direct_transition",
                value_set=["arbeid", "utdanning", "arbeid_og_utdanning", "arbeidsledig", "annet"],
            ),
            ordered(),
        ],
        "marts.dropout": [
            *not_null("person_id", "stage", "source", "dropout_date", "days_on_stage"),
            gxe.ExpectColumnValuesToBeInSet(column="stage", value_set=SPELL_STAGES),
            gxe.ExpectColumnValuesToBeBetween(column="days_on_stage", min_value=0),
        ],
        "marts.funnel": [
            *not_null("stage", "persons"),
            gxe.ExpectColumnValuesToBeInSet(column="stage", value_set=STAGES),
            gxe.ExpectColumnValuesToBeBetween(column="persons", min_value=1),
            rows(
                "select cohort_year, municipality_code, stage, count(*) from {batch} group by all having count(*) > 1",
                "one row per cohort, municipality and stage",
            ),
        ],
        # issue 14: the targets and the forecast
        "marts.settlement_start": [
            gxe.ExpectColumnValuesToBeUnique(column="person_id"),
            *not_null("person_id", "settlement_date"),
            gxe.ExpectColumnValuesToBeBetween(column="days_to_intro", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="days_to_norwegian", min_value=0),
            rows(
                "select * from {batch} where (intro_start_date is null) <> (days_to_intro is null) "
                "or (norwegian_start_date is null) <> (days_to_norwegian is null)",
                "days to a start exactly where there is a start",
            ),
            rows(
                "select * from {batch} where (intro_within_3_months is null and intro_start_date is not null) "
                "or (norwegian_within_3_months is null and norwegian_start_date is not null)",
                "a start decides the three-month flag",
            ),
            rows(
                f"select * from {{batch}} where (intro_within_3_months is null or norwegian_within_3_months is null) "
                f"and (settlement_date + interval 3 month)::date <= date '{as_of.isoformat()}'",
                "the three-month flag is null only while the deadline is after as_of",
            ),
        ],
        "marts.time_to_outcome": [
            gxe.ExpectColumnValuesToBeUnique(column="person_id"),
            *not_null(
                "person_id",
                "cohort_year",
                "days_to_work",
                "days_to_work_or_education",
                "reached_work",
                "reached_work_or_education",
            ),
            gxe.ExpectColumnValuesToBeBetween(column="days_to_work", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="days_to_work_or_education", min_value=0),
            rows(
                "select * from {batch} where reached_work <> (work_date is not null) "
                "or reached_work_or_education <> (work_or_education_date is not null)",
                "reached exactly where there is a date",
            ),
            rows(
                "select * from {batch} where work_or_education_date > work_date "
                "or days_to_work_or_education > days_to_work",
                "work or education is reached no later than work",
            ),
        ],
        "marts.settlement_plan": [
            *not_null("municipality_code", "year", "requested", "source_file"),
            gxe.ExpectColumnValuesToBeBetween(column="year", min_value=2015),
            gxe.ExpectColumnValuesToBeBetween(column="requested", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="decided", min_value=0),
            rows(
                "select * from {batch} where unaccompanied_minors > decided "
                "or (unaccompanied_minors is not null and decided is null)",
                "unaccompanied minors within the decided number",
            ),
            rows(
                "select municipality_code, year, count(*) from {batch} group by all having count(*) > 1",
                "one plan in force per municipality and year",
            ),
        ],
        "marts.school_place_forecast": [
            *not_null("intake_year", "region", "expected_applications", "low_80", "high_80", "method"),
            gxe.ExpectColumnValuesToBeBetween(column="expected_applications", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="low_80", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="actual_applications", min_value=0),
            gxe.ExpectColumnValuesToBeInSet(
                column="method", value_set=["negbin-plan-exposure", "poisson-plan-exposure"]
            ),
            rows(
                "select * from {batch} where not (low_80 <= expected_applications + 1 "
                "and expected_applications <= high_80 + 1 and low_80 <= high_80)",
                "the 80 % interval is ordered around the expectation",
            ),
            rows(
                "select intake_year, region, count(*) from {batch} group by all having count(*) > 1",
                "one row per intake and region",
            ),
            rows(
                f"select * from {{batch}} where actual_applications is not null "
                f"and make_date(intake_year, 7, 31) > date '{as_of.isoformat()}'",
                "an actual number only for intakes whose application year has ended",
            ),
        ],
        "audit.file_log": [
            *not_null("file_name", "source", "sha256", "status"),
            gxe.ExpectColumnValuesToBeInSet(column="status", value_set=FILE_STATUSES),
            rows(
                "select * from {batch} where rows_read <> rows_loaded + rows_quarantined + rows_duplicate",
                "every file reconciles: rows_read = loaded + quarantined + duplicate",
            ),
        ],
        "audit.quarantine": [
            *not_null("file_name", "rule", "message"),
            rows(
                "select * from {batch} where regexp_matches(message, '\\d{{11}}')",
                "no 11-digit number in any quarantine message",
            ),
        ],
    }
    if not force:
        from flows.config import current

        settings = current()  # [audit] max_drop, min_guarded_rows
        for table in GUARDED_TABLES:
            if previous.get(table, 0) >= settings.min_guarded_rows:
                suites[table].append(
                    gxe.ExpectTableRowCountToBeBetween(min_value=math.ceil(previous[table] * (1 - settings.max_drop)))
                )
    return suites


def previous_counts(published: Path, as_of: dt.date | None = None) -> dict[str, int]:
    """Row counts of the guarded tables in the published warehouse (empty if none).

    Also empty when the published build is as of a later date than this one: a build as
    of an earlier date rightly has fewer events, persons and spells (the contract's `as_of`
    semantics), so the guard has nothing to compare it with."""
    import duckdb

    if not Path(published).exists():
        return {}
    counts = {}
    with duckdb.connect(str(published), read_only=True) as con:
        if as_of is not None:
            try:
                last = one_row(con.execute("select max(as_of) from meta.build").fetchone())[0]
            except duckdb.Error:
                last = None
            if last is not None and last > as_of:
                return {}
        for table in GUARDED_TABLES:
            try:
                counts[table] = one_row(con.execute(f"select count(*) from {table}").fetchone())[0]
            except duckdb.Error:
                pass
    return counts


def _describe(result) -> str:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k in ("column", "column_A", "column_B", "min_value")}
    what = config.description or f"{config.type}({', '.join(f'{k}={v}' for k, v in kwargs.items())})"
    info = result.exception_info or {}
    errors = [v.get("exception_message") for v in info.values() if isinstance(v, dict) and v.get("exception_message")]
    if info.get("raised_exception"):
        errors.append(info.get("exception_message"))
    if errors:
        return f"{what}: could not be evaluated ({str(errors[0])[:160]})"
    r = result.result or {}
    if "unexpected_count" in r:
        return f"{what}: {r['unexpected_count']} unexpected rows"
    if "observed_value" in r:
        return f"{what}: observed {r['observed_value']}"
    return what


def _published_build_ids(warehouse: Path) -> set[str]:
    """Build ids the published warehouse records (its own and the kept ones' history)."""
    import duckdb

    if not Path(warehouse).exists():
        return set()
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return {r[0] for r in con.execute("select build_id from meta.build").fetchall()}
    except duckdb.Error:
        return set()


def prune_reports(docs_dir: Path, keep: int, protect: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Remove the validation pages of all but the newest `keep` builds; returns the
    removed build ids. Pages live in validations/<suite>/<build id>/…, so a build's pages
    are every suite's folder of that name; their age is the folder's modification time."""
    import shutil

    folders: dict[str, list[Path]] = {}
    for folder in (docs_dir / "validations").glob("*/*"):
        if folder.is_dir():
            folders.setdefault(folder.name, []).append(folder)
    newest = sorted(folders, key=lambda b: max(f.stat().st_mtime for f in folders[b]), reverse=True)
    removed = [b for b in newest[max(keep, 1) :] if b not in protect]  # a published build keeps its report
    for build_id in removed:
        for folder in folders[build_id]:
            shutil.rmtree(folder, ignore_errors=True)
    return removed


def import_great_expectations():
    """GX with its telemetry off. Importing it takes ≈ 5 s: a one-off load does it while
    its Prefect server starts (`flows.cli`), not on the audit's clock."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations

    return great_expectations


def prefetch_great_expectations(published: Path, as_of: dt.date, new_files: int, own_process: bool = False) -> bool:
    """Start importing GX ahead when this load's audit will most likely run suites (new
    files, a new as-of date, or no published build to carry from), so its 3–5 s of
    imports overlap the reading and the build. A load that brings nothing new does not pay
    it (nothing to run: `warehouse.audit_state`). `own_process`: in the audit's own process
    on the other core (`warehouse.audit_process`, a one-off `pathways load`); otherwise in
    a background thread of this one, which keeps GX for the loads after. Returns whether
    it started."""
    import sys
    import threading

    if "great_expectations" in sys.modules:  # a served run: its fork server imported it
        return False
    if not new_files and _published_as_of(published) == as_of:
        return False
    if own_process:
        from warehouse import audit_process

        return audit_process.start_ahead()
    threading.Thread(target=import_great_expectations, name="import-great-expectations", daemon=True).start()
    return True


def _published_as_of(published: Path) -> dt.date | None:
    import duckdb

    if not Path(published).exists():
        return None
    try:
        with duckdb.connect(str(published), read_only=True) as con:
            return one_row(con.execute("select max(as_of) from meta.build").fetchone())[0]
    except duckdb.Error:
        return None


def run_audits(
    candidate: Path, warehouse: Path, build_id: str, as_of: dt.date, previous: dict[str, int], force: bool = False
) -> AuditResult:
    """Run every suite on the candidate file, except those carried because their table has
    not changed since a published build audited it (`warehouse.audit_state`); write Data
    Docs beside the published warehouse."""
    import duckdb

    from warehouse import audit_state

    docs_dir = Path(warehouse).parent / "data_docs"
    written = _suites(_Written(), as_of, previous, force)
    suites = {table.replace(".", "__"): (table, e) for table, e in written.items()}
    with duckdb.connect(str(candidate)) as con:
        audit_state.ensure(con)
        before = audit_state.read(con)
        keys = {name: audit_state.audit_key(con, table, e, as_of) for name, (table, e) in suites.items()}
    from flows.config import current

    carried = {
        name: state
        for name, state in before.items()
        if name in keys and state.audit_key == keys[name] and audit_state.has_page(docs_dir, name, state.page_build_id)
    }
    if not current().audit_carry:  # [audit] carry_unchanged = false (PATHWAYS_AUDIT_CARRY=false)
        carried = {}
    to_run = {name: suite for name, suite in suites.items() if name not in carried}
    results, failed_first = _validate(candidate, docs_dir, build_id, to_run) if to_run else ({}, set())
    for name, state in carried.items():
        audit_state.copy_page(docs_dir, name, state, build_id)
    passed = {
        name: audit_state.SuiteState(keys[name], build_id, build_id)
        for name, validation in results.items()
        if validation.success and name not in failed_first
    }
    with duckdb.connect(str(candidate)) as con:
        audit_state.write(
            con,
            passed | {n: audit_state.SuiteState(s.audit_key, s.audited_build_id, build_id) for n, s in carried.items()},
        )
    # [retention] keep_reports (60); never the report of a build the published warehouse
    # records, however many refused builds came after it
    prune_reports(docs_dir, current().keep_reports, _published_build_ids(warehouse))
    from flows.settings import restrict
    from schemas.privacy import redact

    # owner and the configured group only: what this build wrote (earlier builds' pages were
    # restricted when they were written, so the cost does not grow with the history kept)
    validations = docs_dir / "validations"
    restrict(docs_dir, validations, *validations.glob("*"))
    restrict(
        *[p for p in docs_dir.iterdir() if p != validations],
        *validations.glob(f"*/{build_id}"),
        recursive=True,
    )
    failures = []
    for name, validation in results.items():
        table = suites[name][0]
        found = [redact(f"{table}: {_describe(r)}") for r in validation.results if not r.success]
        # a suite that failed the first pass fails the build, whatever the second says
        if not found and (not validation.success or name in failed_first):
            found = [f"{table}: the suite failed (pass or fail: failed; with counts: passed)"]
        failures += found
    count = sum(len(e) for _, e in suites.values())
    carried_count = sum(len(suites[name][1]) for name in carried)
    ran = [suites[name][0] for name in to_run]
    return AuditResult(not failures, failures, docs_dir / "index.html", count, carried_count, ran)


def _validate(candidate: Path, docs_dir: Path, build_id: str, suites: dict[str, tuple[str, list[Expect]]]):
    """Run the suites as one checkpoint and build this build's Data Docs; returns the
    validation results by suite name and the suites that failed the first pass."""
    gx = import_great_expectations()
    import great_expectations.expectations as gxe
    from great_expectations.core.run_identifier import RunIdentifier

    from flows.settings import data_home
    from warehouse import gx_duckdb, gx_templates

    gx_duckdb.enable()
    gx_templates.enable(data_home() / "cache" / "jinja")
    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.WARNING)  # (the second names a /tmp folder it never uses)
    # An ephemeral context: the suites are code (above), so nothing needs to live in GX's
    # YAML stores, and this build's results are the only ones in memory. That keeps the
    # audit's cost flat over years of nightly builds (a file context re-read its YAML for
    # every setting and re-rendered every past result into Data Docs on every build).
    # Earlier builds' pages stay on disk in data_docs/validations/ until pruned.
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    context.add_data_docs_site(
        "pathways",
        {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            # indexes this build without deleting earlier builds' pages (warehouse/gx_docs.py)
            "site_index_builder": {"class_name": "CurrentBuildIndexBuilder", "module_name": "warehouse.gx_docs"},
        },
    )
    datasource = context.data_sources.add_or_update_sql("warehouse", connection_string=f"duckdb:///{candidate}")
    definitions = []
    for name, (table, expectations) in suites.items():
        asset = datasource.add_query_asset(name, query=f"select * from {table}")
        batch = asset.add_batch_definition_whole_table("whole_table")
        suite = context.suites.add_or_update(
            gx.ExpectationSuite(name=name, expectations=[e.build(gxe) for e in expectations])
        )
        definitions.append(
            context.validation_definitions.add_or_update(gx.ValidationDefinition(name=name, data=batch, suite=suite))
        )
    # run_time given: without it GX parses the build id with dateutil as a date, and
    # some hex ids make dateutil raise OverflowError, which GX does not catch (seen in tests)
    run_id = RunIdentifier(run_name=build_id, run_time=dt.datetime.now(dt.UTC))
    try:
        # Pass or fail only, first: GX's Python per expectation is the audit's cost, and the
        # counts and samples of a SUMMARY cost ≈ 40 % more (issue 13). The suites that fail
        # are run again with SUMMARY under the same run id, so their results (and their
        # pages in Data Docs) carry the counts data staff need to fix what was refused.
        results = _checkpoint_run(context, gx, "pathways_build", definitions, "BOOLEAN_ONLY", run_id)
        failed = [d for d in definitions if not results[d.name].success]
        if failed:
            results |= _checkpoint_run(context, gx, "pathways_build_detail", failed, "SUMMARY", run_id)
    finally:
        engine = datasource.get_execution_engine()
        engine.close()
        datasource.get_engine().dispose()
    # Once for the whole build (an UpdateDataDocsAction rebuilds the site once per suite).
    # Its index lists the suites run in this build; the dashboard lists every page on disk,
    # carried ones included.
    context.build_data_docs(site_names=["pathways"])
    return results, {d.name for d in failed}


def _checkpoint_run(context, gx, name: str, definitions: list, result_format: str, run_id) -> dict:
    """Validation results by suite name (= table, with __ for the dot) of one checkpoint run."""
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(name=name, validation_definitions=definitions, actions=[], result_format=result_format)
    )
    run = checkpoint.run(run_id=run_id)
    return {v.suite_name: v for v in run.run_results.values()}
