"""The real dashboard in a real headless browser (Playwright driving Debian's Chromium).

Starts `pathways dashboard` on the county loaded by the flow, visits every page through
the sidebar, changes a filter, checks the figures shown against the warehouse, checks
that no page shows an exception, and saves a screenshot of every page to
tests/artifacts/.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
PAGES = ["Oversikt", "Forløp", "Kohort", "Frafall", "Ventetid", "Introprogram", "Datakvalitet"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dashboard_url(loaded):
    _, warehouse = loaded
    port = _free_port()
    env = dict(os.environ, PATHWAYS_WAREHOUSE=str(warehouse))
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "dashboard", "--warehouse", str(warehouse),
                             "--port", str(port), "--headless"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
        pytest.fail("the dashboard did not start within 60 s")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is installed by `python3 tasks.py test`"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        yield b
        b.close()


def _settle(page) -> None:
    """Wait until Streamlit has finished running the script: the "running" indicator has
    been absent at two checks 700 ms apart (it appears only after a short delay)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=30000)
    idle = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
    for _ in range(2):
        page.wait_for_timeout(700)
        page.wait_for_function(idle, timeout=60000)


def _metric_value(page, label: str):
    return page.locator('[data-testid="stMetric"]', has_text=label).first.locator('[data-testid="stMetricValue"]')


def _shows(number: int) -> re.Pattern:
    """A figure as the dashboard prints it (thousands separated by a space)."""
    return re.compile(r"^\s*" + r"\s?".join(f"{number:,}".split(",")) + r"\s*$")


def _on_stage_now(warehouse: Path, stage: str, sex: str | None = None) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        as_of = con.execute("select as_of from meta.build order by finished_at desc limit 1").fetchone()[0]
        return con.execute("""
            select count(distinct s.person_id) from marts.stage_spell s join core.person p using (person_id)
            where s.stage = ? and s.start_date <= ? and (s.end_date is null or s.end_date >= ?)
              and (? is null or p.sex = ?)""", [stage, as_of, as_of, sex, sex]).fetchone()[0]


def test_every_page_in_a_real_browser(dashboard_url, browser, loaded):
    from playwright.sync_api import expect

    _, warehouse = loaded
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(dashboard_url)
    page.get_by_role("button", name="Last ned Excel").last.wait_for(timeout=120000)  # the page's last element
    _settle(page)
    # Streamlit can drop a widget change made during the very first run of a fresh server;
    # a user opens the page and then chooses, so the test does the same after a reload.
    page.reload()
    page.get_by_role("button", name="Last ned Excel").last.wait_for(timeout=120000)
    page.wait_for_timeout(1000)
    _settle(page)

    expected = _on_stage_now(warehouse, "intro")
    assert expected >= 5
    expect(_metric_value(page, "Introprogram nå")).to_have_text(_shows(expected), timeout=60000)

    # change a shared filter: the figures follow, and the filter stays set on every page
    sex = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]', has_text="Kjønn")
    sex.locator("input").click()
    page.get_by_role("option", name="Kvinner", exact=True).click()
    expect(sex.locator("input")).to_have_value("Kvinner")
    women = _on_stage_now(warehouse, "intro", "K")
    assert 5 <= women < expected
    expect(_metric_value(page, "Introprogram nå")).to_have_text(_shows(women), timeout=60000)
    _settle(page)

    for title in PAGES:
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
        _settle(page)
        assert page.locator('[data-testid="stException"]').count() == 0, title
        assert page.locator("h1").first.inner_text().strip() != ""
        expect(sex.locator("input")).to_have_value("Kvinner")  # the filter stays set
        page.screenshot(path=str(ARTIFACTS / f"{title.lower().replace('ø', 'o')}.png"), full_page=True)
    assert not errors, errors
    page.close()
