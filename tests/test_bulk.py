"""The bulk check: bulk detection and its signals, the compliance findings (unsubscribe,
one-click, visible opt-out, postal address, honest headers, plain-text part, image-only
HTML), the same-body counter, the shipped rules, and real messages of the SpamAssassin
corpus pinned with the findings a reader expects of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from outguard.core.message import Envelope, envelope_from_headers, parse_message
from outguard_plugins import bulk


@pytest.fixture(scope="module")
def state() -> bulk.State:
    return bulk.make_state({})


def read_corpus_message(path: Path) -> bytes:
    raw = path.read_bytes()
    return raw.split(b"\n", 1)[1] if raw.startswith(b"From ") else raw  # the corpus's mbox separator line


def run(state: bulk.State, raw: str | bytes, sender: str = "", rcpts: tuple[str, ...] = ()) -> dict[str, object]:
    data = raw.encode() if isinstance(raw, str) else raw
    msg = parse_message(data, Envelope(sender, rcpts))
    msg.envelope = envelope_from_headers(msg, msg.envelope)
    return {f.id: f for f in bulk.inspect(msg, state)}


NEWSLETTER = """From: News <news@shop.example>
To: ann@partner.example
Subject: Autumn newsletter
List-Id: <news.shop.example>
List-Unsubscribe: <https://shop.example/u/abc>, <mailto:leave@shop.example>
List-Unsubscribe-Post: List-Unsubscribe=One-Click

