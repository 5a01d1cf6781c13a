"""Login, roles and origin checks in a real browser against a real server.

Starts the mock identity provider (`oidc-provider-mock`, as the demo does) and
`pathways dashboard --config …` on the county loaded by the flow, then logs in through the
provider's form with Playwright (Debian's Chromium) as each role, and checks what each one
sees on every page and in every download. Also sends WebSocket upgrades and requests with a
foreign Origin or Host header straight to the server.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import polars as pl
import pytest

from dashboard import demo_idp, disclosure, labels, queries
from tests.helpers import free_port

CHROMIUM = "/usr/bin/chromium"
PAGES = ["Oversikt", "Forløp", "Kohort", "Frafall", "Ventetid", "Introprogram", "Om tallene"]
LEADER, ADVISER, DATA, FOLLOW_UP = (u["email"] for u in demo_idp.DEMO_USERS)


@pytest.fixture(scope="module")
def server(loaded, tmp_path_factory):
    """(dashboard url, port): the mock provider and the dashboard, both on 127.0.0.1."""
    _, warehouse = loaded
    work = tmp_path_factory.mktemp("login")
    idp_port, port = free_port(), free_port()
    idp = demo_idp.start(idp_port, log=work / "idp.log")
    config = demo_idp.write_config(work / "config", idp_port, port, demo=True)
    env = dict(os.environ, PATHWAYS_HOME=str(work / "home"))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "dashboard",
            "--warehouse",
            str(warehouse),
            "--config",
            str(config),
            "--port",
            str(port),
            "--headless",
        ],
        env=env,
        stdout=open(work / "dashboard.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://localhost:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        idp.kill()
        pytest.fail("the dashboard did not start within 60 s")
    yield url, port, work
    proc.terminate()
    proc.wait(timeout=20)
    idp.terminate()
    idp.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is installed by `python3 tasks.py test`"
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield b
        b.close()


def _settle(page) -> None:
    page.wait_for_selector('[data-testid="stApp"]', timeout=30000)
    idle = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
    for _ in range(2):
        page.wait_for_timeout(700)
        page.wait_for_function(idle, timeout=60000)


def _login(browser, url: str, sub: str, typed: bool = False):
    """A fresh browser session that logs in through the provider's form as `sub`."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.goto(url)
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_url("**/oauth2/authorize**", timeout=30000)  # the identity provider's form
    if typed:
        page.locator('input[name="sub"]').fill(sub)
        page.get_by_role("button", name="Authorize").click()
    else:
        page.get_by_role("button", name=sub, exact=True).click()  # a predefined user
    page.wait_for_url(f"{url}/**", timeout=30000)
    _settle(page)
    return context, page


def _nav_titles(page) -> list[str]:
    return [t.strip() for t in page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()]


def _go(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    _settle(page)


def _downloads(page) -> dict[str, pl.DataFrame]:
    """Every CSV the page offers, downloaded for real."""
    out = {}
    buttons = page.get_by_role("button", name="Last ned CSV")
    for i in range(buttons.count()):
        with page.expect_download(timeout=60000) as info:
            buttons.nth(i).click()
        download = info.value
        text = Path(download.path()).read_text("utf-8-sig")
        out[download.suggested_filename] = pl.read_csv(io.StringIO(text), infer_schema=False, separator=";")
    return out


def _expected(warehouse, scope, name, *args) -> pl.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return disclosure.publish(getattr(queries, name)(con, queries.Filters(scope=scope), *args))


def _shown(values) -> list[str]:
    return [disclosure.HIDDEN if v is None else str(v) for v in values]


def _no_follow_up_list(page, url: str) -> None:
    """Issue 15: no Oppfølging in the menu, and its address opens nothing of it."""
    assert "Oppfølging" not in _nav_titles(page)
    page.goto(f"{url}/oppfolging")
    _settle(page)
    assert page.locator("h1", has_text="Oppfølging").count() == 0
    assert page.get_by_text("Pseudonym").count() == 0


def test_adviser_sees_only_their_municipality_on_every_page_and_download(server, browser, loaded):
    url, _, _ = server
    _, warehouse = loaded
    context, page = _login(browser, url, ADVISER)
    assert "Datakvalitet" not in _nav_titles(page)
    place = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]', has_text="Kommune eller region")
    place.locator("input").click()
    options = [o.strip() for o in page.get_by_role("option").all_inner_texts()]
    assert options == ["Hele mitt område", "Steinkjer"]
    page.keyboard.press("Escape")

    mine = ("5006",)
    downloads: dict[str, pl.DataFrame] = {}
    for title in PAGES:
        _go(page, title)
        assert page.locator('[data-testid="stException"]').count() == 0, title
        assert page.get_by_text("DEMO", exact=False).count() >= 1, f"{title} is not marked as demo"
        downloads.update(_downloads(page))
    assert {
        "intro_resultat.csv",
        "oversikt_november.csv",
        "kohort_trakt.csv",
        "frafall_tid.csv",
        "ventetid_skole.csv",
        "forlop_strommer.csv",
    } <= set(downloads)

    # the only municipality in any download is Steinkjer
    assert set(downloads["intro_resultat.csv"]["Kommune"]) == {"Steinkjer"}
    # and the figures are Steinkjer's, not the county's
    nov_mine = _expected(warehouse, mine, "november_indicator")
    nov_county = _expected(warehouse, queries.COUNTY, "november_indicator")
    assert downloads["oversikt_november.csv"]["Personer"].to_list() == _shown(nov_mine["persons"])
    assert _shown(nov_mine["persons"]) != _shown(nov_county["persons"])
    schools_mine = _expected(warehouse, mine, "wait_by_school")
    assert set(downloads["ventetid_skole.csv"]["Skole"]) <= set(schools_mine["school"])
    # a typed address of the data-staff page does not open it
    page.goto(f"{url}/datakvalitet")
    _settle(page)
    assert page.locator("h1", has_text="Datakvalitet").count() == 0
    _no_follow_up_list(page, url)
    context.close()


