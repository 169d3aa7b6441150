"""A real browser drives the console in the local cloud: the distribution's headless Chromium, through its
chromedriver (Selenium). What an analyst does: open the queue (API Gateway's 401 page sends the browser to sign
in and back), sign in, open the top case from the keyboard, decide it, see the queue change, follow the link of
an alert e-mail. Screenshots go to build/console/screenshots/; the page weight and time to first render of each
page (several loads, the median) to build/console/measurements.json: printed, never asserted on (no timing
assertions: a busy machine is slower, not wrong).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import ROOT, require
from tests.console.conftest import emails
from tests.console.flows import alerted_case
from tools._cli import BUILD

pytestmark = [pytest.mark.e2e, pytest.mark.terraform, pytest.mark.slow]

SHOTS = BUILD / "console" / "screenshots"
MEASUREMENTS = BUILD / "console" / "measurements.json"
LOADS = 5  # loads per page measured; the median is reported
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ICON = ROOT / "lambdas" / "console_web" / "static" / "favicon.svg"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    browser = shutil.which("chromium") or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    driver = shutil.which("chromedriver") or (CHROMEDRIVER if os.path.exists(CHROMEDRIVER) else None)
    require(
        browser is not None and driver is not None,
        "Chromium and chromedriver are not installed (Debian: apt-get install chromium chromium-driver)",
    )
    selenium = pytest.importorskip("selenium", reason="selenium is not installed: make venv (the test extra pins it)")
    del selenium
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1400"):
        options.add_argument(argument)
    session = webdriver.Chrome(service=Service(driver), options=options)
    session.set_page_load_timeout(120)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield session
    finally:
        session.quit()


def wait_until(driver: Any, condition: Any, timeout_s: float = 60) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout_s).until(condition)


def press(driver: Any, key: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(key).perform()


def sign_in(driver: Any, deployment: SimpleNamespace, *, landing: str) -> None:
    """On the sign-in page: type the demo analyst's login and wait for ``landing`` (a path)."""
    from selenium.webdriver.common.by import By

    wait_until(driver, lambda d: "/login" in d.current_url and d.find_elements(By.ID, "username"))
    username, password = deployment.analyst
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.save_screenshot(str(SHOTS / "01-sign-in.png"))
    driver.find_element(By.CSS_SELECTOR, "button[type=submit].primary").click()
    wait_until(driver, lambda d: d.current_url.split("?")[0].endswith(landing))


def signed_out(driver: Any, deployment: SimpleNamespace) -> None:
    """No cookie left: the refresh token's is scoped to the sign-in path, so it is cleared from there."""
    driver.get(f"{deployment.console}/login?signed_out=1")
    driver.delete_all_cookies()


