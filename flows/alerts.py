"""Alerts that reach someone (issue 15): what a load tells the follow-up service.

Why this shape: a drop-out used to produce a Prefect event per drop-out that nobody
forwarded. Now each published build is compared with the build it replaces
(`marts.follow_up`, the follow-up list): the persons who are *new* on it, as drop-outs or
as crossing a threshold (no next step after `follow_up_days`, waiting longer than
`follow_up_wait_days`), are counted per municipality and per school. Overdue deliveries
(`marts.delivery_freshness`) are named beside the counts, because a municipality that
stopped delivering otherwise looks like a quiet one.

- `compare` runs on the candidate before it is published and records the result in
  `audit.follow_up_alert` (so the record is published with the build it describes).
- `emit` sends one `pathways.follow_up.new` event after the publish, with the finished
  message in its payload: counts, names of municipalities and schools, a link to the
  follow-up list. Never a pseudonym, a national id or free text.
- `ensure_automation` (run by `pathways serve` and `pathways alerts`) keeps a Prefect
  notification block (a custom webhook posting `{"text": …}`, which Teams and Slack
  incoming webhooks and most e-mail gateways take) and an automation whose
  SendNotification action posts the event's message through it. Data staff change the
  address in pathways.toml (`[notifications] webhook_url`) or with
  `pathways alerts --webhook-url …`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast
from uuid import UUID

import duckdb

from dashboard.labels import MONTH  # Norwegian month names: the alert speaks like the dashboard

EVENT = "pathways.follow_up.new"
RESOURCE = "pathways.follow-up"
BLOCK_NAME = "pathways-follow-up-webhook"
AUTOMATION_NAME = "pathways-follow-up-alert"
FOLLOW_UP_PATH = "oppfolging"  # the follow-up list's address in the dashboard
NEW_KEY = ("person_id", "reason", "stage", "source", "event_date")
SOURCE_LABEL = {
    "intro": "introprogrammet",
    "adult_education": "voksenopplæringen",
    "combination_classes": "kombinasjonsklassene",
    "trondelag_model": "Trøndelagsmodellen",
    "settlement_plan": "bosettingsplanene",
}


def long_date(value: dt.date) -> str:
    """3. oktober 2026 (as the dashboard and the alert write it)."""
    return f"{value.day}. {MONTH[value.month - 1]} {value.year}"


@dataclass
class Overdue:
    source: str
    provider_kind: str
    provider_code: str
    provider_name: str
    municipality_code: str | None
    last_delivery: dt.date
    usual_gap_days: int

    def sentence(self) -> str:
        """«Tall fra Steinkjer mangler siden 3. oktober 2026 (introprogrammet, vanligvis hver 30. dag)»."""
        source = SOURCE_LABEL.get(self.source, self.source)
        who = source if self.provider_kind == "source" else self.provider_name
        return (
            f"Tall fra {who} mangler siden {long_date(self.last_delivery)} ({source}, "
            f"levert omtrent hver {self.usual_gap_days}. dag)"
        )


def overdue_deliveries(con: duckdb.DuckDBPyConnection, database: str | None = None) -> list[Overdue]:
    """The overdue providers of a build (empty for a warehouse built before issue 15);
    `database`: an attached one (`attach_published`) instead of the connection's own."""
    table = f"{database}.marts.delivery_freshness" if database else "marts.delivery_freshness"
    try:
        rows = con.execute(f"""
            select source, provider_kind, provider_code, provider_name, municipality_code, last_delivery,
                   usual_gap_days
            from {table} where overdue order by source, provider_name""").fetchall()
    except duckdb.CatalogException:
        return []
    return [Overdue(*r) for r in rows]


@dataclass
class FollowUpNews:
    """What a build brought to the follow-up list, in counts only."""

    build_id: str
    as_of: dt.date
    new_dropouts: int = 0
    new_crossed: int = 0
    # (code, name, drop-outs, crossed), most first
    by_municipality: list[tuple[str, str, int, int]] = field(default_factory=list)
    by_school: list[tuple[str, str, int, int]] = field(default_factory=list)
    overdue: list[Overdue] = field(default_factory=list)
    newly_overdue: int = 0  # overdue now, not in the build before: worth an alert of its own

    @property
    def anything_new(self) -> bool:
        return bool(self.new_dropouts or self.new_crossed or self.newly_overdue)

    def counts(self) -> dict:
        return {
            "new_dropouts": self.new_dropouts,
            "new_crossed": self.new_crossed,
            "newly_overdue": self.newly_overdue,
            "municipalities": [
                {"code": c, "name": n, "dropouts": d, "crossed": x} for c, n, d, x in self.by_municipality
            ],
            "schools": [{"orgnr": c, "name": n, "dropouts": d, "crossed": x} for c, n, d, x in self.by_school],
            "overdue": [
                {"source": o.source, "provider": o.provider_name, "last_delivery": o.last_delivery.isoformat()}
                for o in self.overdue
            ],
        }