def test_data_staff_see_datakvalitet_and_a_leader_the_county_without_it(server, browser, loaded):
    url, _, _ = server
    _, warehouse = loaded
    context, page = _login(browser, url, DATA)
    assert "Datakvalitet" in _nav_titles(page)
    _go(page, "Datakvalitet")
    assert page.locator("h1", has_text="Datakvalitet").count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    context.close()

    context, page = _login(browser, url, LEADER)
    assert "Datakvalitet" not in _nav_titles(page)
    _go(page, "Introprogram")
    municipalities = _downloads(page)["intro_resultat.csv"]["Kommune"].to_list()
    county = _expected(warehouse, queries.COUNTY, "intro_outcomes_by_municipality")
    assert set(municipalities) == set(county["municipality"]) and len(municipalities) > 10
    _no_follow_up_list(page, url)
    context.close()


def test_the_follow_up_list_is_for_its_role_and_scope_only_and_every_view_is_logged(server, browser, loaded):
    """Issue 15: the follow-up service for Steinkjer sees its list (pseudonyms of Steinkjer
    only) and downloads it; an adviser and a leader have no such page, not even by its
    address; the access log (under PATHWAYS_HOME, outside the warehouse) has the view and
    the download, and data staff read it on Datakvalitet."""
    url, _, work = server
    _, warehouse = loaded
    log = work / "home" / "access" / "follow_up.jsonl"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        steinkjer = {
            r[0]
            for r in con.execute("select person_id from marts.follow_up where municipality_code = '5006'").fetchall()
        }
        elsewhere = {
            r[0]
            for r in con.execute("select person_id from marts.follow_up where municipality_code <> '5006'").fetchall()
        } - steinkjer
    assert steinkjer and elsewhere

    context, page = _login(browser, url, FOLLOW_UP)
    assert "Oppfølging" in _nav_titles(page)
    _go(page, "Oppfølging")
    assert page.locator("h1", has_text="Oppfølging").count() == 1
    with page.expect_download(timeout=60000) as info:
        page.get_by_role("button", name="Last ned listen (CSV)").click()
    listed = pl.read_csv(io.StringIO(Path(info.value.path()).read_text("utf-8-sig")), separator=";", infer_schema=False)
    assert set(listed["Pseudonym"]) == steinkjer and set(listed["Kommune"]) == {"Steinkjer"}
    _settle(page)
    context.close()
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["user"], e["action"], e["scope"]) for e in entries] == [
        (FOLLOW_UP, "view", ["5006"]),
        (FOLLOW_UP, "download", ["5006"]),
    ]
    assert entries[1]["persons"] == len(steinkjer)

    # (advisers and leaders: in their own tests below, on the logins they already have)
    context, page = _login(browser, url, DATA)
    assert "Oppfølging" not in _nav_titles(page)
    _go(page, "Datakvalitet")
    assert page.get_by_text("Oppfølgingslisten: tilgangslogg").count() == 1
    logged = _downloads(page)["datakvalitet_tilgangslogg.csv"]  # the table itself is a canvas
    assert logged["Bruker"].to_list() == [FOLLOW_UP, FOLLOW_UP]
    assert logged["Handling"].to_list() == ["Nedlasting", "Visning"] and set(logged["Kommuner"]) == {"5006"}
    context.close()


