"""Datakvalitet: for data staff — the last loads (refused and crashed ones too), files newest
first, from a refused file to its quarantined rows and what to do, and the audit report."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from dashboard import datadocs, labels, ui

when = labels.moment


def _moments(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    return frame.with_columns(pl.Series(c, [when(v) for v in frame[c].to_list()], dtype=pl.String) for c in columns)


def _deliveries(role: str) -> None:
    """Issue 15: every provider's last delivery and usual rhythm, the overdue ones first."""
    from flows.alerts import Overdue

    st.subheader("Leveranser og leveringsrytme")
    st.caption(
        "For hver kilde, og for hver kommune (introprogrammet) og skole (kombinasjonsklasser) som har levert "
        "før: siste levering og vanlig avstand mellom leveringene, lært av fillisten. En levering er "
        "forsinket når det har gått mer enn vanlig avstand pluss en halv avstand (minst 7 dager). Med bare "
        "én levering er rytmen ukjent, og den flagges ikke."
    )
    fresh = ui.query("delivery_freshness", role)
    if fresh.height == 0:
        st.info("Ingen leveranser registrert ennå.")
        return
    late = fresh.filter(pl.col("overdue"))
    for row in late.iter_rows(named=True):
        st.warning(
            Overdue(
                row["source"],
                row["provider_kind"],
                row["provider_code"],
                row["provider_name"],
                None,
                row["last_delivery"],
                row["usual_gap_days"],
            ).sentence()
            + ".",
            icon="⚠️",
        )
    if late.height == 0:
        st.success("Ingen leveranser er forsinket etter sin vanlige rytme.")
    shown = fresh.with_columns(
        pl.col("source").replace_strict(labels.SOURCE, default=pl.col("source")),
        pl.when(pl.col("overdue"))
        .then(pl.lit("Forsinket"))
        .when(pl.col("usual_gap_days").is_null())
        .then(pl.lit("Ukjent rytme (én levering)"))
        .otherwise(pl.lit("I rute"))
        .alias("state"),
        pl.col("provider_name").replace_strict(labels.SOURCE, default=pl.col("provider_name")),
    ).select("source", "provider_name", "deliveries", "last_delivery", "usual_gap_days", "expected_by", "state")
    ui.table(
        shown,
        "datakvalitet_leveranser",
        [],
        {
            "source": "Kilde",
            "provider_name": "Leverandør",
            "deliveries": "Leveringer",
            "last_delivery": "Siste levering",
            "usual_gap_days": "Vanlig avstand (dager)",
            "expected_by": "Neste ventet",
            "state": "Status",
        },
    )


ACTION = {"view": "Visning", "download": "Nedlasting", "export": "Eksport (pathways export)"}


def _access_log() -> None:
    """Issue 15: who has seen or downloaded the follow-up list (a file under PATHWAYS_HOME)."""
    from dashboard import access_log

    st.subheader("Oppfølgingslisten: tilgangslogg")
    st.caption(
        "Hver visning og nedlasting av oppfølgingslisten, nyeste først: hvem, når og hvilke kommuner. "
        "Loggen ligger utenfor datavarehuset og blir bare lagt til i."
    )
    entries = access_log.read(500)
    if not entries:
        st.info("Ingen har sett oppfølgingslisten ennå.")
        return
    ui.table(
        pl.DataFrame(
            {
                "Tidspunkt": [when(e.get("at")) for e in entries],
                "Bruker": [str(e.get("user", "")) for e in entries],
                "Handling": [ACTION.get(str(e.get("action")), str(e.get("action"))) for e in entries],
                "Kommuner": [", ".join(e.get("scope") or []) for e in entries],
                "Antall på listen": [e.get("persons") for e in entries],
            }
        ),
        "datakvalitet_tilgangslogg",
        [],
    )


