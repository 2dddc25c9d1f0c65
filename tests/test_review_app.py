"""The review page's own safeguards, without Postfix: users file, login limits, sessions
(expiry, removed users), CSRF, roles, headers. The held-mail flows run end to end in
tests/e2e/test_review_browser.py."""

from __future__ import annotations

import re
import stat
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from outguard.core.config import load_config
from outguard.review.app import COOKIE, SESSION_CONTEXT, make_app
from outguard.review.service import Review
from outguard.review.users import UsersError, UsersFile
from outguard.unsubscribe.tokens import TokenCodec

SECRET = b"q" * 40


@pytest.fixture
def review(tmp_path: Path) -> Review:
    (tmp_path / "key").write_bytes(SECRET)
    config = load_config(Path("/dev/null"), {
        "review": {"secret_file": str(tmp_path / "key"), "users_file": str(tmp_path / "users.yaml"),
                   "audit_path": str(tmp_path / "review-audit.jsonl"), "session_minutes": 5,
                   "login_limit": {"count": 3, "per_seconds": 300}},
        "audit": {"path": str(tmp_path / "audit.jsonl")}})
    r = Review(config)
    r.users.add("rita", "reviewer", "reviewer-pass-1")
    r.users.add("adam", "admin", "admin-pass-0001")
    return r


def login(client: TestClient, name: str, password: str) -> int:
    form = re.search(r'name="form" value="([^"]+)"', client.get("/login").text)
    assert form
    return client.post("/login", data={"form": form.group(1), "user": name, "password": password},
                       follow_redirects=False).status_code


def test_users_file_keeps_argon2_hashes_only_and_0600(tmp_path: Path) -> None:
    users = UsersFile(tmp_path / "u.yaml")
    users.add("rita", "reviewer", "correct horse battery")
    text = (tmp_path / "u.yaml").read_text()
    assert "correct horse" not in text and "$argon2id$" in text
    assert stat.S_IMODE((tmp_path / "u.yaml").stat().st_mode) == 0o600
    assert users.verify("rita", "correct horse battery").role == "reviewer"
    assert users.verify("rita", "wrong") is None and users.verify("nobody", "correct horse battery") is None
    with pytest.raises(UsersError):
        users.add("bob", "reviewer", "short")
    with pytest.raises(UsersError):
        users.add("bob", "root", "long enough password")
    assert users.remove("rita") and not users.remove("rita") and users.list() == []


def test_roles_csrf_and_audit(review: Review) -> None:
    client = TestClient(make_app(review, None))
    assert client.get("/audit", follow_redirects=False).status_code == 303, "no session: to the login page"
    assert login(client, "rita", "reviewer-pass-1") == 303
    refused = client.get("/audit")
    assert refused.status_code == 403 and "only an admin" in refused.text
    assert refused.headers["content-security-policy"].startswith("default-src 'none'")
    assert refused.headers["x-frame-options"] == "DENY" and refused.headers["cache-control"] == "no-store"
    assert client.post("/logout", data={"csrf": "guess"}).status_code == 403
    assert login(client, "adam", "admin-pass-0001") == 303
    page = client.get("/audit")
    assert page.status_code == 200 and "login" in page.text and "rita" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf and client.post("/logout", data={"csrf": csrf.group(1)}, follow_redirects=False).status_code == 303
    actions = [line for line in review.audit_path.read_text().splitlines()]
    assert sum('"action":"login"' in a for a in actions) == 2 and any('"action":"logout"' in a for a in actions)


def test_failed_logins_are_limited_per_client_and_per_user(review: Review) -> None:
    app = make_app(review, None)
    client = TestClient(app, client=("192.0.2.1", 40000))
    assert [login(client, "rita", "nope") for _ in range(3)] == [401, 401, 401]
    assert login(client, "rita", "reviewer-pass-1") == 429, "even the right password, once limited"
    assert login(client, "adam", "admin-pass-0001") == 429, "that client is limited for every user"
    elsewhere = TestClient(app, client=("192.0.2.2", 40000))
    assert login(elsewhere, "rita", "reviewer-pass-1") == 429, "and that user from every client"
    assert login(elsewhere, "adam", "admin-pass-0001") == 303
    assert '"action":"login-throttled"' in review.audit_path.read_text()


def test_sessions_expire_and_end_when_the_user_is_removed(review: Review) -> None:
    client = TestClient(make_app(review, None))
    codec = TokenCodec(SECRET, context=SESSION_CONTEXT, max_age_seconds=300)
    client.cookies.set(COOKIE, codec.seal({"u": "adam", "c": "x"}, at=int(time.time()) - 301))
    assert client.get("/audit", follow_redirects=False).status_code == 303, "expired"
    client.cookies.set(COOKIE, codec.seal({"u": "adam", "c": "x"}))
    assert client.get("/audit").status_code == 200
    review.users.remove("adam")
    assert client.get("/audit", follow_redirects=False).status_code == 303, "removed user: session over"
    forged = TokenCodec(b"z" * 40, context=SESSION_CONTEXT).seal({"u": "rita", "c": "x"})
    client.cookies.set(COOKIE, forged)
    assert client.get("/audit", follow_redirects=False).status_code == 303