def test_an_unknown_user_sees_only_a_polite_message(server, browser):
    url, _, _ = server
    context, page = _login(browser, url, "ukjent@example.no", typed=True)
    assert page.locator("h1", has_text="Ingen tilgang").count() == 1
    assert page.get_by_text("ikke fått tilgang").count() == 1
    assert _nav_titles(page) == []
    assert page.get_by_role("button", name="Last ned CSV").count() == 0
    assert page.locator('[data-testid="stMetric"]').count() == 0
    context.close()


def _upgrade(port: int, host: str, origin: str | None) -> int:
    """A WebSocket upgrade of Streamlit's stream: the HTTP status it gets (101 = accepted)."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET /_stcore/stream HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Protocol: streamlit",
    ]
    if origin:
        lines.append(f"Origin: {origin}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status = s.recv(4096).split(b"\r\n", 1)[0]
    return int(status.split()[1])


def test_a_foreign_origin_or_host_is_refused(server):
    url, port, _ = server
    assert _upgrade(port, f"localhost:{port}", f"http://localhost:{port}") == 101  # the app itself
    assert _upgrade(port, f"localhost:{port}", "http://evil.example") != 101  # cross-site page
    assert _upgrade(port, f"evil.example:{port}", f"http://evil.example:{port}") != 101  # DNS rebinding
    request = urllib.request.Request(f"{url}/_stcore/health", headers={"Origin": "http://evil.example"})
    with urllib.request.urlopen(request, timeout=5) as response:
        allowed = response.headers.get("Access-Control-Allow-Origin")
    assert allowed not in ("*", "http://evil.example")


def test_the_server_listens_on_localhost_only_and_keeps_its_secrets_private(server):
    _, port, work = server
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
    assert out.strip() and all(("127.0.0.1:" in line or "[::1]:" in line) for line in out.splitlines()), out
    secrets = work / "home" / "dashboard" / str(port) / ".streamlit" / "secrets.toml"
    assert secrets.stat().st_mode & 0o077 == 0
    assert "[auth]" in secrets.read_text()


ARTIFACTS = Path(__file__).parent / "artifacts"


def _shows(number: int) -> re.Pattern:
    """A figure as the dashboard prints it (thousands separated by a space)."""
    return re.compile(r"^\s*" + r"\s?".join(f"{number:,}".split(",")) + r"\s*$")


def _metric_value(page, label: str):
    return page.locator('[data-testid="stMetric"]', has_text=label).first.locator('[data-testid="stMetricValue"]')


def _on_stage_now(warehouse: Path, stage: str, sex: str | None = None) -> tuple[int, int | None]:
    """(true count from the marts, the published count the dashboard must show)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        as_of = queries.latest_build(con)["as_of"]
        true = con.execute(
            """
            select count(distinct s.person_id) from marts.stage_spell s join core.person p using (person_id)
            where s.stage = ? and s.start_date <= ? and (s.end_date is null or s.end_date >= ?)
              and (? is null or p.sex = ?)""",
            [stage, as_of, as_of, sex, sex],
        ).fetchall()[0][0]
        published = disclosure.publish(
            queries.persons_on_stage_now(con, queries.Filters(scope=queries.COUNTY, sex=sex), as_of)
        ).filter(pl.col("stage") == stage)
    return true, published["persons"][0]


