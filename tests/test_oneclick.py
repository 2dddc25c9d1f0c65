"""One-click unsubscribe (RFC 8058): tokens that hide the address and cannot be forged,
and the HTTP endpoint that records the unsubscribe."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from outguard.cli.main import main
from outguard.store import SuppressionStore, resolve
from outguard.unsubscribe.server import Endpoint, serve
from outguard.unsubscribe.tokens import SecretError, TokenCodec, TokenError, load_secret

SECRET = b"s" * 40


def test_token_round_trip_hides_the_address() -> None:
    codec = TokenCodec(SECRET)
    token = codec.make("Patient.Name@Clinic.Example", "list:news.clinic.example")
    assert "patient" not in token.lower() and "clinic" not in token.lower() and "=" not in token
    unsub = codec.read(token)
    assert (unsub.address, unsub.scope) == ("patient.name@clinic.example", "list:news.clinic.example")
    assert codec.make("a@b.example") != codec.make("a@b.example")  # random IV: tokens are not linkable


def test_forged_tampered_and_foreign_tokens_are_refused() -> None:
    codec = TokenCodec(SECRET)
    token = codec.make("a@b.example")
    flipped = token[:30] + ("A" if token[30] != "A" else "B") + token[31:]
    for bad in ("", "x" * 50, flipped, TokenCodec(b"t" * 40).make("a@b.example"), token + "xx"):
        with pytest.raises(TokenError):
            codec.read(bad)


def test_secret_rules(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("OUTGUARD_ONECLICK_SECRET", raising=False)
    with pytest.raises(SecretError):
        load_secret(None)
    short = tmp_path / "short.key"
    short.write_text("tooshort")
    with pytest.raises(SecretError):
        load_secret(short)
    good = tmp_path / "good.key"
    good.write_text("k" * 48 + "\n")
    assert load_secret(good) == b"k" * 48


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[tuple[str, int, Endpoint]]:
    store = SuppressionStore(resolve(str(tmp_path / "s.sqlite3")), create=True)
    ep = Endpoint(TokenCodec(SECRET), store)
    server = serve(ep, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "127.0.0.1", server.server_address[1], ep
    server.shutdown()
    server.server_close()
    store.close()


def request(host: str, port: int, method: str, path: str, body: bytes = b"",
            ctype: str = "application/x-www-form-urlencoded") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request(method, path, body=body, headers={"Content-Type": ctype} if body else {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def test_endpoint_records_once(endpoint) -> None:
    host, port, ep = endpoint
    token = ep.codec.make("reader@partner.example", "list:news.clinic.example")
    status, headers, body = request(host, port, "GET", f"/u/{token}")
    assert status == 200 and b"method=post" in body and "set-cookie" not in headers
    assert ep.store.get("reader@partner.example") == []  # a GET never unsubscribes
    status, headers, body = request(host, port, "POST", f"/u/{token}", b"List-Unsubscribe=One-Click")
    assert status == 200 and "set-cookie" not in headers and b"reader" not in body
    rec = ep.store.get("reader@partner.example")[0]
    assert rec.reason == "unsubscribe" and rec.scope == "list:news.clinic.example" and rec.source == "one-click"
    assert request(host, port, "POST", f"/u/{token}", b"List-Unsubscribe=One-Click")[0] == 200
    assert len(ep.store.history("reader@partner.example")) == 1  # repeated POSTs: one event
    multipart = (b'--b\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--b--\r\n')
    other = ep.codec.make("second@partner.example")
    assert request(host, port, "POST", f"/u/{other}", multipart, "multipart/form-data; boundary=b")[0] == 200
    assert ep.store.get("second@partner.example")[0].scope == "global"


def test_endpoint_refuses_bad_requests(endpoint) -> None:
    host, port, ep = endpoint
    token = ep.codec.make("x@partner.example")
    assert request(host, port, "POST", f"/u/{token}", b"something=else")[0] == 400
    assert request(host, port, "POST", "/u/" + "A" * 60, b"List-Unsubscribe=One-Click")[0] == 404
    assert request(host, port, "GET", "/u/" + "A" * 60)[0] == 404
    assert request(host, port, "POST", "/elsewhere", b"List-Unsubscribe=One-Click")[0] == 404
    assert ep.store.get("x@partner.example") == []


def test_endpoint_store_down_is_503(tmp_path: Path) -> None:
    store = SuppressionStore(resolve("postgresql://nobody@127.0.0.1:1/none"), connect_timeout=1)
    ep = Endpoint(TokenCodec(SECRET), store)
    server = serve(ep, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        status, headers, _ = request("127.0.0.1", server.server_address[1], "POST",
                                     f"/u/{ep.codec.make('y@partner.example')}", b"List-Unsubscribe=One-Click")
        assert status == 503 and headers.get("retry-after") == "60"
    finally:
        server.shutdown()
        server.server_close()


def test_url_command(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("OUTGUARD_ONECLICK_SECRET", "z" * 40)
    code = main(["oneclick", "--config", "/dev/null", "url", "Reader@Partner.Example",
                 "--base-url", "https://unsub.clinic.example/"])
    out = capsys.readouterr().out
    assert code == 0 and "reader" not in out.lower()
    line, post = out.splitlines()
    assert line.startswith("List-Unsubscribe: <https://unsub.clinic.example/u/") and post.endswith("One-Click")
    token = line.split("/u/", 1)[1].rstrip(">")
    assert TokenCodec(b"z" * 40).read(token).address == "reader@partner.example"
