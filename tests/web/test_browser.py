"""The pages in a real browser (headless Chromium driven by Selenium, one browser for the module): log in,
add a user, retry a queue entry, change a password and use it over IMAP, make an app password and use
it over POP3, download the .mobileconfig; every page renders, with screenshots in a temporary folder."""

from __future__ import annotations

import asyncio
import imaplib
import plistlib
import poplib
import shutil
import smtplib
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from tests.web.conftest import ADMIN, ADMIN_PASSWORD, WebServer

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(CHROMEDRIVER is None or shutil.which("chromium") is None,
                                reason="needs Debian's chromium and chromium-driver")
PAGES = ("/admin", "/admin/domains", "/admin/domains/example.com", "/admin/users", "/admin/aliases",
         "/admin/queue", "/admin/reports", "/admin/deliveries", "/account")
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def shots() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="pillarbox-screens-"))
    yield directory
    print(f"screenshots in {directory}")


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or ""
    profile = tempfile.mkdtemp(prefix="pillarbox-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                 "--window-size=1280,1000"):
        options.add_argument(flag)
    options.accept_insecure_certs = True  # the server's own self-signed certificate: passwords go over https
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    driver.implicitly_wait(10)  # a form post navigates: wait for the next page's elements
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _insecure() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def log_in(browser: webdriver.Chrome, web: WebServer, address: str, password: str) -> None:
    browser.delete_all_cookies()
    browser.get(web.tls_base + "/login")
    browser.find_element(By.NAME, "address").send_keys(address)
    browser.find_element(By.NAME, "password").send_keys(password)
    browser.find_element(By.ID, "login").click()
    # the click only starts the form's navigation: a browser.get() before it ends would cancel it (no cookie)
    WebDriverWait(browser, 30).until(lambda b: urlsplit(b.current_url).path != "/login")


def submit(browser: webdriver.Chrome, form_id: str, **fields: str) -> None:
    form = browser.find_element(By.ID, form_id)
    for name, value in fields.items():
        element = form.find_element(By.NAME, name)
        element.clear()
        element.send_keys(value)
    form.find_element(By.TAG_NAME, "button").click()


def note(browser: webdriver.Chrome) -> str:
    return browser.find_element(By.ID, "note").text


def test_every_page_renders(browser: webdriver.Chrome, web: WebServer, shots: Path) -> None:
    _queue_hostile_mail(web)
    _seed_reports_and_trends(web)
    log_in(browser, web, ADMIN, ADMIN_PASSWORD)
    assert browser.current_url.endswith("/admin")
    for path in PAGES:
        browser.get(web.tls_base + path)
        assert "Internal" not in browser.page_source and "Sorry" not in browser.title, path
        browser.save_screenshot(str(shots / (path.strip("/").replace("/", "_") + ".png")))


def test_add_a_user(browser: webdriver.Chrome, web: WebServer, shots: Path) -> None:
    log_in(browser, web, ADMIN, ADMIN_PASSWORD)
    browser.get(web.tls_base + "/admin/users")
    submit(browser, "add-user", address="erin@example.com", password="erin-pass-123")
    assert note(browser) == "added erin@example.com"
    assert "erin@example.com" in web.cli("user", "list")
    browser.save_screenshot(str(shots / "user_added.png"))


def test_retry_a_queue_entry(browser: webdriver.Chrome, web: WebServer, shots: Path) -> None:
    _queue_hostile_mail(web)
    log_in(browser, web, ADMIN, ADMIN_PASSWORD)
    browser.get(web.tls_base + "/admin/queue")
    assert HOSTILE not in browser.execute_script("return document.title")
    browser.find_element(By.XPATH, "//table[@id='queue']//button[text()='Retry']").click()
    assert note(browser) == "retry: done"
    entry = browser.find_element(By.XPATH, "//table[@id='queue']//a").get_attribute("href")
    browser.get(entry)
    assert browser.find_element(By.ID, "subject").text == HOSTILE  # shown as text, never run
    browser.save_screenshot(str(shots / "queue_entry.png"))


def test_change_password_then_imap(browser: webdriver.Chrome, web: WebServer) -> None:
    web.cli("user", "add", "fred@example.com", "--password-stdin", input=b"fred-pass-123\n")
    log_in(browser, web, "fred@example.com", "fred-pass-123")
    assert browser.current_url.endswith("/account")
    submit(browser, "change-password", current="fred-pass-123", password="fred-new-456")
    assert note(browser) == "password changed"
    imap = imaplib.IMAP4("127.0.0.1", web.server.port("imap"), timeout=30)
    imap.starttls(_insecure())
    assert imap.login("fred@example.com", "fred-new-456")[0] == "OK"
    imap.logout()


def test_app_password_over_pop3_and_mobileconfig(browser: webdriver.Chrome, web: WebServer, shots: Path) -> None:
    web.cli("user", "add", "gina@example.com", "--password-stdin", input=b"gina-pass-123\n")
    log_in(browser, web, "gina@example.com", "gina-pass-123")
    submit(browser, "new-app-password", name="laptop")
    password = note(browser).rpartition(": ")[2]
    browser.save_screenshot(str(shots / "app_password.png"))
    pop = poplib.POP3("127.0.0.1", web.server.port("pop3"), timeout=30)
    pop.stls(context=_insecure())
    pop.user("gina@example.com")
    assert pop.pass_(password).startswith(b"+OK")
    pop.quit()
    href = browser.find_element(By.ID, "mobileconfig").get_attribute("href")
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    answer = httpx.get(href, cookies=cookies, verify=False)
    assert answer.headers["content-type"] == "application/x-apple-aspen-config"
    profile = plistlib.loads(answer.content)
    mail = profile["PayloadContent"][0]
    assert mail["EmailAddress"] == "gina@example.com"
    assert mail["IncomingMailServerPortNumber"] == web.server.port("imaps")
    assert mail["OutgoingMailServerPortNumber"] == web.server.port("submissions")


def _queue_hostile_mail(web: WebServer) -> None:
    """A message to a remote address (it stays queued: nothing answers for .invalid), Subject <script>."""
    with smtplib.SMTP("127.0.0.1", web.server.port("submission"), timeout=30) as smtp:
        smtp.starttls(context=_insecure())
        smtp.login(ADMIN, ADMIN_PASSWORD)
        smtp.sendmail(ADMIN, ["someone@remote.invalid"],
                      f"From: {ADMIN}\r\nTo: someone@remote.invalid\r\nSubject: {HOSTILE}\r\n\r\nhi\r\n".encode())
    asyncio.run(asyncio.sleep(0))


def _seed_reports_and_trends(web: WebServer) -> None:
    """Reports as the intake keeps them and a day of outcomes and queue samples, so the screenshots show
    the tables and charts filled."""
    import time

    from tests.web.test_received_reports import dated

    from pillarbox.policy.received.intake import parse_file
    from pillarbox.store.sqlite.store import SQLiteStore

    async def fill() -> None:
        now = time.time()
        for hours_ago in range(24, -1, -1):
            store = SQLiteStore.open(web.config.parent / "data", clock=lambda h=hours_ago: now - h * 3600)
            try:
                await store.count_delivery("gmail.com", "delivered", 40 + (hours_ago * 7) % 30)
                await store.count_delivery("outlook.com", "deferred", hours_ago % 4)
                await store.count_delivery("gone.example", "bounced", int(hours_ago % 5 == 0))
                await store.record_queue_sample({"pending": (24 - hours_ago) % 9, "held": 1}, 8 * 86400)
            finally:
                await store.close()
        store = SQLiteStore.open(web.config.parent / "data")
        try:
            for name in ("google.xml", "microsoft.xml", "google-tlsrpt.json"):
                report = parse_file(dated(name))
                rows = [row for row in report.rows if row.get("domain", "example.com") == "example.com"]
                await store.add_received_report(report.kind, report.reporter, report.report_id, "example.com",
                                                report.begin, report.end, rows)
        finally:
            await store.close()

    asyncio.run(fill())