def render(filters) -> None:
    role = st.session_state["access"].role
    if role != "data_staff":  # the page is not in this user's menu; a typed address ends here
        st.error("Denne siden er bare for datateamet.")
        st.stop()
    st.title("Datakvalitet")
    st.caption("Tallene her gjelder filer og rader, ikke personer, og er derfor ikke avrundet.")
    warehouse = ui.warehouse_path()

    st.subheader("Siste innlastinger")
    st.caption(
        "Hvert forsøk på å laste inn, også de som ble stoppet av kontrollene eller av en feil (da er det "
        "forrige datavarehuset fortsatt i bruk)."
    )
    runs = datadocs.load_runs(warehouse, 20)
    if runs:
        frame = pl.DataFrame(
            [
                {
                    "Tidspunkt": when(r.get("at")),
                    "Resultat": labels.run_outcome(r),
                    "Nye filer": r.get("files_new"),
                    "Lastet inn": r.get("files_loaded"),
                    "Avvist": r.get("files_refused"),
                    "Rader lastet": r.get("rows_loaded"),
                    "Rader avvist": r.get("rows_quarantined"),
                    "Årsak": r.get("message") or "",
                }
                for r in runs
            ]
        )
        last = runs[0]
        if last.get("outcome") == "crashed" and last.get("published"):
            st.warning(
                "Siste innlasting publiserte en ny versjon, men stoppet med feil etterpå (for eksempel "
                "varselet til oppfølgingstjenesten). Se årsaken i tabellen og driftsveiledningen (docs/runbook.md)."
            )
        elif last.get("outcome") in ("audit_failed", "crashed"):
            st.error(
                f"Siste innlasting ble ikke publisert: {labels.RUN_OUTCOME[last['outcome']].lower()}. "
                "Se årsaken i tabellen og driftsveiledningen (docs/runbook.md)."
            )
        ui.table(frame, "datakvalitet_innlastinger", [])
    else:
        st.info("Ingen innlastinger er registrert ved siden av datavarehuset (load_runs.jsonl).")
    failed = datadocs.failed_candidates(warehouse)
    if failed:
        st.markdown("**Avviste bygg som er tatt vare på** (i mappen `failed/` ved siden av datavarehuset):")
        ui.table(
            pl.DataFrame(
                {
                    "Fil": [p.name for p in failed],
                    "Lagt til side": [when(dt.datetime.fromtimestamp(p.stat().st_mtime, dt.UTC)) for p in failed],
                }
            ),
            "datakvalitet_avviste_bygg",
            [],
        )

    _deliveries(role)

    st.subheader("Filer, nyeste først")
    files = ui.query("files_newest_first", role)
    status_choice = st.selectbox(
        "Vis", ["Alle filer", "Bare avviste filer", "Filer med avviste rader"], key="dq_status"
    )
    if status_choice == "Bare avviste filer":
        files = files.filter(pl.col("status").is_in(["quarantined", "privacy_incident"]))
    elif status_choice == "Filer med avviste rader":
        files = files.filter(pl.col("rows_quarantined") > 0)
    shown = (
        _moments(files, "first_seen_at")
        .with_columns(
            pl.col("source").replace_strict(labels.SOURCE, default=pl.col("source")),
            pl.col("status").replace_strict(labels.FILE_STATUS, default=pl.col("status")),
        )
        .drop("message")
    )
    ui.table(
        shown,
        "datakvalitet_filer",
        [],
        {
            "first_seen_at": "Mottatt",
            "file_name": "Fil",
            "source": "Kilde",
            "status": "Status",
            "rows_read": "Rader lest",
            "rows_loaded": "Lastet inn",
            "rows_quarantined": "Avvist",
            "rows_duplicate": "Dobbelt",
        },
    )

    st.subheader("Fra fil til avviste rader")
    candidates = files.filter(
        pl.col("status").is_in(["quarantined", "privacy_incident"]) | (pl.col("rows_quarantined") > 0)
    )["file_name"].to_list()
    if not candidates:
        st.success("Ingen filer med avviste rader i utvalget.")
    else:
        chosen = st.selectbox("Velg fil (nyeste først)", candidates, key="dq_file")
        info = files.filter(pl.col("file_name") == chosen).row(0, named=True)
        st.markdown(
            f"**{chosen}** · {labels.label(labels.SOURCE, info['source'])} · "
            f"{labels.label(labels.FILE_STATUS, info['status'])} · mottatt {when(info['first_seen_at'])} · "
            f"{labels.integer(info['rows_quarantined'] or 0)} av {labels.integer(info['rows_read'] or 0)} "
            "rader avvist"
        )
        rows = ui.query("quarantined_rows", role, chosen)
        if rows.height:
            first_rule = rows["rule"][0]
            if info["status"] in ("quarantined", "privacy_incident"):
                st.warning(
                    f"Hele filen er avvist: {labels.rule_label(first_rule).lower()}. "
                    f"Hva du gjør: {labels.rule_action(first_rule)}"
                )
            table = rows.with_columns(
                pl.col("rule").map_elements(labels.rule_label, return_dtype=pl.String).alias("what"),
                pl.col("rule").map_elements(labels.rule_action, return_dtype=pl.String).alias("action"),
            )
            ui.table(
                table.select("row_number", "column_name", "what", "action", "message"),
                "datakvalitet_avviste_rader",
                [],
                {
                    "row_number": "Rad",
                    "column_name": "Kolonne",
                    "what": "Feil",
                    "action": "Hva du gjør",
                    "message": "Teknisk melding (engelsk)",
                },
                note="Raden er nummerert slik den står i filen. Verdiene i raden vises aldri.",
            )
        else:
            st.info("Filen har ingen avviste rader registrert.")
        if info.get("message"):
            with st.expander("Teknisk melding for filen (engelsk)"):
                st.code(info["message"], language=None)

    st.subheader("Avviste rader per regel")
    st.caption("Rader som ble avvist i filer som ellers ble lastet inn.")
    rules = ui.query("quarantine_by_rule", role)
    rules = rules.with_columns(
        pl.col("source").replace_strict(labels.SOURCE, default=pl.col("source")),
        pl.col("rule").map_elements(labels.rule_action, return_dtype=pl.String).alias("action"),
        pl.col("rule").map_elements(labels.rule_label, return_dtype=pl.String),
    )
    ui.table(
        rules,
        "datakvalitet_regler",
        [],
        {"source": "Kilde", "rule": "Feil", "rows": "Rader", "files": "Filer", "action": "Hva du gjør"},
    )

    st.subheader("Annet i mottaksområdet ved siste innlasting")
    st.caption(
        "Lenker og spesialfiler (avvist), filer som fortsatt skrives (venter til neste innlasting), "
        "og mapper eller filer utenfor kildemappene (ikke lest)."
    )
    anomalies = ui.query("landing_anomalies", role)
    if anomalies.height:
        anomalies = anomalies.with_columns(
            pl.col("kind").replace_strict(labels.LANDING_KIND, default=pl.col("kind")),
            pl.col("action").replace_strict(labels.LANDING_ACTION, default=pl.col("action")),
        )
        ui.table(
            anomalies,
            "datakvalitet_mottak",
            [],
            {"path": "Sti", "kind": "Hva", "action": "Behandling", "message": "Teknisk melding (engelsk)"},
        )
    else:
        st.success("Ingenting annet enn kildefiler i mottaksområdet.")

    _access_log()

    st.subheader("Revisjonsrapport")
    st.caption("Kontrollene (Great Expectations) av hvert bygg, med rapporten for hver tabell.")
    st.page_link("pages/revisjonsrapport.py", label="Åpne revisjonsrapporten", icon="📋")


if __name__ == "__main__":  # run by Streamlit as a page of dashboard/app.py
    render(st.session_state["filters"])
