"""The add_unsubscribe action: personal one-click headers for bulk mail that lacks them."""

from __future__ import annotations

import pytest

from outguard.core.config import ConfigError
from outguard.rules.loader import RuleSetError
from outguard.unsubscribe.tokens import TokenCodec, load_secret

RULES = """
rules:
  - id: fix-unsubscribe
    description: bulk mail without an unsubscribe gets one
    status: experimental
    when: {header: Precedence, matches: bulk}
    then: {add_unsubscribe: true}
"""
NEWSLETTER = "From: news@shop.example\nSubject: autumn deals\nPrecedence: bulk\n{extra}\nOur autumn offers.\n"


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "oneclick.key"
    path.write_text("k" * 48)
    return path


def harness(outguard_harness, secret, base_url="https://unsub.clinic.example"):
    return outguard_harness(defaults=False, rules=RULES, config={"oneclick": {"base_url": base_url,
                                                                               "secret_file": str(secret)}})


def test_headers_carry_a_sealed_token_for_the_one_recipient_and_the_list(outguard_harness, secret) -> None:
    result = harness(outguard_harness, secret).check(
        NEWSLETTER.format(extra="List-Id: Autumn deals <deals.shop.example>\n"), rcpts=["Ann@Partner.example"])
    headers = dict(result.decision.add_headers)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = headers["List-Unsubscribe"]
    assert url.startswith("<https://unsub.clinic.example/u/") and url.endswith(">")
    # (short substrings such as "ann" turn up in random tokens now and then: look for the address itself)
    assert "ann@partner" not in url.lower() and "partner.example" not in url.lower(), "no address readable in the URL"
    unsub = TokenCodec(load_secret(secret)).read(url[1:-1].rsplit("/", 1)[1])
    assert (unsub.address, unsub.scope) == ("ann@partner.example", "list:deals.shop.example")


def test_existing_unsubscribe_is_left_alone(outguard_harness, secret) -> None:
    result = harness(outguard_harness, secret).check(
        NEWSLETTER.format(extra="List-Unsubscribe: <https://shop.example/u/1>\n"), rcpts=["ann@partner.example"])
    assert result.decision.verdict == "deliver" and not result.decision.add_headers


def test_several_recipients_cannot_share_a_personal_link(outguard_harness, secret) -> None:
    result = harness(outguard_harness, secret).check(NEWSLETTER.format(extra=""), rcpts=["a@x.example", "b@x.example"])
    assert result.decision.verdict == "reject" and "one recipient per message" in result.decision.reply.text


def test_rule_needs_the_endpoint_configured(outguard_harness, secret, tmp_path) -> None:
    with pytest.raises(RuleSetError, match="add_unsubscribe needs oneclick.base_url"):
        outguard_harness(defaults=False, rules=RULES)
    short = tmp_path / "short.key"
    short.write_text("too short")
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        harness(outguard_harness, short)
