"""The review page as an ASGI app (Starlette, Jinja2 templates, served by uvicorn):
server-rendered, plain forms, no JavaScript.

Sessions are sealed cookies (the project's Fernet codec, HttpOnly, SameSite=Strict) that
expire after `review.session_minutes`; the role is read from the users file at every
request, so removing a user ends their session. Every form carries a CSRF token bound to
the session. Failed logins are limited per client and per user name. Pages show ids,
counts and structure, never a subject, a body or a finding's value; the original only to
an admin who asks for it (audited first)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from outguard.core.ratelimit import RateLimit
from outguard.notify.submit import SubmitError
from outguard.ops.queue import QueueError
from outguard.review import digest
from outguard.review.service import Actor, Refused, Review
from outguard.review.used import UsedTokens
from outguard.unsubscribe.tokens import TokenCodec, TokenError

log = logging.getLogger("outguard.review")
COOKIE = "og_review"
SESSION_CONTEXT = b"outguard review session v1"
LOGIN_CONTEXT = b"outguard review login form v1"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
Handler = Callable[[Request], Awaitable[Response]]


class ReviewApp:
    def __init__(self, review: Review, used: UsedTokens | None) -> None:
        self.review = review
        self.used = used
        minutes = int(review.section.get("session_minutes", 30))
        self.sessions: TokenCodec = review.codec(SESSION_CONTEXT, minutes * 60)
        self.login_forms: TokenCodec = review.codec(LOGIN_CONTEXT, 900)
        limit = review.section.get("login_limit") or {}
        self.failed_by_client = RateLimit(int(limit.get("count", 5)), float(limit.get("per_seconds", 300)))
        self.failed_by_user = RateLimit(int(limit.get("count", 5)), float(limit.get("per_seconds", 300)))
        self.secure_cookie = str(review.section.get("base_url") or "").startswith("https://")
        self.env = Environment(loader=PackageLoader("outguard.review", "templates"),
                               autoescape=select_autoescape(default=True))

    # -- plumbing
    def page(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    @staticmethod
    def client(request: Request) -> str:
        peer = request.client.host if request.client else "-"
        forwarded = request.headers.get("x-real-ip")  # set by the TLS proxy in front (README snippet)
        return forwarded.strip() if forwarded and peer in ("127.0.0.1", "::1") else peer

    def session(self, request: Request) -> tuple[Actor, str] | None:
        """(actor, csrf token) of a live session whose user still exists; None otherwise."""
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        try:
            data, _ = self.sessions.unseal(token)
        except TokenError:
            return None
        user = next((u for u in self.review.users.list() if u.name == data.get("u")), None)
        if user is None:
            return None
        return Actor(user, self.client(request)), str(data.get("c", ""))

    def authed(self, handler: Callable[[Request, Actor, str], Awaitable[Response]]) -> Handler:
        async def wrapped(request: Request) -> Response:
            found = self.session(request)
            if found is None:
                return RedirectResponse("/login", status_code=303, headers=SECURITY_HEADERS)
            actor, csrf = found
            if request.method == "POST":
                form = await request.form()
                if not secrets.compare_digest(str(form.get("csrf", "")), csrf):
                    return self.page("message.html", 403, title="Refused", text="The form expired; reload the page.")
            try:
                return await handler(request, actor, csrf)
            except Refused as exc:
                return self.page("message.html", 403, title="Refused", text=str(exc), actor=actor, csrf=csrf)
            except (QueueError, SubmitError) as exc:
                log.error("review action failed: %s", exc)
                return self.page("message.html", 502, title="Postfix refused", text="Postfix could not do it; "
                                 "see the review server's log.", actor=actor, csrf=csrf)
        return wrapped

    # -- login
    async def login_form(self, request: Request) -> Response:
        return self.page("login.html", form=self.login_forms.seal({"n": secrets.token_urlsafe(8)}))

    async def login(self, request: Request) -> Response:
        form = await request.form()
        name, password = str(form.get("user", ""))[:64], str(form.get("password", ""))[:1024]
        client = self.client(request)
        try:
            self.login_forms.unseal(str(form.get("form", "")))
        except TokenError:
            return self.page("login.html", 400, form=self.login_forms.seal({"n": secrets.token_urlsafe(8)}),
                             error="The form expired; try again.")
        if self.failed_by_client.blocked(client) or self.failed_by_user.blocked(name):
            self.review.record(name or "-", "login-throttled", None, client=client)
            return self.page("login.html", 429, form=self.login_forms.seal({"n": secrets.token_urlsafe(8)}),
                             error="Too many failed logins; wait a few minutes.")
        user = await run_in_threadpool(self.review.users.verify, name, password)
        if user is None:
            self.failed_by_client.allow(client)
            self.failed_by_user.allow(name)
            self.review.record(name or "-", "login-failed", None, client=client)
            return self.page("login.html", 401, form=self.login_forms.seal({"n": secrets.token_urlsafe(8)}),
                             error="Wrong user name or password.")
        self.review.record(user.name, "login", None, client=client, role=user.role)
        response = RedirectResponse("/", status_code=303, headers=SECURITY_HEADERS)
        response.set_cookie(COOKIE, self.sessions.seal({"u": user.name, "c": secrets.token_urlsafe(24)}),
                            max_age=int(self.sessions.max_age or 1800), httponly=True, samesite="strict",
                            secure=self.secure_cookie)
        return response

    async def logout(self, request: Request, actor: Actor, csrf: str) -> Response:
        self.review.record(actor.user.name, "logout", None)
        response = RedirectResponse("/login", status_code=303, headers=SECURITY_HEADERS)
        response.delete_cookie(COOKIE)
        return response

    # -- pages
    async def listing(self, request: Request, actor: Actor, csrf: str) -> Response:
        items = await run_in_threadpool(self.review.items)
        return self.page("list.html", actor=actor, csrf=csrf, held=[i for i in items if not i.is_shadow],
                         shadow=[i for i in items if i.is_shadow])

    async def detail(self, request: Request, actor: Actor, csrf: str) -> Response:
        item, parts = await run_in_threadpool(self.review.detail, request.path_params["qid"])
        return self.page("detail.html", actor=actor, csrf=csrf, item=item, parts=parts)

    async def act(self, request: Request, actor: Actor, csrf: str) -> Response:
        qid, action = request.path_params["qid"], request.path_params["action"]
        form = await request.form()
        if action == "release":
            await run_in_threadpool(self.review.release, actor, qid)
        elif action == "delete":
            await run_in_threadpool(self.review.delete, actor, qid)
        elif action == "release-as-is":
            await run_in_threadpool(self.review.release_as_is, actor, qid, str(form.get("justification", "")))
        elif action == "original":
            text = await run_in_threadpool(self.review.original, actor, qid)
            return self.page("original.html", actor=actor, csrf=csrf, qid=qid, text=text)
        else:
            raise Refused("unknown action")
        return self.page("message.html", actor=actor, csrf=csrf, title="Done", text=f"{action}: {qid}")

    async def bulk(self, request: Request, actor: Actor, csrf: str) -> Response:
        form = await request.form()
        action = str(form.get("action", ""))
        ids = [str(v) for v in form.getlist("ids")][:500]
        if action not in ("release", "delete") or not ids:
            raise Refused("choose messages and release or delete")
        done, refused = [], []
        for qid in ids:
            try:
                await run_in_threadpool(self.review.release if action == "release" else self.review.delete, actor, qid)
                done.append(qid)
            except Refused as exc:
                refused.append(f"{qid}: {exc}")
        return self.page("message.html", actor=actor, csrf=csrf, title="Done",
                         text=f"{action}: {len(done)} done" + (f"; refused: {'; '.join(refused)}" if refused else ""))

    async def trail(self, request: Request, actor: Actor, csrf: str) -> Response:
        if not actor.is_admin:
            raise Refused("only an admin may see the audit trail")
        records = await run_in_threadpool(self.review.trail)
        return self.page("audit.html", actor=actor, csrf=csrf, records=records)

    # -- digest links (no session: the sender follows a link from their digest)
    async def digest_link(self, request: Request) -> Response:
        token = request.path_params["token"]
        try:
            link = digest.read_link(self.review, token)
        except TokenError:
            return self.page("message.html", 404, title="Link not valid", text="This link is not valid or has expired.")
        key = TokenCodec.key_of(token)
        if self.used is None or await run_in_threadpool(self.used.used, key):
            return self.page("message.html", 410, title="Link used", text="This link was used already.")
        if request.method == "GET":  # link scanners follow GETs: the action needs the button
            return self.page("digest.html", link=link)
        if not await run_in_threadpool(self.used.spend, key, link.action):
            return self.page("message.html", 410, title="Link used", text="This link was used already.")
        held = next((h for h in await run_in_threadpool(self.review.held) if h.queue_id == link.queue_id
                     and h.message_id == link.message_id and h.sender.lower() == link.sender.lower()), None)
        if held is None:
            return self.page("message.html", 404, title="Not held", text="That message is no longer held.")
        actor = f"sender:{link.sender}"
        if link.action == "release" and held.route and not held.shadow:
            await run_in_threadpool(self.review.release_held, held, actor, "digest-release")
            return self.page("message.html", title="Released", text=f"Released over {held.route}.")
        self.review.record(actor, "digest-review-request", held)
        return self.page("message.html", title="Review asked", text="A reviewer will look at it.")

    def routes(self) -> list[Route]:
        return [
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.authed(self.logout), methods=["POST"]),
            Route("/", self.authed(self.listing), methods=["GET"]),
            Route("/m/{qid:str}", self.authed(self.detail), methods=["GET"]),
            Route("/m/{qid:str}/{action:str}", self.authed(self.act), methods=["POST"]),
            Route("/bulk", self.authed(self.bulk), methods=["POST"]),
            Route("/audit", self.authed(self.trail), methods=["GET"]),
            Route("/d/{token:str}", self.digest_link, methods=["GET", "POST"]),
        ]


def make_app(review: Review, used: UsedTokens | None) -> Starlette:
    return Starlette(routes=ReviewApp(review, used).routes())
