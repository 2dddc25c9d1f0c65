"""add_unsubscribe end to end: Postfix delivers the personal one-click headers, an RFC 8058
POST to the endpoint records the unsubscribe, and the next mailing drops that recipient."""

from __future__ import annotations

import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from test_daemon_postfix import SENDER, message

from conftest import E2E_RULES, OutguardDaemon, outguard_script
from outguard.sandbox.postfix import PostfixInstance
from outguard.sandbox.process import free_port
from outguard.unsubscribe.tokens import TokenCodec, load_secret

pytestmark = pytest.mark.postfix

# What a site does to get "add_unsubscribe where configured": override the shipped rule.
OVERRIDE = """rules:
  - id: bulk-no-unsubscribe-reject
    description: Bulk mail with no way to unsubscribe gets a personal one-click link instead of a reject.
    then: {add_unsubscribe: true}
"""


def test_one_click_post_unsubscribes_and_the_next_mailing_drops_the_recipient(shared_dir: Path) -> None:
    base = shared_dir / "unsub"
    (base / "og").mkdir(parents=True)
    for d in (base, base / "og"):
        d.chmod(0o755)
    secret = base / "oneclick.key"
    secret.write_text("s" * 48)
    store = base / "suppression.sqlite3"
    port = free_port()
    extra = (f"oneclick: {{base_url: 'http://127.0.0.1:{port}', secret_file: '{secret}', listen: '127.0.0.1:{port}'}}\n"
             f"store: {{url: 'sqlite:///{store}'}}\n")
    daemon = OutguardDaemon(base / "og", E2E_RULES, workers=1, extra_config=extra)
    site = base / "og" / "site-rules"  # a rules folder: local rules plus override.d/
    (site / "override.d").mkdir(parents=True)
    daemon.rules_path.rename(site / "local.yaml")
    (site / "override.d" / "bulk.yaml").write_text(OVERRIDE)
    daemon.rules_path = site
    subprocess.run([outguard_script(), "suppress", "--config", str(daemon.config_path), "add", "seed@example.org"],
                   check=True, capture_output=True)  # creates the store
    endpoint = subprocess.Popen([outguard_script(), "oneclick", "--config", str(daemon.config_path), "serve"],
                                stderr=subprocess.PIPE)
    daemon.start()
    try:
        with PostfixInstance(base / "pf", milter=daemon.spec) as pf:
            raw, marker = message("autumn deals", headers="Precedence: bulk\r\n")
            assert pf.send(raw, SENDER, ["ann@partner.example"])[0] == 250
            [got] = pf.sink.wait_for_match(marker.encode())
            headers = got.headers.decode()
            assert re.search(r"(?m)^List-Unsubscribe-Post: List-Unsubscribe=One-Click$", headers)
            url = re.search(r"(?m)^List-Unsubscribe: <([^>]+)>$", headers).group(1)
            assert "ann" not in url

            deadline = time.monotonic() + 20
            while True:  # the endpoint may still be starting
                try:
                    req = urllib.request.Request(url, data=b"List-Unsubscribe=One-Click", method="POST",
                                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
                    with urllib.request.urlopen(req, timeout=5) as resp:
                        assert resp.status == 200
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            shown = subprocess.run([outguard_script(), "suppress", "--config", str(daemon.config_path), "show",
                                    "ann@partner.example"], capture_output=True, text=True, check=True).stdout
            assert "unsubscribe" in shown

            raw, marker = message("winter deals", headers="Precedence: bulk\r\n")
            code, text = pf.send(raw, SENDER, ["ann@partner.example", "bob@partner.example"])
            assert code == 250, text
            [got] = pf.sink.wait_for_match(marker.encode())
            assert got.rcpt_to == ("bob@partner.example",), "ann unsubscribed: dropped; bob gets his own link"
            assert TokenCodec(load_secret(secret)).read(
                re.search(r"(?m)^List-Unsubscribe: <[^>]+/u/([^>]+)>$", got.headers.decode()).group(1)
            ).address == "bob@partner.example"
    finally:
        daemon.stop()
        endpoint.terminate()
        endpoint.wait(10)
