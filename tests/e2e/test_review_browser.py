"""The review loop as people use it, through the sandbox Postfix and a real browser
(Debian's chromium + chromium-driver, driven by selenium): a PHI message is held and its
sender gets a notice; a reviewer logs in, sees it (findings as ids and counts, no value),
cannot release it as-is, releases it over its route (it arrives at the TLS sink once); an
admin releases another as-is with a justification; a shadow copy sits apart; the digest's
link works once and an expired one not at all. Screenshots of the list and detail views
go to $OUTGUARD_ARTIFACTS (default tests/artifacts/review)."""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_daemon_postfix import SENDER, header, message

from conftest import OutguardDaemon, outguard_script
from outguard.ops.audit import verify
from outguard.sandbox.postfix import PostfixInstance
from outguard.sandbox.process import free_port, wait_listening
from outguard.unsubscribe.tokens import TokenCodec

pytestmark = pytest.mark.postfix

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
PLANTED = {"ssn": "219-09-9989", "mbi": "1EG4-TE5-MK73", "mrn": "MRN-739201",
           "name": "Philippa Quennell-Abernathy", "dob": "03/17/1958"}
BODY = (f"Patient {PLANTED['name']}, DOB {PLANTED['dob']}, SSN {PLANTED['ssn']}, "
        f"Medicare {PLANTED['mbi']}, chart {PLANTED['mrn']}, HbA1c 9.1, started metformin.")
RULES = r"""
patterns:
  - id: phi.mrn.e2e
    regex: '\bMRN-\d{6}\b'
rules:
  - id: hold-phi
    description: mail with patient record numbers is held for review
    status: experimental
    allow_override: justification
    when: {finding: phi.mrn.e2e}
    then: {quarantine: true, encrypt: tls-required, notify_sender: true}
  - id: trial-patient-lists
    description: trial - hold patient lists
    status: experimental
    shadow: true
    when: {header: Subject, matches: "patient list"}
    then: {quarantine: true}
"""
SECRET = b"r" * 48
PASSWORDS = {"rita": "reviewer-pass-1", "adam": "admin-pass-0001"}