def rows(driver: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    return [link.text for link in driver.find_elements(By.CSS_SELECTOR, "a.case-link")]


def test_an_analyst_signs_in_opens_the_top_case_decides_it_and_follows_an_alert_link(deployment, chromium):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    decided_id = alerted_case(deployment, "browser")
    linked_id = alerted_case(deployment, "browser-link")
    driver = chromium
    signed_out(driver, deployment)

    driver.get(f"{deployment.console}/cases")  # no session: API Gateway's 401 page sends the browser to sign in
    sign_in(driver, deployment, landing="/cases")
    queue = rows(driver)
    assert decided_id in queue and linked_id in queue
    driver.save_screenshot(str(SHOTS / "02-queue.png"))

    top = queue[0]
    press(driver, Keys.ENTER)  # the first case has the focus: Enter opens it
    wait_until(driver, lambda d: d.current_url.endswith(f"/cases/{top}"))
    assert driver.find_element(By.TAG_NAME, "h1").text
    driver.save_screenshot(str(SHOTS / "03-case.png"))

    press(driver, "f")  # decide: fraud
    wait_until(driver, lambda d: "done=" in d.current_url)
    notice = driver.find_element(By.CSS_SELECTOR, "p.notice").text
    assert top in notice and top not in rows(driver)  # the queue changed
    driver.save_screenshot(str(SHOTS / "04-queue-after-decision.png"))

    # An alert e-mail's link, signed out: sign in, then the case the e-mail named (the link survives the sign-in).
    target = linked_id if linked_id != top else decided_id
    [email] = [text for _, text in emails(deployment) if f"Alert id     {target}" in text]
    link = re.search(r"^Case: (\S+)$", email, re.M).group(1)
    driver.find_element(By.CSS_SELECTOR, "form[action$='/logout'] button").click()
    wait_until(driver, lambda d: "signed_out" in d.current_url)
    driver.get(deployment.cloud.local_url(link))
    sign_in(driver, deployment, landing=f"/cases/{target}")
    assert target in driver.find_element(By.CSS_SELECTOR, "p.crumbs").text
    driver.save_screenshot(str(SHOTS / "05-case-from-email.png"))

    for name, path in (("06-lists", "/lists"), ("07-quality", "/quality")):
        driver.get(f"{deployment.console}{path}")
        driver.save_screenshot(str(SHOTS / f"{name}.png"))
    assert sorted(p.name for p in SHOTS.glob("*.png")) == [
        "01-sign-in.png",
        "02-queue.png",
        "03-case.png",
        "04-queue-after-decision.png",
        "05-case-from-email.png",
        "06-lists.png",
        "07-quality.png",
    ]


MEASURE = """
const nav = performance.getEntriesByType('navigation')[0];
const paint = performance.getEntriesByName('first-contentful-paint')[0];
const resources = performance.getEntriesByType('resource');
return {
  document_bytes: nav.encodedBodySize,
  body_bytes: nav.encodedBodySize + resources.reduce((s, r) => s + r.encodedBodySize, 0),
  resources: resources.map(r => r.name.split('/').pop().split('?')[0]),
  first_contentful_paint_ms: paint ? paint.startTime : null,
  dom_content_loaded_ms: nav.domContentLoadedEventEnd,
  response_end_ms: nav.responseEnd,
};
"""


def test_page_weight_and_time_to_first_render_are_measured(deployment, chromium):
    """Each page loaded ``LOADS`` times with the browser cache off (every byte counted, as on a first visit)."""
    driver = chromium
    case_id = alerted_case(deployment, "measured")
    signed_out(driver, deployment)
    driver.get(f"{deployment.console}/login")
    sign_in(driver, deployment, landing="/cases")
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    pages = {"queue": "/cases", "case": f"/cases/{case_id}", "lists": "/lists", "quality": "/quality"}
    report: dict[str, Any] = {}
    try:
        for name, path in pages.items():
            loads = []
            for _ in range(LOADS):
                driver.get(f"{deployment.console}{path}")
                # The paint entry can come a moment after the load event the driver waits for.
                loads.append(
                    wait_until(
                        driver, lambda d: (m := d.execute_script(MEASURE))["first_contentful_paint_ms"] and m, 30
                    )
                )
            report[name] = {
                # The page, its style sheet and script as served (uncompressed), and the icon (which Resource
                # Timing does not list): what a first visit downloads.
                "page_weight_bytes": loads[-1]["body_bytes"] + ICON.stat().st_size,
                "document_bytes": loads[-1]["document_bytes"],
                "files": ["page", *loads[-1]["resources"]],
                "first_contentful_paint_ms_median": statistics.median(x["first_contentful_paint_ms"] for x in loads),
                "response_end_ms_median": statistics.median(x["response_end_ms"] for x in loads),
                "loads": LOADS,
            }
    finally:
        driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": False})
    MEASUREMENTS.parent.mkdir(parents=True, exist_ok=True)
    MEASUREMENTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    for figures in report.values():
        # The page, its style sheet and its script (and the icon, which Resource Timing does not list): nothing
        # else, nothing from another site.
        assert sorted(figures["files"]) == ["console.css", "console.js", "page"]
        assert figures["page_weight_bytes"] > figures["document_bytes"] > 0
        assert figures["first_contentful_paint_ms_median"] is not None