def test_a_leader_walks_every_page_with_a_filter(server, browser, loaded):
    """Every page in a real browser after a real login: a filter change, the figures follow
    (the published, rounded value, within 4 of the truth), the filter stays set, no page
    shows an exception; a screenshot of every page goes to tests/artifacts/."""
    from playwright.sync_api import expect

    url, _, _ = server
    _, warehouse = loaded
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = _login(browser, url, LEADER)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    true, shown = _on_stage_now(warehouse, "intro")
    assert shown is not None and shown % 5 == 0 and abs(shown - true) <= 4
    expect(_metric_value(page, "Introprogram nå")).to_have_text(_shows(shown), timeout=60000)

    sex = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]', has_text="Kjønn")
    sex.locator("input").click()
    page.get_by_role("option", name="Kvinner", exact=True).click()
    expect(sex.locator("input")).to_have_value("Kvinner")
    true_women, women = _on_stage_now(warehouse, "intro", "K")
    assert women is not None and abs(women - true_women) <= 4 and true_women < true
    expect(_metric_value(page, "Introprogram nå")).to_have_text(_shows(women), timeout=60000)
    _settle(page)

    for title in PAGES:
        _go(page, title)
        assert page.locator('[data-testid="stException"]').count() == 0, title
        assert page.locator("h1").first.inner_text().strip() != ""
        expect(sex.locator("input")).to_have_value("Kvinner")  # the filter stays set
        page.screenshot(
            path=str(ARTIFACTS / f"{title.lower().replace('ø', 'o').replace(' ', '_')}.png"), full_page=True
        )
    assert not errors, errors
    context.close()


# -- issue 11: a dashboard people can read ------------------------------------------------------
ALL_PAGES = [*PAGES, "Datakvalitet", "Revisjonsrapport"]
GALLERY = Path(__file__).parent / "artifacts" / "gallery"  # copied to docs/img for the README
# Columns that quote file names, paths or the pipeline's own (English) technical messages.
TECHNICAL_COLUMNS = {"Fil", "Sti", "Årsak", "Teknisk melding (engelsk)", "Bygg", "Kolonne"}
_FORBIDDEN = re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in labels.FORBIDDEN_WORDS) + r")(?![\w-])")
_NOISE = [
    re.compile(p)
    for p in (r"\d\.\d{5,}", r"\d,\d{3}\.\d", r"\b\d{4}-\d{2}-\d{2}\b", r"\d{2}:\d{2}:\d{2}", r"\bnan\b|\bNone\b")
]


def _text_problems(where: str, text: str) -> list[str]:
    problems = [f"{where}: raw code or English word {m.group(0)!r}" for m in _FORBIDDEN.finditer(text)]
    problems += [f"{where}: {m.group(0)!r}" for p in _NOISE for m in p.finditer(text)]
    return problems


def _download_problems(name: str, frame: pl.DataFrame) -> list[str]:
    problems = []
    for column in frame.columns:
        if column in TECHNICAL_COLUMNS:
            continue
        problems += _text_problems(f"{name}[{column}] header", column)
        for value in frame[column].drop_nulls().unique().to_list():
            problems += _text_problems(f"{name}[{column}]", value)
    return problems


def _choose(page, label: str, option: str) -> None:
    box = page.locator(
        '[data-testid="stSidebar"] [data-testid="stSelectbox"], '
        '[data-testid="stSidebar"] [data-testid="stMultiSelect"]',
        has_text=label,
    ).first
    box.locator("input").click()
    page.keyboard.type(option)
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")
    _settle(page)


def _empty_charts(page) -> int:
    """Plotly charts on the page with no data point (the 'axes from −1 to 1' chart)."""
    return page.evaluate("""() => {
        const n = v => !v ? 0 : (v.length ?? (v.bdata ? v.bdata.length : 0));   // lists or typed arrays
        return [...document.querySelectorAll('.js-plotly-plot')].filter(gd =>
            !(gd.data || []).some(t => n(t.x) || n(t.y) || (t.link && n(t.link.value)))).length; }""")


def _walk(
    page, label: str, shots: bool, titles: list[str] = ALL_PAGES
) -> tuple[dict[str, pl.DataFrame], dict[str, str], list[str]]:
    """Every page: (downloads, metrics by page/label, problems); the pages' texts are
    kept under metrics["text/<page>"]."""
    downloads: dict[str, pl.DataFrame] = {}
    metrics: dict[str, str] = {}
    problems: list[str] = []
    for title in titles:
        _go(page, title)
        assert page.locator('[data-testid="stException"]').count() == 0, (label, title)
        text = page.locator('[data-testid="stMain"]').inner_text()
        metrics[f"text/{title}"] = text
        if title != "Revisjonsrapport":
            problems += _text_problems(f"{label}/{title}", text)
        if _empty_charts(page):
            problems.append(f"{label}/{title}: an empty chart")
        for m in page.locator('[data-testid="stMetric"]').all():
            metrics[f"{title}/{m.locator('[data-testid=stMetricLabel]').inner_text().strip()}"] = (
                m.locator('[data-testid="stMetricValue"]').inner_text().strip()
            )
        if shots:  # before the downloads scroll the page
            GALLERY.mkdir(parents=True, exist_ok=True)
            slug = title.lower().replace("ø", "o").replace(" ", "-")
            page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]')?.scrollTo(0, 0)")
            page.wait_for_timeout(300)
            page.screenshot(path=str(GALLERY / f"dashboard-{slug}.png"))
        downloads.update(_downloads(page))
    for name, frame in downloads.items():
        problems += _download_problems(f"{label}/{name}", frame)
    return downloads, metrics, problems