def text_of(raw: bytes) -> str:
    """A mail as a person reads it: headers and decoded text (a value could hide in quoted-printable)."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    body = msg.get_body(("plain",))
    return "".join(f"{k}: {v}\n" for k, v in msg.items()) + "\n" + (body.get_content() if body else "")


def leaks(text: str) -> list[str]:
    found = [kind for kind, value in PLANTED.items() if value in text]
    return found + [part for part in ("Quennell", "9989", "739201", "MK73") if part in text]


class Site:
    """The sandbox Postfix, the daemon and `outguard review serve`, sharing one config."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (base / "review.key").write_bytes(SECRET)
        self.postfix = PostfixInstance(base / "postfix")
        self.review_audit = base / "review-audit.jsonl"
        self.review_config = (
            f"review:\n  secret_file: '{base / 'review.key'}'\n  users_file: '{base / 'users.yaml'}'\n"
            f"  audit_path: '{self.review_audit}'\n  postfix_config: '{self.postfix.config_dir}'\n"
            f"  base_url: '{self.url}'\n  digest_link_days: 1\n"
            f"notify:\n  sendmail: [/usr/sbin/sendmail, -C, '{self.postfix.config_dir}']\n"
            f"  sender_domains: [clinic.example]\n  support: compliance@clinic.example\n"
            f"store: {{url: 'sqlite:///{base / 'store.sqlite3'}'}}\n")
        outguard = base / "outguard"
        outguard.mkdir()
        outguard.chmod(0o755)
        self.daemon = OutguardDaemon(outguard, RULES, workers=1, extra_config=self.review_config)
        self.server: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.daemon.start()
        self.postfix.milter = self.daemon.spec
        self.postfix.start()
        for name, password in PASSWORDS.items():
            role = "admin" if name == "adam" else "reviewer"
            subprocess.run([outguard_script(), "review", "--config", str(self.daemon.config_path), "user", "add", name,
                            "--role", role, "--password-stdin"], input=password + "\n", text=True, check=True)
        log = (self.base / "review.log").open("ab")
        self.server = subprocess.Popen([outguard_script(), "review", "--config", str(self.daemon.config_path),
                                        "serve", "--listen", f"127.0.0.1:{self.port}"], stdout=log, stderr=log)
        wait_listening("127.0.0.1", self.port, 30, alive=lambda: self.server is not None and self.server.poll() is None)

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(10)
        self.postfix.stop()
        self.daemon.stop()

    def send_held(self, subject: str) -> tuple[str, str]:
        """Send a PHI message; wait until Postfix holds it; (queue id, marker)."""
        raw, marker = message(subject, body=BODY)
        code, text = self.postfix.send(raw, SENDER, ["bob@partner.example"])
        assert code == 250, text
        qid = text.rsplit(" ", 1)[-1]
        self.postfix.wait_for_queue(lambda q: any(e["queue_id"] == qid and e["queue_name"] == "hold" for e in q))
        return qid, marker

    def cli(self, *args: str) -> str:
        return subprocess.run([outguard_script(), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def site(shared_dir: Path) -> Iterator[Site]:
    for tool in (CHROMIUM, DRIVER):
        if not os.access(tool, os.X_OK):
            pytest.skip(f"{tool} missing (Debian packages chromium, chromium-driver; scripts/setup installs them)")
    s = Site(shared_dir)
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="outguard-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,1000", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def artifacts() -> Path:
    folder = Path(os.environ.get("OUTGUARD_ARTIFACTS") or Path(__file__).resolve().parents[1] / "artifacts" / "review")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def click(driver, element_id: str) -> str:
    """Click a button and wait for the page it submits to; that page's HTML."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    button = driver.find_element(By.ID, element_id)
    button.click()

    def left(_: object) -> bool:  # the old page's button is gone (stale, or its node left the document)
        try:
            button.is_enabled()
            return False
        except WebDriverException:
            return True
    WebDriverWait(driver, 30).until(left)
    return str(driver.page_source)


def log_in(driver, site: Site, name: str) -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{site.url}/login")
    driver.find_element(By.ID, "user").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORDS[name])
    page = click(driver, "login")
    assert "Held messages" in page, page[:500]


def post_as(driver, site: Site, path: str, fields: dict[str, str]) -> tuple[int, str]:
    """A POST with the browser's session cookie and the page's CSRF token (what a crafted form would send)."""
    csrf = re.search(r'name="csrf" value="([^"]+)"', driver.page_source)
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    data = urllib.parse.urlencode({"csrf": csrf.group(1) if csrf else "", **fields}).encode()
    request = urllib.request.Request(f"{site.url}{path}", data=data, headers={"Cookie": cookie})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_hold_notice_review_release_as_is_shadow_and_digest(site: Site, browser, artifacts: Path) -> None:
    from selenium.webdriver.common.by import By

    pf = site.postfix
    qid, marker = site.send_held("Lab results")
    # the sender's notice: at the sink, to the sender only, naming rule, finding ids and the incident
    [notice] = pf.sink.wait_for_match(f"incident {qid}".encode(), timeout=30)
    assert notice.rcpt_to == (SENDER,) and notice.mail_from == "", "to the sender only, from the null sender"
    notice_text = text_of(notice.raw)
    assert "hold-phi" in notice_text and "phi.mrn.e2e: 1" in notice_text and "held for review" in notice_text
    assert leaks(notice_text) == [], "a notice carries no planted value"
    assert header(notice.headers, "X-Outguard-Origin") == [], "the marker never leaves"

    # a shadow rule: the message goes out, an identical copy is held apart
    raw, shadow_marker = message("patient list for today")
    assert pf.send(raw, SENDER, ["bob@partner.example"])[0] == 250
    pf.sink.wait_for_match(shadow_marker.encode(), timeout=30)
    pf.wait_for_queue(lambda q: sum(e["queue_name"] == "hold" for e in q) >= 2, timeout=30)

    # reviewer: list and detail, no value in either, no release as-is
    log_in(browser, site, "rita")
    pages = {"list": browser.page_source}
    assert qid in pages["list"] and "Shadow copies (1)" in pages["list"]
    assert "phi.mrn.e2e" in pages["list"] and "hold-phi" in pages["list"]
    browser.save_screenshot(str(artifacts / "review-list.png"))
    browser.find_element(By.LINK_TEXT, qid).click()
    pages["detail"] = browser.page_source
    assert "text/plain" in pages["detail"] and "tls-required" in pages["detail"]
    assert 'id="release-as-is"' not in pages["detail"] and 'id="original"' not in pages["detail"]
    browser.save_screenshot(str(artifacts / "review-detail.png"))
    status, _ = post_as(browser, site, f"/m/{qid}/release-as-is", {"justification": "the partner asked for it"})
    assert status == 403, "a reviewer cannot release as-is, even with a crafted form"
    assert post_as(browser, site, f"/m/{qid}/release", {"csrf": "forged"})[0] == 403, "CSRF token checked"
    assert f"release: {qid}" in click(browser, "release")
    [got] = pf.tls_sink.wait_for_match(marker.encode(), timeout=30)
    assert header(got.headers, "X-Outguard-Route") == ["tls-required"]
    time.sleep(2)
    assert len(pf.tls_sink.find(marker.encode())) == 1 and not pf.sink.find(marker.encode()), "arrived once, encrypted"

    # admin: release as-is with a justification; it leaves without the route and is not held again
    qid2, marker2 = site.send_held("More results")
    log_in(browser, site, "adam")
    browser.get(f"{site.url}/m/{qid2}")
    assert post_as(browser, site, f"/m/{qid2}/release-as-is", {"justification": "short"})[0] == 403
    browser.find_element(By.ID, "justification").send_keys("patient asked, phone 555-0100 confirmed")
    assert f"release-as-is: {qid2}" in click(browser, "release-as-is")
    [as_is] = pf.sink.wait_for_match(marker2.encode(), timeout=30)
    [released] = header(as_is.headers, "X-Outguard-Released")
    assert released.startswith("as-is by adam; held by ") and "hold-phi" in released
    assert header(as_is.headers, "Subject") == ["More results"] and b"*** " not in as_is.raw, "the message as sent"
    assert header(as_is.headers, "X-Outguard-Origin") == [] and header(as_is.headers, "X-Outguard-Route") == []
    assert not pf.tls_sink.find(marker2.encode())
    browser.get(f"{site.url}/audit")
    pages["audit"] = browser.page_source
    assert "release-as-is" in pages["audit"] and "patient asked, phone [redacted] confirmed" in pages["audit"]
    assert "555-0100" not in site.review_audit.read_text()

    # the admin may see the original: audited first (and that page shows the value: the check can fail)
    qid3, _ = site.send_held("Even more results")
    browser.get(f"{site.url}/m/{qid3}")
    assert PLANTED["ssn"] in click(browser, "original")
    assert '"action":"view-original"' in site.review_audit.read_text()

    # the sender's override marker lets the mail past hold-phi (it allows one), audited with the reason
    raw, override_marker = message("Results", body=BODY,
                                   headers="X-Outguard-Override-Reason: patient asked for it by phone\r\n")
    assert pf.send(raw, SENDER, ["bob@partner.example"])[0] == 250
    [overridden] = pf.tls_sink.wait_for_match(override_marker.encode(), timeout=30)
    assert header(overridden.headers, "X-Outguard-Override-Reason") == [], "the reason does not leave"
    found = site.cli("audit", "search", "--override", str(site.daemon.audit_path))
    assert '"override":[{"rule":"hold-phi","kind":"justification"}]' in found.replace(" ", "")
    assert '"justification":"patient asked for it by phone"' in found.replace(": ", ":")
    assert len(found.splitlines()) == 1 and leaks(found) == []

    # the digest: one mail to the sender, links that work once; an expired one never
    qid4, _ = site.send_held("Results for review")
    config = str(site.daemon.config_path)
    assert f"sent digest to {SENDER}" in site.cli("review", "--config", config, "digest")
    [digest] = pf.sink.wait_for_match(b"held by the mail gateway", timeout=30)
    digest_text = text_of(digest.raw)
    assert f"incident {qid3}" in digest_text and "patient list" not in digest_text
    assert leaks(digest_text) == []
    release_link = re.search(rf"incident {qid3}\n   release it encrypted \(tls-required\): (\S+)", digest_text)
    assert release_link, digest_text
    browser.delete_all_cookies()
    browser.get(release_link.group(1))
    assert 'id="confirm"' in browser.page_source, browser.page_source.split("<main>")[-1]
    assert "Released over tls-required" in click(browser, "confirm")
    browser.get(release_link.group(1))
    assert "This link was used already" in browser.page_source
    token = release_link.group(1).rsplit("/", 1)[1]
    payload, _ = TokenCodec(SECRET, context=b"outguard review digest link v1").unseal(token)
    expired = TokenCodec(SECRET, context=b"outguard review digest link v1").seal(payload, at=int(time.time()) - 2 * 86400)
    browser.get(f"{site.url}/d/{expired}")
    assert "not valid or has expired" in browser.page_source
    review_link = re.search(rf"incident {qid4}\n.*\n   ask for a review: (\S+)", digest_text)
    assert review_link, digest_text
    browser.get(review_link.group(1))
    assert "A reviewer will look at it" in click(browser, "confirm")
    log_in(browser, site, "adam")
    assert re.search(rf">{qid4}</a> <span class=\"note\">\(review asked\)", browser.page_source)

    for where, text in pages.items():
        assert leaks(text) == [], f"planted value in the {where} page"
    assert verify([site.review_audit])[2] is None
    assert (artifacts / "review-list.png").stat().st_size > 10_000
