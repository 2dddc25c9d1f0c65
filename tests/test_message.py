"""The message model: decoded views, and hostile MIME that must become findings, not crashes."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import eml
from outguard.core.message import Envelope, ScanLimits, parse_message


def ids(msg) -> set[str]:
    return {f.id for f in msg.scan_findings}


def test_views_cover_subject_plain_html_with_links_and_attachment_names() -> None:
    raw = eml("""
        From: Alice <alice@example.org>
        To: bob@example.net
        Subject: =?utf-8?q?Caf=C3=A9_report?=
        MIME-Version: 1.0
        Content-Type: multipart/mixed; boundary="m"

        --m
        Content-Type: multipart/alternative; boundary="a"

        --a
        Content-Type: text/plain; charset=iso-8859-1
        Content-Transfer-Encoding: quoted-printable

        Gr=FC=DFe aus K=F6ln
        --a
        Content-Type: text/html; charset=utf-8

        <html><head><style>p{color:red}</style></head><body><p>See <a href="https://evil.example/x">our site</a></p>
        <script>var hidden = 1;</script></body></html>
        --a--
        --m
        Content-Type: application/pdf; name="labs.pdf"
        Content-Disposition: attachment; filename="labs.pdf"
        Content-Transfer-Encoding: base64

        JVBERi0xLjQK
        --m--
        """)
    msg = parse_message(raw, Envelope(sender="alice@example.org"))
    views = {v.where: v.text for v in msg.views}
    assert views["subject"] == "Café report"
    assert "Grüße aus Köln" in views["body"]
    assert "our site <https://evil.example/x>" in views["html"]
    assert "color:red" not in views["html"] and "hidden" not in views["html"]
    assert views["attachment:labs.pdf"] == "labs.pdf"
    assert [(a.filename, a.content_type, a.data) for a in msg.attachments] == [("labs.pdf", "application/pdf", b"%PDF-1.4\n")]
    assert msg.links[0].href == "https://evil.example/x"
    assert not msg.scan_findings


def test_unknown_charset_decodes_with_replacement_and_is_reported() -> None:
    raw = eml("""
        Subject: x
        Content-Type: text/plain; charset=x-klingon

        plain words survive
        """)
    msg = parse_message(raw)
    assert "plain words survive" in next(msg.texts("body")).text
    assert "scan.undecodable" in ids(msg)


def test_broken_base64_and_missing_boundary_do_not_raise() -> None:
    raw = eml("""
        Subject: broken
        MIME-Version: 1.0
        Content-Type: multipart/mixed; boundary="never-used"

        --other
        Content-Type: text/plain
        Content-Transfer-Encoding: base64

        @@@not base64!!!
        """)
    msg = parse_message(raw)
    assert "scan.malformed" in ids(msg)
    assert msg.views  # the subject at least


def test_nesting_bomb_is_capped_and_reported() -> None:
    depth = 60
    parts = ["Subject: nest\nMIME-Version: 1.0\n"]
    for i in range(depth):
        parts.append(f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n')
    parts.append("Content-Type: text/plain\n\ninnermost secret\n")
    for i in reversed(range(depth)):
        parts.append(f"--b{i}--\n")
    msg = parse_message("".join(parts).encode(), limits=ScanLimits(max_depth=10))
    assert "scan.nesting" in ids(msg)
    assert not any("innermost" in v.text for v in msg.views)


def test_part_count_and_text_size_limits_truncate_and_report() -> None:
    body = "".join(f"--b\nContent-Type: text/plain\n\npart {i}\n" for i in range(50))
    raw = f'Subject: many\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n{body}--b--\n'.encode()
    msg = parse_message(raw, limits=ScanLimits(max_parts=10))
    assert "scan.truncated" in ids(msg)
    assert len(list(msg.texts("body"))) < 10

    big = b"Subject: big\n\n" + b"word " * 100_000
    msg = parse_message(big, limits=ScanLimits(max_text_bytes=4096))
    assert sum(len(v.text) for v in msg.views) <= 4096
    assert "scan.truncated" in ids(msg)


def test_oversized_attachment_is_cut_to_the_part_limit() -> None:
    payload = base64.encodebytes(b"A" * 5000).decode()
    raw = eml("""
        Subject: att
        MIME-Version: 1.0
        Content-Type: multipart/mixed; boundary="b"

        --b
        Content-Type: text/csv; name=a.csv
        Content-Disposition: attachment; filename=a.csv
        Content-Transfer-Encoding: base64

        """) + payload.encode() + b"\n--b--\n"
    msg = parse_message(raw, limits=ScanLimits(max_part_bytes=1024))
    assert len(msg.attachments[0].data) == 1024 and msg.attachments[0].truncated
    assert "scan.truncated" in ids(msg)


def test_eight_bit_headers_and_garbage_addresses_are_survivable() -> None:
    raw = b"From: \xff\xfe <<<@@>>\nTo: ,,,;;; \"unterminated\nSubject: \xe9t\xe9\n\nbody\n"
    msg = parse_message(raw)
    assert msg.subject  # decoded with replacement, printable
    msg.subject.encode("utf-8")
    assert isinstance(msg.header_addresses("From", "To"), list)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    parse_message(data)


@settings(max_examples=100, deadline=None)
@given(
    ctype=st.sampled_from(["text/plain", "text/html", "multipart/mixed", "message/rfc822", "application/zip", "x/y"]),
    charset=st.sampled_from(["utf-8", "latin-1", "bogus", "", "utf-16", "iso-2022-jp"]),
    cte=st.sampled_from(["base64", "quoted-printable", "7bit", "8bit", "x-uuencode", "garbage"]),
    body=st.binary(max_size=500),
)
def test_mime_shapes_with_bad_encodings_never_raise(ctype: str, charset: str, cte: str, body: bytes) -> None:
    raw = (f"Subject: t\nMIME-Version: 1.0\nContent-Type: {ctype}; charset={charset}; boundary=zz\n"
           f"Content-Transfer-Encoding: {cte}\n\n").encode() + body
    msg = parse_message(raw)
    for view in msg.views:
        view.text.encode("utf-8")


def test_attachment_names_in_rfc2231_and_encoded_words_are_decoded() -> None:
    raw = eml("""
        MIME-Version: 1.0
        Content-Type: multipart/mixed; boundary=b

        --b
        Content-Type: application/pdf
        Content-Disposition: attachment; filename*=utf-8''%E2%82%AC%20rates.pdf

        x
        --b
        Content-Type: application/octet-stream
        Content-Disposition: attachment; filename="=?utf-8?q?K=C3=B6ln.txt?="

        y
        --b--
        """)
    assert [a.filename for a in parse_message(raw).attachments] == ["€ rates.pdf", "Köln.txt"]


def _part_signature(root: Any) -> list[tuple[Any, ...]]:
    return [(p._headers, None if p.is_multipart() else p.get_payload(), [type(d) for d in p.defects],
             p.get_unixfrom(), p.preamble, p.epilogue) for p in root.walk()]


@pytest.mark.parametrize("raw", [
    b"From: a@x.example\nSubject: hi\n\nbody line\n\nmore\n",
    b"From: a@x.example\r\nSubject: hi\r\n\r\nbody\r\n",
    b"From sender Mon Jan 1 00:00:00 2024\nFrom: a@x.example\n\nbody\n",
    b"Subject: hi\nthis is no header\nX: y\n\nbody\n",           # headers end early: the rest is body
    b"Subject: hi\nFrom someone at the end\n\nbody\n",           # a From line pushed back into the body
    b"Subject: hi\rX: y\r\rbody\n\nmore\n",                      # bare CR line breaks
    b"\nbody only\n\n",
    b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b--\n",
    b"Content-Type: message/rfc822\n\nSubject: inner\n\ninner body\n",
    b"Content-Type: multipart/mixed\n\nno boundary\n",
    b"Subject: caf\xc3\xa9 \xff\n\n8-bit body \xe9\n",
    b"Subject: no body\n",
])
def test_single_part_fast_parse_is_the_whole_parse(raw: bytes) -> None:
    """The header-block shortcut gives what parsing the whole message gives, or is not taken."""
    from email.parser import BytesParser

    from outguard.core.message import PARSE_POLICY, _parse_root

    assert _part_signature(_parse_root(raw)) == _part_signature(BytesParser(policy=PARSE_POLICY).parsebytes(raw))