PUBLISHED = "published"  # the published build, attached read-only beside a candidate


def attach_published(con: duckdb.DuckDBPyConnection, published: Path | None, table: str, key: tuple[str, ...]) -> bool:
    """Attach the published build read-only as `published` to a candidate's connection;
    whether it holds `table` with every column of `key` (False: no build yet, or one from
    before the table or a key column existed, which must not make everybody look new).

    Why attach instead of reading the published keys into Python before the build: the
    candidate starts as a copy of the published build and the load holds the warehouse
    lock, so the published file is unchanged until it is replaced; comparing in DuckDB
    (EXCEPT, then the new keys' rows) took ≈ 0.1 s at 300 000 persons, reading and
    comparing sets of tuples ≈ 2–3 s."""
    if published is None or not published.exists():
        return False
    quoted = str(published).replace("'", "''")
    con.execute(f"attach '{quoted}' as {PUBLISHED} (read_only)")
    schema, name = table.split(".")
    found = {
        row[0]
        for row in con.execute(
            "select column_name from duckdb_columns() where database_name = ? and schema_name = ? and table_name = ?",
            [PUBLISHED, schema, name],
        ).fetchall()
    }
    return bool(found) and set(key) <= found


def new_rows(table: str, key: tuple[str, ...], alias: str = "t") -> str:
    """SQL: the rows of the candidate's `table` (as `alias`) whose `key` the attached
    published build does not hold; keys compare as Python tuples did (NULL equals NULL),
    and a key's every row counts."""
    keys = ", ".join(key)
    on = " and ".join(f"{alias}.{k} is not distinct from n.{k}" for k in key)
    return f"""{table} {alias} semi join (
                   select {keys} from {table} except select {keys} from {PUBLISHED}.{table}
               ) n on {on}"""


def compare(candidate: Path, published: Path | None, build_id: str, as_of: dt.date) -> FollowUpNews:
    """Persons new on the candidate's follow-up list against the published build's
    (None, or no build yet: a first build announces nothing new), counted per
    municipality and school, and the candidate's overdue deliveries (those overdue since
    this build counted in `newly_overdue`)."""
    news = FollowUpNews(build_id, as_of)
    with duckdb.connect(str(candidate), read_only=True) as con:
        news.overdue = overdue_deliveries(con)
        if not attach_published(con, published, "marts.follow_up", NEW_KEY):
            return news
        overdue_before = {(o.source, o.provider_kind, o.provider_code) for o in overdue_deliveries(con, PUBLISHED)}
        news.newly_overdue = sum(
            (o.source, o.provider_kind, o.provider_code) not in overdue_before for o in news.overdue
        )
        rows = con.execute(f"""select f.reason, f.municipality_code, f.municipality_name, f.school_orgnr, f.school_name
                               from {new_rows("marts.follow_up", NEW_KEY, "f")}""").fetchall()
    municipalities: dict[str, list] = {}
    schools: dict[str, list] = {}
    for reason, municipality, m_name, school, s_name in rows:
        column = 2 if reason == "dropped_out" else 3
        if reason == "dropped_out":
            news.new_dropouts += 1
        else:
            news.new_crossed += 1
        m = municipalities.setdefault(municipality or "", [municipality or "", m_name or "ukjent kommune", 0, 0])
        m[column] += 1
        if school:
            s = schools.setdefault(school, [school, s_name or school, 0, 0])
            s[column] += 1
    order = lambda r: (-(r[2] + r[3]), r[1])  # noqa: E731
    news.by_municipality = [tuple(r) for r in sorted(municipalities.values(), key=order)]
    news.by_school = [tuple(r) for r in sorted(schools.values(), key=order)]
    return news


