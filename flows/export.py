"""`pathways export`: the conformed events as an event log for analysts (issue 15).

Two forms of the same log, written side by side into one folder:

- `pathways.ocel.json`: OCEL 2.0 in its standard JSON form (ocel-standard.org), which
  PM4Py (`pm4py.read_ocel2_json`), Celonis, ProM and OCPM tools read. Events are the rows
  of `core.event`, typed `<stage> <event_type>` (e.g. `intro started`), with their
  source, stage, event type, programme and detail as attributes. Objects: persons (by
  pseudonym, with their core.person attributes), municipalities and schools (with their
  names from the reference tables) and Trøndelag-model cases. Each event is related to its
  person, its municipality, its school and its case where it has them; each person to the
  municipality it was settled in.
- Parquet (`events.parquet`, `objects.parquet`, `event_objects.parquet`): the same
  events, objects and relations as tables, for Polars, DuckDB, pandas or R.

Person-level: for data staff only. The command reads the published warehouse, so only an
account that may read it (the warehouse's owner and group) can run it; the files are
written readable by the owner and the configured group only, and every export is
recorded in the follow-up list's access log (who, when, how many persons). The log holds
no national identity number or free text (the warehouse never does).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

OCEL_FILE = "pathways.ocel.json"
PARQUET_FILES = ("events.parquet", "objects.parquet", "event_objects.parquet")

_EVENTS = """
    with tm_case as (
        -- a Trøndelag-model event's case: core.event keeps the file, the person and the date
        select distinct person_id, event_date, source_file, case_id from staging.stg_trondelag_model
    ),
    numbered as (
        select e.*, 'e' || row_number() over (
                   order by e.event_date, e.person_id, e.source, e.stage, e.event_type, e.source_file,
                            e.municipality_code, e.school_orgnr, e.detail) as event_id
        from core.event e
    )
    select n.event_id, n.person_id, n.event_date, n.source, n.stage, n.event_type, n.municipality_code,
           n.school_orgnr, n.programme, n.detail, n.source_file,
           list(distinct c.case_id order by c.case_id) filter (where c.case_id is not null) as case_ids
    from numbered n
    left join tm_case c on n.source = 'trondelag_model' and c.person_id = n.person_id
         and c.event_date = n.event_date and c.source_file = n.source_file
    group by all
    order by n.event_date, n.event_id
"""


@dataclass
class ExportResult:
    folder: Path
    events: int
    persons: int
    files: list[Path]


def _time(value: dt.date) -> str:
    return f"{value.isoformat()}T00:00:00Z"


def _own_folder(out: Path) -> None:
    """`out` created by this account, or an existing real folder this account owns: never a
    folder another account owns (a shared folder), where a file or link planted beforehand
    would receive the person-level files and keep them readable to whoever planted it."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise PermissionError(f"--out {out}: not a folder (a link or a file): nothing written")
    out.mkdir(parents=True, exist_ok=True)
    if out.stat().st_uid != os.geteuid():
        raise PermissionError(f"--out {out}: a folder another account owns: nothing written")


