"""Property tests (the CI slice of the fuzzing): generated MIME trees, headers and charsets
through the whole pipeline. Every message gets a verdict; none fails inside outguard."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outguard.core.message import Envelope, parse_message

CHARSETS = ["utf-8", "iso-8859-1", "windows-1252", "shift_jis", "koi8-r", "utf-16", "x-unknown", "", "\"utf-8\"",
            "us-ascii", "gb2312"]
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "binary", "x-uuencode", "bogus"]
TYPES = ["text/plain", "text/html", "text/csv", "application/pdf", "application/zip", "image/png",
         "message/rfc822", "application/octet-stream"]

header_names = st.sampled_from(["Subject", "From", "To", "Cc", "X-Mailer", "Received", "Reply-To", "List-Id",
                                "Content-Disposition", "X-Outguard-Route"])
header_values = st.one_of(
    st.text(max_size=120).map(lambda t: t.replace("\r", " ").replace("\n", " ")),
    st.sampled_from(["=?utf-8?q?Gr=C3=BC=C3=9Fe?=", "=?iso-8859-1?b?Zm/2?=", "=?bogus?x?zz?=", "\"unterminated",
                     "<<a@@b>>", "a@b.example, c@d.example", "x" * 2000]),
)
headers = st.lists(st.tuples(header_names, header_values), max_size=8)


@st.composite
def leaf(draw) -> bytes:
    ctype = draw(st.sampled_from(TYPES))
    charset = draw(st.sampled_from(CHARSETS))
    cte = draw(st.sampled_from(ENCODINGS))
    name = draw(st.one_of(st.none(), st.sampled_from(["a.txt", "r\u00e9sum\u00e9.pdf", "=?utf-8?q?K=C3=B6ln.csv?=",
                                                      "../../etc/passwd", ""])))
    body = draw(st.one_of(st.binary(max_size=400), st.text(max_size=400).map(lambda t: t.encode("utf-8", "replace"))))
    disp = f"Content-Disposition: attachment; filename=\"{name}\"\n" if name is not None else ""
    return (f"Content-Type: {ctype}; charset={charset}\nContent-Transfer-Encoding: {cte}\n{disp}\n").encode() + body


def multipart(children: list[bytes], boundary: str, close: bool) -> bytes:
    parts = b"".join(b"--" + boundary.encode() + b"\n" + c + b"\n" for c in children)
    end = b"--" + boundary.encode() + b"--\n" if close else b""
    return f"Content-Type: multipart/mixed; boundary=\"{boundary}\"\n\npreamble\n".encode() + parts + end


mime_tree = st.recursive(
    leaf(),
    lambda kids: st.builds(multipart, st.lists(kids, max_size=4), st.sampled_from(["b1", "b2", "==x==", ""]),
                           st.booleans()),
    max_leaves=12,
)


def render(hdrs: list[tuple[str, str]], tree: bytes) -> bytes:
    head = "".join(f"{n}: {v}\n" for n, v in hdrs).encode("utf-8", "surrogateescape")
    return head + b"MIME-Version: 1.0\n" + tree


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(hdrs=headers, tree=mime_tree)
def test_generated_mime_always_gets_a_verdict(hdrs, tree, outguard_harness_once) -> None:
    raw = render(hdrs, tree)
    msg = parse_message(raw)
    for view in msg.views:
        view.text.encode("utf-8")
    result = outguard_harness_once.inspector.inspect(raw, Envelope("a@b.example", ("c@d.example",), queue_id="H"))
    assert result.decision.verdict in {"deliver", "encrypt", "quarantine", "reject", "tempfail", "discard"}
    assert not any(f.id == "error.internal" for f in result.findings)