New arrivals and free shipping this week.
Shop Example Inc., 123 Main Street, Suite 400, Springfield, IL 62701
Unsubscribe: https://shop.example/u/abc
"""


def test_a_compliant_newsletter_is_bulk_with_no_compliance_finding(state: bulk.State) -> None:
    f = run(state, NEWSLETTER)
    assert f["bulk.detected"].confidence >= 0.9
    assert "list-id" in f["bulk.detected"].detail
    assert set(f) == {"bulk.detected"}


def test_unsubscribe_header_findings(state: bulk.State) -> None:
    no_header = NEWSLETTER.replace("List-Unsubscribe: <https://shop.example/u/abc>, <mailto:leave@shop.example>\n", "")
    assert {"bulk.unsubscribe.missing"} <= set(run(state, no_header))
    mailto_only = NEWSLETTER.replace("<https://shop.example/u/abc>, ", "")
    f = run(state, mailto_only)
    assert "bulk.unsubscribe.no_https" in f and "mailto" in f["bulk.unsubscribe.no_https"].detail
    http_only = NEWSLETTER.replace("https://shop.example/u/abc>", "http://shop.example/u/abc>")
    assert "bulk.unsubscribe.no_https" in run(state, http_only)
    no_post = NEWSLETTER.replace("List-Unsubscribe-Post: List-Unsubscribe=One-Click\n", "")
    assert set(run(state, no_post)) == {"bulk.detected", "bulk.unsubscribe.one_click_missing"}


@pytest.mark.parametrize("footer", [
    "To stop receiving these emails, manage your preferences in your account.",
    "Wenn Sie keine weiteren E-Mails wünschen, können Sie sich hier abmelden.",
    "Pour ne plus recevoir nos offres, désabonnez-vous.",
    "Si no desea recibir más correos, puede darse de baja.",
    "Per non ricevere più email, disiscriviti.",
    "Klik hier om je af te melden of uitschrijven.",
    "To be removed from our list, reply with REMOVE in the subject.",
])
def test_visible_opt_out_in_several_languages(state: bulk.State, footer: str) -> None:
    text = NEWSLETTER.replace("Unsubscribe: https://shop.example/u/abc\n", footer + "\n")
    assert "bulk.unsubscribe.body_missing" not in run(state, text)


def test_opt_out_link_by_target_and_missing_opt_out(state: bulk.State) -> None:
    html = NEWSLETTER.replace("Unsubscribe: https://shop.example/u/abc\n", "").replace(
        "List-Unsubscribe-Post", "Content-Type: text/html\nList-Unsubscribe-Post")
    html = html.replace("New arrivals and free shipping this week.",
                        '<p>New arrivals and free shipping this week, for all our customers in every store.</p>'
                        '<p><a href="https://shop.example/optout?u=1">click</a></p>')
    f = run(state, html)
    assert "bulk.unsubscribe.body_missing" not in f and "bulk.text_alternative.missing" in f
    bare = NEWSLETTER.replace("Unsubscribe: https://shop.example/u/abc\n", "")
    assert "bulk.unsubscribe.body_missing" in run(state, bare)


@pytest.mark.parametrize(("text", "kind"), [
    ("Acme Inc, 123 Main Street, Suite 400, Springfield, IL 62701", "us-street"),
    ("Acme Inc\n1600 Pennsylvania Ave NW\nWashington, DC 20500", "us-street"),
    ("Acme, P.O. Box 1234, Austin TX 78701", "po-box"),
    ("Acme, 2000 Main St PMB 118, Austin", "po-box"),
    ("Acme Ltd, 10 Downing St, London SW1A 2AA", "uk"),
    ("Acme Inc., 100 King St W, Toronto ON M5X 1A9", "ca"),
    ("Acme GmbH, Musterstraße 12, 10115 Berlin", "eu"),
    ("Acme SARL, 5 rue de Rivoli, 75001 Paris", "eu"),
])
def test_postal_addresses(text: str, kind: str) -> None:
    assert bulk.find_postal_address("Thanks for reading.\n" + text + "\nAll rights reserved.") == kind


@pytest.mark.parametrize("text", [
    "Call me at 5 pm on the main road.",
    "We shipped 300 units to 12 stores on Main Street last week.",
    "Version 2.4 of the suite is out, see https://example.org/release/12345",
])
def test_not_postal_addresses(text: str) -> None:
    assert bulk.find_postal_address(text) is None


def test_deceptive_headers(state: bulk.State) -> None:
    fake = NEWSLETTER.replace("Subject: Autumn newsletter", "Subject: RE: your order")
    assert "bulk.headers.fake_reply" in run(state, fake)
    real_reply = fake.replace("List-Id:", "In-Reply-To: <1@partner.example>\nList-Id:")
    assert "bulk.headers.fake_reply" not in run(state, real_reply)
    spoof = NEWSLETTER.replace("From: News <news@shop.example>", 'From: "PayPal.com Security" <news@shop.example>')
    assert "bulk.headers.display_name_domain" in run(state, spoof)
    same = NEWSLETTER.replace("From: News <news@shop.example>", '"Shop.example" <news@mail.shop.example>')
    assert "bulk.headers.display_name_domain" not in run(state, same)
    reply_to = NEWSLETTER.replace("List-Id:", "Reply-To: collect@elsewhere.example.net\nList-Id:")
    f = run(state, reply_to)
    assert "bulk.headers.reply_to_domain" in f and "elsewhere" not in f["bulk.headers.reply_to_domain"].detail
    listed = reply_to.replace("List-Id: <news.shop.example>", "List-Id: <news.elsewhere.example.net>")
    assert "bulk.headers.reply_to_domain" not in run(state, listed)


def test_image_only_html(state: bulk.State) -> None:
    raw = NEWSLETTER.replace("List-Unsubscribe-Post", "Content-Type: text/html\nList-Unsubscribe-Post").split("\n\n")[0]
    raw += '\n\n<a href="https://shop.example/sale"><img src="https://shop.example/sale.png"></a> <a href="https://shop.example/u/abc">unsubscribe</a>\n'
    f = run(state, raw)
    assert "bulk.html.image_only" in f and "bulk.text_alternative.missing" in f


def test_transactional_mail_is_not_bulk(state: bulk.State) -> None:
    receipt = ("From: orders@shop.example\nTo: ann@partner.example\nSubject: Your receipt for order 1234\n"
               "X-SES-Outgoing: 2026.11.27-1.2.3.4\n\nThanks for your order. Receipt attached. Questions? Reply.\n")
    f = run(state, receipt)
    assert f["bulk.detected"].confidence < 0.5 and "transactional" in f["bulk.detected"].detail
    assert set(f) == {"bulk.detected"}
    plain = "From: ann@clinic.example\nTo: bob@partner.example\nSubject: lunch\n\nLunch at noon?\n"
    assert run(state, plain) == {}


def test_many_recipients_and_esp_fingerprints(state: bulk.State) -> None:
    text = "From: ann@clinic.example\nSubject: hello\n\nSee you all at the meeting tomorrow.\n"
    many = tuple(f"p{i}@partner.example" for i in range(25))
    assert run(state, text, "ann@clinic.example", many)["bulk.detected"].confidence >= 0.5
    esp = "X-Mailer: Mailchimp Mailer - **CID1234**\nX-MC-User: abc\n" + text
    assert run(state, esp, "ann@clinic.example", ("b@partner.example",))["bulk.detected"].confidence >= 0.5


def test_same_body_counter_window_and_bound() -> None:
    c = bulk.MemoryBodyCounter(window_seconds=60, max_keys=2)
    assert c.add("a@x.example", "d1", 10, now=0) == 10
    assert c.add("A@x.example", "d1", 15, now=30) == 25
    assert c.add("a@x.example", "d1", 1, now=100) == 1  # the first two left the window
    c.add("a@x.example", "d2", 1, now=100)
    c.add("a@x.example", "d3", 1, now=100)
    assert c.add("a@x.example", "d1", 1, now=101) == 1  # d1 was evicted (max_keys)


def test_same_body_to_many_recipients_becomes_bulk() -> None:
    class Shared:
        """A stand-in for a store-backed counter handed in as a core service."""

        def __init__(self) -> None:
            self.calls: list[tuple[str, str, int]] = []

        def add(self, sender: str, digest: str, recipients: int) -> int:
            self.calls.append((sender, digest, recipients))
            return sum(n for s, d, n in self.calls if (s, d) == (sender, digest))

    shared = Shared()
    state = bulk.make_state({"same_body_recipients": 10}, {"bulk_counter": shared})
    confidences = []
    for i in range(12):
        raw = (f"From: ann@clinic.example\nTo: p{i}@partner.example\nSubject: update\n\n"
               f"Dear customer {i}, our opening hours change next month; details are on the website.\n")
        confidences.append(run(state, raw, "ann@clinic.example", (f"p{i}@partner.example",)).get("bulk.detected"))
    assert confidences[0] is None and confidences[-1].confidence >= 0.5
    assert len({d for _, d, _ in shared.calls}) == 1  # the per-recipient number does not split the campaign


def test_shipped_rules(outguard_harness) -> None:
    harness = outguard_harness(enabled=["bulk"])
    bare = NEWSLETTER.replace("List-Unsubscribe: <https://shop.example/u/abc>, <mailto:leave@shop.example>\n", "")
    bare = bare.replace("Unsubscribe: https://shop.example/u/abc\n", "")
    result = harness.check(bare)
    assert result.decision.verdict == "reject"
    assert "List-Unsubscribe" in str(result.decision.reply)
    assert harness.check(NEWSLETTER).decision.verdict == "deliver"
    no_address = NEWSLETTER.replace("Shop Example Inc., 123 Main Street, Suite 400, Springfield, IL 62701\n", "")
    result = harness.check(no_address)
    assert result.decision.verdict == "deliver" and "bulk-no-postal-address-tag" in result.decision.rule_ids


# Real messages, read by hand; the expected findings are what a reader sees in them.
PINNED = [
    # The Register's daily headlines: Precedence: list and X-Bulkmail, an unsubscribe URL in the
    # body, no List-Unsubscribe header, a phone and fax but no postal address.
    ("hard-ham-1/00014.a1f7ca2723b9e4060e7c73b6e1fed642.txt",
     {"bulk.unsubscribe.missing", "bulk.unsubscribe.one_click_missing", "bulk.postal_address.missing"},
     {"bulk.unsubscribe.body_missing", "bulk.unsubscribe.no_https"}),
    # The ISO17799 newsletter: no list headers; "email us ... with a title of Un-subscribe";
    # a company name but no address.
    ("hard-ham-1/00005.34bcaad58ad5f598f5d6af8cfa0c0465.txt",
     {"bulk.unsubscribe.missing", "bulk.postal_address.missing"}, {"bulk.unsubscribe.body_missing"}),
    # Lockergnome via ListManager: List-Unsubscribe is a mailto: only; HTML without a text part.
    ("hard-ham-1/00015.ada83ed8f5e09b7dd5b268dafb0d7e8d.txt",
     {"bulk.unsubscribe.no_https", "bulk.unsubscribe.one_click_missing", "bulk.text_alternative.missing"},
     {"bulk.unsubscribe.missing", "bulk.html.image_only"}),
    # Spam: "Fw:" without any References; an opt-out link and a Miami street address in the body.
    ("spam-2/00018.336cb9e7b0358594cf002e7bf669eaf5.txt",
     {"bulk.headers.fake_reply", "bulk.unsubscribe.missing"},
     {"bulk.postal_address.missing", "bulk.unsubscribe.body_missing"}),
    # Spam through a Mailman list: three images and eleven words, no text part, http/mailto unsubscribe.
    ("spam-2/00228.238a0547cbbd70a024d7d4376707f201.txt",
     {"bulk.html.image_only", "bulk.text_alternative.missing", "bulk.unsubscribe.no_https",
      "bulk.unsubscribe.body_missing", "bulk.postal_address.missing"}, {"bulk.unsubscribe.missing"}),
    # Spam: display name "RegisterNewExtensions.net" over a hotmail.com address.
    ("spam-2/00054.58b5d10599e5e7c98ce1498f2ba3e42c.txt", {"bulk.headers.display_name_domain"}, set()),
    # A 419 letter forwarded by a list: From yahoo.co.uk, Reply-To yahoo.com; "MR.DOUGLAS" is no domain.
    ("spam-2/00009.1e1a8cb4b57532ab38aa23287523659d.txt",
     {"bulk.headers.reply_to_domain"}, {"bulk.headers.display_name_domain", "bulk.unsubscribe.missing"}),
]


@pytest.mark.parametrize(("name", "present", "absent"), PINNED, ids=[p[0].split(".")[0] for p in PINNED])
def test_pinned_corpus_messages(corpora: Path, state: bulk.State, name: str, present: set[str], absent: set[str]) -> None:
    f = run(state, read_corpus_message(corpora / "spamassassin" / name))
    assert f["bulk.detected"].confidence >= 0.5
    assert present <= set(f), sorted(f)
    assert not absent & set(f), sorted(f)


def test_pinned_addresses_in_corpus_messages(corpora: Path) -> None:
    for name, kind in [("hard-ham-1/00152.651a40f1c0b2ba19122eccebccbae788.txt", "us-street"),  # 2121 Alton Parkway, Suite 250
                       ("hard-ham-1/00002.ca96f74042d05c1a1d29ca30467cfcd5.txt", "po-box")]:   # PO Box 1520, Elmhurst IL
        msg = parse_message(read_corpus_message(corpora / "spamassassin" / name))
        assert bulk.find_postal_address("\n".join(v.text for v in msg.texts("body"))) == kind, name


def test_reply_on_a_discussion_list_is_not_a_fake_reply(state: bulk.State) -> None:
    post = NEWSLETTER.replace("Subject: Autumn newsletter", "Subject: Re: autumn plans").replace(
        "List-Id:", "List-Post: <mailto:news@shop.example>\nList-Id:")
    assert "bulk.headers.fake_reply" not in run(state, post)
    announce = post.replace("List-Post: <mailto:news@shop.example>", "List-Post: NO")
    assert "bulk.headers.fake_reply" in run(state, announce)