def _replace(target: Path, write) -> None:
    """Write to a new private file beside `target`, then rename it onto `target`: a link
    or someone else's file already there is replaced, never written through, and the file
    is never readable by others while it is written."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    old = os.umask(0o077)
    try:
        write(tmp)
    finally:
        os.umask(old)
    os.replace(tmp, target)


def export(warehouse: Path, out: Path) -> ExportResult:
    """Write the OCEL 2.0 JSON and the Parquet tables of the published warehouse into `out`."""
    import polars as pl

    from flows.settings import restrict

    _own_folder(out)
    restrict(out)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        events = con.sql(_EVENTS).pl()
        persons = con.sql("""select person_id, sex, birth_year, country_background, immigration_reason,
                                    settlement_date, settlement_municipality_code from core.person
                             order by person_id""").pl()
        municipalities = dict(
            con.execute("select municipality_code, municipality_name from reference.municipality").fetchall()
        )
        schools = dict(con.execute("select school_orgnr, school_name from reference.school").fetchall())
    _record(persons.height)  # before a person-level file exists: no access log, no export

    # objects: (id, type, name, attributes)
    objects: dict[str, dict] = {}
    relations: list[tuple[str, str, str]] = []  # (event id, object id, qualifier)

    def municipality(code: str | None) -> str | None:
        if not code:
            return None
        oid = f"municipality:{code}"
        objects.setdefault(
            oid,
            {
                "id": oid,
                "type": "municipality",
                "name": municipalities.get(code, code),
                "attributes": {"code": code, "name": municipalities.get(code, code)},
            },
        )
        return oid

    def school(orgnr: str | None) -> str | None:
        if not orgnr:
            return None
        oid = f"school:{orgnr}"
        objects.setdefault(
            oid,
            {
                "id": oid,
                "type": "school",
                "name": schools.get(orgnr, orgnr),
                "attributes": {"orgnr": orgnr, "name": schools.get(orgnr, orgnr)},
            },
        )
        return oid

    person_links: dict[str, list[dict]] = {}
    for p in persons.iter_rows(named=True):
        attributes = {k: p[k] for k in ("sex", "birth_year", "country_background", "immigration_reason")}
        attributes["settlement_date"] = p["settlement_date"].isoformat() if p["settlement_date"] else None
        objects[p["person_id"]] = {"id": p["person_id"], "type": "person", "name": None, "attributes": attributes}
        settled = municipality(p["settlement_municipality_code"])
        person_links[p["person_id"]] = [{"objectId": settled, "qualifier": "settled in"}] if settled else []

    ocel_events = []
    for e in events.iter_rows(named=True):
        links = [(e["person_id"], "person")]
        for oid, qualifier in (
            (municipality(e["municipality_code"]), "municipality"),
            (school(e["school_orgnr"]), "school"),
        ):
            if oid:
                links.append((oid, qualifier))
        for case in e["case_ids"] or []:
            oid = f"case:{case}"
            objects.setdefault(oid, {"id": oid, "type": "case", "name": case, "attributes": {"case_id": case}})
            links.append((oid, "case"))
        relations += [(e["event_id"], oid, q) for oid, q in links]
        ocel_events.append(
            {
                "id": e["event_id"],
                "type": f"{e['stage']} {e['event_type']}",
                "time": _time(e["event_date"]),
                "attributes": [
                    {"name": k, "value": str(e[k])}
                    for k in ("source", "stage", "event_type", "programme", "detail")
                    if e[k] is not None
                ],
                "relationships": [{"objectId": oid, "qualifier": q} for oid, q in links],
            }
        )

    string_attrs = {
        "person": ["sex", "birth_year", "country_background", "immigration_reason", "settlement_date"],
        "municipality": ["code", "name"],
        "school": ["orgnr", "name"],
        "case": ["case_id"],
    }
    document = {
        "objectTypes": [
            {"name": t, "attributes": [{"name": a, "type": "string"} for a in attrs]}
            for t, attrs in string_attrs.items()
        ],
        "eventTypes": [
            {
                "name": t,
                "attributes": [
                    {"name": a, "type": "string"} for a in ("source", "stage", "event_type", "programme", "detail")
                ],
            }
            for t in sorted({ev["type"] for ev in ocel_events})
        ],
        "objects": [
            {
                "id": o["id"],
                "type": o["type"],
                "attributes": [
                    {"name": k, "time": "1970-01-01T00:00:00Z", "value": str(v)}
                    for k, v in o["attributes"].items()
                    if v is not None
                ],
                **({"relationships": person_links[o["id"]]} if o["type"] == "person" else {}),
            }
            for o in objects.values()
        ],
        "events": ocel_events,
    }
    ocel_path = out / OCEL_FILE
    _replace(ocel_path, lambda tmp: tmp.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8"))
    _replace(out / "events.parquet", events.write_parquet)
    objects_frame = pl.DataFrame(
        {
            "object_id": [o["id"] for o in objects.values()],
            "type": [o["type"] for o in objects.values()],
            "name": [o["name"] for o in objects.values()],
        }
    )
    _replace(out / "objects.parquet", objects_frame.write_parquet)
    relations_frame = pl.DataFrame(relations, schema=["event_id", "object_id", "qualifier"], orient="row")
    _replace(out / "event_objects.parquet", relations_frame.write_parquet)
    files = [ocel_path, *(out / f for f in PARQUET_FILES)]
    restrict(*files)
    return ExportResult(out, events.height, persons.height, files)


def _record(persons: int) -> None:
    """The export in the access log (person-level data left the warehouse)."""
    from dashboard import access_log
    from dashboard.queries import COUNTY

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    access_log.append(f"os:{user}", "data_staff", COUNTY, "export", persons, "")