def _row(frame: pl.DataFrame, key: str, value: str, column: str = "Personer") -> str:
    return frame.filter(pl.col(key) == value)[column][0]


def test_every_page_reads_in_norwegian_and_agrees_with_the_others(server, browser, loaded):
    """Issue 11, in a real browser after a real login: every page for the whole county and
    for one small municipality and cohort; no raw code, English word, float noise or ISO
    date/time on a page or in a download; the same quantity is the same figure on every
    page; no empty chart; the audit report opens from the dashboard's link with its styles.
    Screenshots of every page (whole county) go to tests/artifacts/gallery/ (the README's
    gallery in docs/img is copied from there)."""
    url, _, _ = server
    _, warehouse = loaded
    context, page = _login(browser, url, DATA)
    page.set_viewport_size({"width": 1400, "height": 1800})  # the gallery's screenshots
    _settle(page)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    county, metrics, problems = _walk(page, "fylket", shots=True)

    # the same quantity, the same figure
    assert _row(county["forlop_trinn.csv"], "Trinn", "Bosetting") == _row(
        county["kohort_trakt.csv"], "Trinn", "Bosetting"
    )
    assert int(_row(county["forlop_trinn.csv"], "Trinn", "Ukjent bosetting")) >= 5
    assert county["oversikt_november.csv"].equals(county["intro_november.csv"])
    assert (
        metrics["Oversikt/Personer som venter på skoleplass"]
        == metrics["Ventetid/Personer som venter på skoleplass nå"]
    )
    shares = [int(v) for v in county["kohort_trakt.csv"]["Andel av bosatte (%)"].to_list() if v.isdigit()]
    assert shares and max(shares) <= 100
    assert set(county["frafall_arsak.csv"].columns) >= {"Helse", "Annet"}

    # the audit report opens from Datakvalitet's link, styled by the dashboard's own stylesheet
    _go(page, "Datakvalitet")
    page.get_by_role("link", name="Åpne revisjonsrapporten").click()
    _settle(page)
    assert page.locator("h1", has_text="Revisjonsrapport").count() == 1
    frame = page.frame_locator("iframe").first
    frame.locator("table").first.wait_for(timeout=30000)
    collapse = frame.locator("table").first.evaluate("t => getComputedStyle(t).borderCollapse")
    external = frame.locator("body").evaluate(
        '() => document.querySelectorAll(\'link[href^="http"], script[src^="http"]\').length'
    )
    assert collapse == "collapse" and external == 0

    # one small municipality and one cohort: sentences instead of empty charts, the same rules
    with duckdb.connect(str(warehouse), read_only=True) as con:
        name, year = con.execute("""
            with per as (
                select m.municipality_name as name, year(p.settlement_date) as y, count(*) as n
                from core.person p
                join reference.municipality m on m.municipality_code = p.settlement_municipality_code
                where p.settlement_date is not null group by all),
            total as (select name, sum(n) as t from per group by 1)
            select name, y from per join total using (name) where t >= 5
            order by t, n desc, name, y limit 1""").fetchone()
    _go(page, "Oversikt")
    _choose(page, "Kommune eller region", name)
    _choose(page, "Bosettingskull", str(year))
    # (Datakvalitet and Revisjonsrapport do not depend on the filters)
    small, small_metrics, small_problems = _walk(page, f"{name} {year}", shots=False, titles=PAGES)
    problems += small_problems
    assert any("For få personer" in v for k, v in small_metrics.items() if k.startswith("text/"))
    assert small["forlop_trinn.csv"]["Personer"].to_list() != county["forlop_trinn.csv"]["Personer"].to_list()
    if (
        "kohort_trakt.csv" in small
        and "Bosetting" in small["kohort_trakt.csv"]["Trinn"].to_list()
        and "Bosetting" in small["forlop_trinn.csv"]["Trinn"].to_list()
    ):
        assert _row(small["forlop_trinn.csv"], "Trinn", "Bosetting") == _row(
            small["kohort_trakt.csv"], "Trinn", "Bosetting"
        )
    assert not problems, problems[:20]
    assert not errors, errors
    context.close()
