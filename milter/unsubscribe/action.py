"""The `add_unsubscribe` action: a personal one-click unsubscribe (RFC 2369 + RFC 8058) for
bulk mail whose sending software lacks one. Runs after the verdict, in the pipeline, so
`check` shows exactly the headers the milter will add. The headers must be added before
DKIM signing: list outguard before the signing milter in smtpd_milters."""

from __future__ import annotations

import re

from outguard.core.config import Config, ConfigError
from outguard.core.decision import Decision, Reply
from outguard.core.message import Message
from outguard.core.verdict import Verdict
from outguard.unsubscribe.tokens import SecretError, TokenCodec, load_secret, unsubscribe_headers

ONE_RECIPIENT_ONLY = Reply("550", "5.7.1", "Bulk mail without an unsubscribe link must be sent one recipient per "
                                           "message, so that outguard can add a personal one-click unsubscribe")
_LIST_ID = re.compile(r"<([^<>]+)>")


class Unsubscriber:
    def __init__(self, codec: TokenCodec, base_url: str) -> None:
        self.codec = codec
        self.base_url = base_url

    @classmethod
    def from_config(cls, config: Config) -> Unsubscriber:
        cfg = config.section("oneclick")
        if not cfg.get("base_url"):
            raise ConfigError("add_unsubscribe needs oneclick.base_url")
        try:
            codec = TokenCodec(load_secret(cfg.get("secret_file")), int(cfg.get("max_age_days") or 0))
        except (SecretError, OSError) as exc:
            raise ConfigError(f"add_unsubscribe: {exc}") from None
        return cls(codec, str(cfg["base_url"]))

    def apply(self, decision: Decision, message: Message) -> None:
        """Add the headers when a matched rule asked for them and the message has none."""
        if not decision.add_unsubscribe or decision.refused or message.header("List-Unsubscribe"):
            return
        dropped = {r.lower() for r in decision.drop_recipients}
        recipients = [r for r in message.envelope.recipients if r.lower() not in dropped]
        if len(recipients) != 1:  # one message, one link: a shared link would unsubscribe the wrong person
            decision.verdict, decision.reply, decision.deciding_rule = Verdict.REJECT, ONE_RECIPIENT_ONLY, "add_unsubscribe"
            return
        list_id = message.header("List-Id")
        m = _LIST_ID.search(list_id or "")
        scope = f"list:{m.group(1) if m else list_id}" if list_id else "global"
        decision.add_headers += unsubscribe_headers(self.codec, self.base_url, recipients[0], scope)
