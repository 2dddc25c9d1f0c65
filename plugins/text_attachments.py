"""Text of attachments that are text already: plain text, CSV and friends, HTML."""

from __future__ import annotations

from outguard.checks import NO_SETTINGS, Attachment, hookimpl, html_to_text

TEXT_TYPES = {"text/plain", "text/csv", "text/tab-separated-values", "text/markdown", "text/x-log",
              "application/csv", "text/rtf", "text/calendar", "text/vcard", "text/x-vcard"}
TEXT_SUFFIXES = (".txt", ".csv", ".tsv", ".log", ".md", ".htm", ".html")


class TextAttachments:
    """Text, CSV and HTML attachments are text already: hand them to the checks as they are."""

    emits: tuple[str, ...] = ()
    settings_schema = NO_SETTINGS

    @hookimpl
    def outguard_extract_text(self, attachment: Attachment, deadline: float | None) -> str | None:
        return text_of(attachment, deadline)


def text_of(attachment: Attachment, deadline: float | None = None) -> str | None:
    """The decoded text of a text-like attachment, None for anything else; rendering HTML
    stops at `deadline` (TimeoutError: the host reports the overrun)."""
    name = (attachment.filename or "").lower()
    is_html = attachment.content_type == "text/html" or name.endswith((".htm", ".html"))
    if not (is_html or attachment.content_type in TEXT_TYPES or name.endswith(TEXT_SUFFIXES)):
        return None
    data = attachment.data
    if b"\x00" in data[:4096]:
        return None  # binary despite its label; leave it to a check that knows the format
    text = data.decode("utf-8", errors="replace")
    if text.count("\ufffd") > len(text) // 100:
        text = data.decode("cp1252", errors="replace")
    return html_to_text(text, deadline)[0] if is_html else text