def record(candidate: Path, news: FollowUpNews, text: str) -> None:
    """The build's announcement in audit.follow_up_alert (inside the candidate)."""
    with duckdb.connect(str(candidate)) as con:
        con.execute(
            """insert into audit.follow_up_alert (build_id, created_at, as_of, new_dropouts, new_crossed,
                                                          overdue_deliveries, counts, message)
                       values (?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                news.build_id,
                dt.datetime.now(dt.UTC),
                news.as_of,
                news.new_dropouts,
                news.new_crossed,
                len(news.overdue),
                json.dumps(news.counts(), ensure_ascii=False),
                text,
            ],
        )
        con.execute("checkpoint")


def follow_up_link(dashboard_url: str | None, port: int) -> str:
    return f"{(dashboard_url or f'http://localhost:{port}').rstrip('/')}/{FOLLOW_UP_PATH}"


# The notification goes to a channel, not behind the dashboard's login, so it follows the
# dashboard's rule for counts: 1–4 persons are never shown as a number. The exact figures are
# on the follow-up list itself (for its role) and in audit.follow_up_alert (data staff).
SMALL = 5


def count_text(n: int) -> str:
    return "færre enn 5" if 0 < n < SMALL else str(n)


def _line(name: str, dropouts: int, crossed: int) -> str:
    parts = []
    if dropouts:
        parts.append(f"{count_text(dropouts)} nye frafall")
    if crossed:
        parts.append(f"{count_text(crossed)} nye over fristen")
    return f"- {name}: " + ", ".join(parts)


def message(news: FollowUpNews, link: str) -> str:
    """The notification's text (bokmål): counts per municipality and school (1–4 as "færre
    enn 5"), overdue deliveries, the link. Built from counts and reference names only. The
    totals are given only when no count below them is hidden: a total minus the counts shown
    would give the hidden one back."""
    parts = [(d, x) for _, _, d, x in news.by_municipality] + [(d, x) for _, _, d, x in news.by_school]
    hidden = any(0 < n < SMALL for pair in [*parts, (news.new_dropouts, news.new_crossed)] for n in pair)
    if hidden:
        headline = "Oppfølging: nye frafall eller nye personer over oppfølgingsfristen"
    else:
        headline = (
            f"Oppfølging: {news.new_dropouts} nye frafall og {news.new_crossed} nye personer over oppfølgingsfristen"
        )
    lines = [f"{headline} siden forrige bygg (data per {long_date(news.as_of)})."]
    if news.by_municipality:
        lines += ["", "Per kommune:"] + [_line(name, d, x) for _, name, d, x in news.by_municipality]
    if news.by_school:
        lines += ["", "Per skole:"] + [_line(name, d, x) for _, name, d, x in news.by_school]
    if news.overdue:
        lines += ["", "Leveranser som mangler (tallene kan se for lave ut):"]
        lines += [f"- {o.sentence()}" for o in news.overdue]
    lines += ["", f"Oppfølgingslisten: {link}"]
    return "\n".join(lines)


def emit(news: FollowUpNews, text: str) -> None:
    """One event per build that brought something new (the automation turns it into one
    notification)."""
    from prefect.events import emit_event

    emit_event(
        event=EVENT,
        resource={"prefect.resource.id": RESOURCE, "prefect.resource.name": "follow-up list"},
        payload={"text": text, "build_id": news.build_id, **news.counts()},
    )


def ensure_automation(webhook_url: str | None) -> str | None:
    """The notification block and the automation on the server PREFECT_API_URL points at;
    replaced if they exist (the address may have changed), removed when no webhook is
    configured. Returns the automation's id, or None."""
    from prefect.automations import Automation
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.client.orchestration import get_client
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import EventTrigger, Posture

    with get_client(sync_client=True) as client:
        for existing in client.read_automations_by_name(AUTOMATION_NAME):
            client.delete_automation(existing.id)
    if not webhook_url:
        return None
    block = CustomWebhookNotificationBlock(
        name=BLOCK_NAME,
        url=webhook_url,
        method="POST",
        json_data={"text": "{{body}}", "subject": "{{subject}}"},
        headers=None,
        cookies=None,
    )
    # Prefect's dual sync/async methods: called from sync code they return the value
    block_id = cast(UUID, block.save(BLOCK_NAME, overwrite=True))
    automation = Automation(
        name=AUTOMATION_NAME,
        description="Posts the follow-up alert of each load (counts per municipality and school, overdue "
        "deliveries, the link to the list) to the configured webhook.",
        trigger=EventTrigger(
            expect={EVENT},
            match={"prefect.resource.id": RESOURCE},
            posture=Posture.Reactive,
            threshold=1,
            within=dt.timedelta(0),
        ),
        actions=[
            SendNotification(
                block_document_id=block_id,
                subject="Kvalifiseringsløp: nye i oppfølgingslisten",
                body="{{ event.payload.text }}",
            )
        ],
    )
    return str(cast(Automation, automation.create()).id)
