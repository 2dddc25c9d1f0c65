"""Reputation guardrails through the real pipeline: accepted recipients recorded by the
milter's hook, hard bounces through `outguard ingest`, the pause, the transactional
exception, `outguard reputation resume`, warm-up caps."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from helpers import dsn, eml
from outguard.cli.main import main
from outguard.core.message import Envelope
from outguard.reputation.recorder import AcceptedRecorder
from outguard.reputation.settings import ReputationSettings
from outguard.reputation.store import ReputationStore
from outguard.store import SuppressionStore, resolve

SENDER = "news@shop.example"
LIST_ID = "Shop news <news.shop.example>"


def newsletter(list_id: str = LIST_ID) -> bytes:
    return eml(f"""
        From: {SENDER}
        To: readers@shop.example
        Subject: Our winter newsletter
        List-Id: {list_id}
        List-Unsubscribe: <https://shop.example/u/1>
        List-Unsubscribe-Post: List-Unsubscribe=One-Click
        Precedence: bulk

        New arrivals this week, free shipping on every order. Unsubscribe: https://shop.example/u/1
        Shop Example, PO Box 1520, Elmhurst IL 60126
        """)


RECEIPT = eml(f"""
    From: {SENDER}
    To: ann@partner.example
    Subject: Your order receipt

    Thank you for your order 1234. Your receipt is attached; your parcel ships tomorrow.
    """)


@pytest.fixture
def site(tmp_path: Path, store_url: str, outguard_harness):  # type: ignore[no-untyped-def]
    """A store (SQLite and PostgreSQL), a config naming it, an inspector with the bulk and
    reputation checks."""
    SuppressionStore(resolve(store_url), create=True).migrate()
    overrides = {"store": {"url": store_url}, "audit": {"path": str(tmp_path / "audit.jsonl")},
                 "reputation": {"cache_seconds": 0}}
    cfg = tmp_path / "outguard.yaml"
    cfg.write_text(json.dumps(overrides))
    harness = outguard_harness(enabled=["bulk", "reputation"], config=overrides)
    store = ReputationStore(resolve(store_url))
    recorder = AcceptedRecorder(store, ReputationSettings.from_section(overrides["reputation"]))
    return harness, recorder, store, cfg, tmp_path


def send(harness, recorder, raw: bytes, rcpts: list[str]):  # type: ignore[no-untyped-def]
    """What the milter does: inspect, then hand the decision to the recorder (its eom hook)."""
    result = harness.inspector.inspect(raw, Envelope(sender=SENDER, recipients=tuple(rcpts)))
    recorder.decided(result.decision, Envelope(sender=SENDER, recipients=tuple(rcpts)), result.message.headers)
    recorder.flush()
    return result


def test_hard_bounces_pause_bulk_of_the_stream_until_resumed(site, capsys) -> None:  # type: ignore[no-untyped-def]
    harness, recorder, store, cfg, tmp = site
    readers = [f"reader{i}@partner.example" for i in range(300)]
    for i in range(0, 300, 100):
        assert send(harness, recorder, newsletter(), readers[i:i + 100]).decision.verdict == "deliver"
    assert store.count("list:news.shop.example", 0) == 300

    bounces = tmp / "bounces"
    bounces.mkdir()
    for n, rcpt in enumerate(readers[:36]):   # 12 %
        (bounces / f"{n}.eml").write_bytes(dsn("5.1.1", "550 5.1.1 user unknown", rcpt=rcpt))
    assert main(["ingest", "--config", str(cfg), str(bounces)]) == 0

    paused = send(harness, recorder, newsletter(), ["late@partner.example"])
    assert paused.decision.verdict == "tempfail"
    assert "reputation-paused-bulk-tempfail" in paused.decision.rule_ids
    assert "paused" in paused.decision.reply.text and "outguard reputation resume" in paused.decision.reply.text
    detail = next(f.detail for f in paused.findings if f.id == "reputation.paused")
    assert "list:news.shop.example" in detail and "36 hard bounces" in detail and "of 300 recipients" in detail
    bounce = next(f.detail for f in paused.findings if f.id == "reputation.bounce_rate")
    assert "12 %" in bounce and "late@" not in bounce and "reader" not in bounce

    # transactional mail of the same sender is never held
    receipt = send(harness, recorder, RECEIPT, ["ann@partner.example"])
    assert receipt.decision.verdict == "deliver"
    # another list of the same sender is not paused by this one's bounces
    other = send(harness, recorder, newsletter("<offers.shop.example>"), ["bob@partner.example"])
    assert other.decision.verdict == "deliver"

    assert main(["reputation", "--config", str(cfg), "resume", "news.shop.example", "--note", "list cleaned"]) == 0
    assert "resumed" in capsys.readouterr().out
    resumed = send(harness, recorder, newsletter(), ["after@partner.example"])
    assert resumed.decision.verdict == "deliver"
    audit = [json.loads(line) for line in (tmp / "audit.jsonl").read_text().splitlines()]
    assert [(r["action"], r["stream"], r["note"]) for r in audit] == [("resume", "list:news.shop.example", "list cleaned")]
    assert main(["reputation", "--config", str(cfg), "resume", "news.shop.example"]) == 1   # not paused any more


def test_below_minimum_volume_nothing_counts(site) -> None:  # type: ignore[no-untyped-def]
    harness, recorder, store, cfg, tmp = site
    readers = [f"r{i}@partner.example" for i in range(50)]
    send(harness, recorder, newsletter(), readers)
    for n, rcpt in enumerate(readers[:25]):   # 50 %, but 50 recipients < minimum_volume 200
        (tmp / f"b{n}.eml").write_bytes(dsn("5.1.1", "550 5.1.1 user unknown", rcpt=rcpt))
    assert main(["ingest", "--config", str(cfg), *[str(tmp / f"b{n}.eml") for n in range(25)]]) == 0
    result = send(harness, recorder, newsletter(), ["x@partner.example"])
    assert result.decision.verdict == "deliver"
    assert not [f for f in result.findings if f.id.startswith("reputation.")]


def test_complaints_at_review_tag_and_soft_bounces_do_not_count(site) -> None:  # type: ignore[no-untyped-def]
    harness, recorder, store, cfg, tmp = site
    readers = [f"c{i}@partner.example" for i in range(400)]
    send(harness, recorder, newsletter(), readers)
    from outguard.store import Event

    now = int(dt.datetime.now(dt.UTC).timestamp())
    store.record([Event(readers[0], "complaint", now, source="arf"),           # 0.25 %: review, not pause
                  *[Event(r, "bounce", now, source="dsn", status="4.2.2", reason="mailboxfull") for r in readers[1:100]]])
    result = send(harness, recorder, newsletter(), ["y@partner.example"])
    ids = {f.id for f in result.findings}
    assert "reputation.complaint_rate" in ids and "reputation.paused" not in ids and "reputation.bounce_rate" not in ids
    assert result.decision.verdict == "deliver"
    assert ("X-Outguard-Reputation", "reputation.complaint_rate") in result.decision.add_headers


def test_warmup_caps_bulk_never_transactional(tmp_path: Path, outguard_harness) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "store.sqlite3"
    SuppressionStore(resolve(str(db)), create=True).migrate()
    today = dt.datetime.now(dt.UTC).date()
    rep = {"cache_seconds": 0, "egress_ip": "192.0.2.10",
           "warmup": [{"ip": "192.0.2.10", "start": (today - dt.timedelta(days=1)).isoformat(), "daily_caps": [5, 10, 20]}]}
    overrides = {"store": {"url": str(db)}, "reputation": rep}
    harness = outguard_harness(enabled=["bulk", "reputation"], config=overrides)
    recorder = AcceptedRecorder(ReputationStore(resolve(str(db))), ReputationSettings.from_section(rep))
    first = send(harness, recorder, newsletter(), [f"w{i}@partner.example" for i in range(10)])   # day 2: cap 10
    assert first.decision.verdict == "deliver"
    over = send(harness, recorder, newsletter(), ["w10@partner.example"])
    assert over.decision.verdict == "tempfail" and "warm-up cap" in over.decision.reply.text
    assert "day 2: cap 10, 10 sent today" in next(f.detail for f in over.findings if f.id == "reputation.warmup_cap")
    assert send(harness, recorder, RECEIPT, ["ann@partner.example"]).decision.verdict == "deliver"


def test_dead_store_holds_bulk_not_transactional(tmp_path: Path, outguard_harness) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "gone.sqlite3"
    SuppressionStore(resolve(str(db)), create=True).migrate()
    harness = outguard_harness(enabled=["bulk", "reputation"], config={"store": {"url": str(db)},
                                                                         "reputation": {"cache_seconds": 0}})
    db.unlink()
    env = Envelope(sender=SENDER, recipients=("ann@partner.example",))
    bulk = harness.inspector.inspect(newsletter(), env)
    assert bulk.decision.verdict == "tempfail" and "reputation.unavailable" in {f.id for f in bulk.findings}
    assert harness.inspector.inspect(RECEIPT, env).decision.verdict == "deliver"


def test_report_table_json_and_plot(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    from outguard.reputation.demo import seed_fortnight

    db = tmp_path / "store.sqlite3"
    store = ReputationStore(resolve(str(db)), create=True)
    store.migrate()
    today = int(dt.datetime.now(dt.UTC).timestamp()) // 86400
    written = seed_fortnight(store, today)
    store.set_action("list:offers.shop.example", "pause", "test", actor="test")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps({"store": {"url": str(db)}}))
    png = tmp_path / "report.png"
    assert main(["reputation", "--config", str(cfg), "report", "--since", "14", "--json", "--plot", str(png)]) == 0
    report = json.loads(capsys.readouterr().out)
    by = {s["stream"]: s for s in report["streams"]}
    assert set(by) == {"list:news.shop.example", "list:offers.shop.example", "domain:shop.example"}
    assert {k: s["accepted"] for k, s in by.items()} == written
    offers = by["list:offers.shop.example"]
    assert offers["paused"] and not by["list:news.shop.example"]["paused"]
    last = offers["days"][-1]
    assert last["hard_bounces"] == 72 and last["bounce_rate"] == round(72 / last["accepted"], 5)
    assert by["domain:shop.example"]["hard_bounces"] == 0   # its recipients never bounced
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size[0] >= 800 and image.size[1] >= 3 * 250
        colours = image.convert("RGB").getcolors(1 << 20) or []
    assert len(colours) > 20   # drawn, not blank

    assert main(["reputation", "--config", str(cfg), "report", "--stream", "offers.shop.example", "--since", "3"]) == 0
    table = capsys.readouterr().out
    assert "list:offers.shop.example: PAUSED" in table and "list:news.shop.example" not in table
    assert len([ln for ln in table.splitlines() if ln.startswith("  20")]) == 3


def test_volume_spike_against_the_trailing_median(site) -> None:  # type: ignore[no-untyped-def]
    harness, recorder, store, cfg, tmp = site
    today = int(dt.datetime.now(dt.UTC).timestamp()) // 86400
    for back in range(1, 8):   # a week of 100 a day ...
        store.add_accepted([{"at": (today - back) * 86400 + i, "address": f"d{back}-{i}@partner.example",
                             "sender_domain": "shop.example", "stream": "list:news.shop.example", "egress": None}
                            for i in range(100)])
    quiet = send(harness, recorder, newsletter(), [f"t{i}@partner.example" for i in range(250)])
    assert "reputation.volume_spike" not in {f.id for f in quiet.findings}   # 250 < minimum 500
    loud = send(harness, recorder, newsletter(), [f"u{i}@partner.example" for i in range(300)])   # ... then 550 today
    spike = next(f for f in loud.findings if f.id == "reputation.volume_spike")
    assert spike.detail == "list:news.shop.example: 550 recipients today, trailing median 100"
    assert loud.decision.verdict == "deliver"
    assert ("X-Outguard-Reputation", "reputation.volume_spike") in loud.decision.add_headers


class FlakyStore:
    """Fails the first `failures` writes, then keeps what it is given."""

    def __init__(self, failures: int) -> None:
        self.failures, self.rows = failures, []  # type: ignore[var-annotated]

    def add_accepted(self, rows: list[dict[str, object]]) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("database is locked")
        self.rows += rows

    def prune(self, before: int) -> int:
        return 0


def test_recorder_keeps_rows_while_the_store_is_down_and_never_raises() -> None:
    store = FlakyStore(failures=2)
    recorder = AcceptedRecorder(store, ReputationSettings())
    recorder._start = lambda: None  # type: ignore[method-assign]  # flushed by hand below
    recorder.accepted("news@shop.example", [("List-Id", LIST_ID)], ["A@Partner.example", "not an address"])
    assert recorder.flush() == 0 and recorder.flush() == 0   # down twice: nothing lost
    recorder.accepted("", [], ["b@partner.example"])          # the null sender is nobody's stream
    recorder.accepted("news@shop.example", [], ["c@partner.example"])
    assert recorder.flush() == 2
    assert [(r["address"], r["stream"], r["sender_domain"]) for r in store.rows] == [
        ("a@partner.example", "list:news.shop.example", "shop.example"), ("c@partner.example", None, "shop.example")]
