"""Who may see the admin: off unless configured, sign-in, the session cookie, CSRF, scopes, limits."""

from __future__ import annotations

import time
from dataclasses import replace
from http.cookies import SimpleCookie

import httpx

from service.settings import Settings
from service.tokens import Tokens
from service.web.admin_session import SESSION, credential_of
from tests.admin.support import KEYS, PASSWORD, csrf_of, sign_in, signed_in, with_admin
from tests.support.app_server import SECRET, client, relay_settings, serve
from tests.support.db import rows
from tests.support.relay import Relay


async def test_without_an_admin_configured_everything_under_admin_is_404(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = with_admin(relay_settings(db_url, nameserver, starttls_relay, ca_file), keys=("prom",))
    async with serve(configure) as (url, _), client(url) as http:
        for path in ("/admin", "/admin/", "/admin/sign-in", "/admin/overview", "/admin/assets/admin.css"):
            assert (await http.get(path)).status_code == 404, path
        assert (await http.post("/admin/sign-in", data={"secret": KEYS["prom"][0]})).status_code == 404


async def test_sign_in_with_a_key_sets_a_strict_httponly_session_cookie(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = with_admin(relay_settings(db_url, nameserver, starttls_relay, ca_file), session_hours=2)
    async with serve(configure) as (url, _), client(url) as http:
        first = await http.get("/admin")
        assert (first.status_code, first.headers["location"]) == (303, "/admin/sign-in")
        assert (await http.get("/admin/overview")).headers["location"] == "/admin/sign-in"

        wrong = await sign_in(http, "optin_not-a-key")
        assert wrong.status_code == 401 and "This key or password is not valid." in wrong.text
        assert "optin_admin=" not in wrong.headers.get("set-cookie", "")

        answer = await sign_in(http, KEYS["ops"][0])
        assert (answer.status_code, answer.headers["location"]) == (303, "/admin/overview")
        cookie = SimpleCookie(
            next(
                v
                for k, v in answer.headers.multi_items()
                if k == "set-cookie" and v.startswith("optin_admin=")
            )
        )
        morsel = cookie["optin_admin"]
        assert morsel["httponly"] and morsel["samesite"] == "strict" and morsel["path"] == "/"
        assert morsel["max-age"] == str(2 * 3600) and not morsel["secure"]  # http: not Secure
        page = await http.get("/admin/overview")
        assert page.status_code == 200 and "<h1>Overview</h1>" in page.text
        assert page.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]

        # Signing out ends the session in this browser.
        out = await http.post("/admin/sign-out", data={"csrf": csrf_of(page.text)})
        assert out.headers["location"] == "/admin/sign-in"
        assert (await http.get("/admin/overview")).headers["location"] == "/admin/sign-in"


async def test_signing_out_ends_the_session_everywhere_its_cookie_was_copied(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = with_admin(relay_settings(db_url, nameserver, starttls_relay, ca_file))
    async with serve(configure) as (url, _), serve(configure) as (other, _):
        async with client(url) as http, client(other) as thief:
            assert (await sign_in(http, KEYS["ops"][0])).status_code == 303
            stolen = http.cookies["optin_admin"]
            thief.cookies.set("optin_admin", stolen)  # the cookie, copied to another machine
            assert (await thief.get("/admin/overview")).status_code == 200  # it works, for now

            page = await http.get("/admin/overview")
            await http.post("/admin/sign-out", data={"csrf": csrf_of(page.text)})
            http.cookies.set("optin_admin", stolen)  # and a browser that kept it
            for browser in (thief, http):
                answer = await browser.get("/admin/overview")
                assert (answer.status_code, answer.headers["location"]) == (303, "/admin/sign-in")
            refused = await thief.post("/admin/sign-out", data={"csrf": csrf_of(page.text)})
            assert refused.status_code == 401
    assert rows(db_url, "SELECT count(*) FROM admin_signouts") == [(1,)]


async def test_on_https_the_cookie_is_secure_with_the_host_prefix(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    plain = relay_settings(db_url, nameserver, starttls_relay, ca_file)

    def https(url: str) -> Settings:
        settings = plain(url)
        return replace(settings, server=replace(settings.server, public_url="https://signup.example.com"))

    async with serve(with_admin(https)) as (url, _), client(url) as http:
        page = await http.get("/admin/sign-in")
        pre = page.headers["set-cookie"]
        assert pre.startswith("__Host-optin_admin_pre=") and "Secure" in pre
        http.cookies.set("__Host-optin_admin_pre", pre.split(";")[0].split("=", 1)[1])
        answer = await http.post(
            "/admin/sign-in",
            data={"csrf": csrf_of(page.text), "secret": KEYS["ops"][0]},
            headers={"origin": "https://signup.example.com"},
        )
        assert answer.status_code == 303, answer.text
        session = next(v for k, v in answer.headers.multi_items() if v.startswith("__Host-optin_admin="))
        assert "Secure" in session and "HttpOnly" in session and "SameSite=strict" in session
        assert "Path=/" in session and "Domain" not in session


async def test_a_forged_expired_or_revoked_session_is_not_accepted(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = with_admin(relay_settings(db_url, nameserver, starttls_relay, ca_file))
    tokens = Tokens(SECRET)
    async with serve(configure) as (url, settings), client(url) as http:
        await signed_in(http, "ops")
        genuine = http.cookies["optin_admin"]
        assert (await http.get("/admin/overview")).status_code == 200
        found = credential_of(settings, "key:ops")
        assert found is not None
        fingerprint = found[0]
        cases = {
            "tampered": genuine[:-2] + ("AA" if not genuine.endswith("AA") else "BB"),
            "signed with another secret": Tokens("another-secret-0123456789").sign(
                SESSION, {"a": "key:ops", "f": fingerprint, "s": "x", "e": time.time() + 3600}
            ),
            "past its expiry": tokens.sign(
                SESSION, {"a": "key:ops", "f": fingerprint, "s": "x", "e": time.time() - 1}
            ),
            "for a key since rotated": tokens.sign(
                SESSION, {"a": "key:ops", "f": "0" * 16, "s": "x", "e": time.time() + 3600}
            ),
            "for a key that does not exist": tokens.sign(
                SESSION, {"a": "key:gone", "f": fingerprint, "s": "x", "e": time.time() + 3600}
            ),
        }
        for why, value in cases.items():
            http.cookies.clear()
            http.cookies.set("optin_admin", value)
            answer = await http.get("/admin/overview")
            assert answer.status_code == 303 and answer.headers["location"] == "/admin/sign-in", why


async def test_every_post_needs_the_sessions_csrf_token(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = with_admin(relay_settings(db_url, nameserver, starttls_relay, ca_file))
    async with serve(configure) as (url, _), client(url) as http, client(url) as other:
        token = await signed_in(http, "ops")
        theirs = await signed_in(other, "ops")
        assert token != theirs
        altered = token[:-1] + ("1" if token.endswith("0") else "0")  # one character off, never the same
        for data in ({}, {"csrf": ""}, {"csrf": theirs}, {"csrf": altered}):
            answer = await http.post("/admin/outbox/retry", data={**data, "all_dead": "yes"})
            assert answer.status_code == 403 and "This form has expired" in answer.text, data
        foreign = await http.post(
            "/admin/outbox/retry",
            data={"csrf": token, "all_dead": "yes"},
            headers={"origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        ok = await http.post("/admin/outbox/retry", data={"csrf": token, "all_dead": "yes"})
        assert (ok.status_code, ok.headers["location"]) == (303, "/admin/outbox?done=retried%3A0")
        # The sign-in form has a token of its own.
        fresh = httpx.AsyncClient(base_url=url)
        async with fresh:
            refused = await fresh.post("/admin/sign-in", data={"secret": KEYS["ops"][0]})
            assert refused.status_code == 403 and "optin_admin=" not in refused.headers.get("set-cookie", "")


async def test_scopes_decide_each_page_and_action(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = with_admin(relay_settings(db_url, nameserver, starttls_relay, ca_file))
    async with serve(configure) as (url, _), client(url) as reader, client(url) as dpo, client(url) as prom:
        token = await signed_in(reader, "reader")
        for page in ("overview", "funnel", "outbox", "connectors"):
            assert (await reader.get(f"/admin/{page}")).status_code == 200, page
        denied = await reader.get("/admin/contacts")
        assert denied.status_code == 403 and "lacks the “export” scope" in denied.text
        overview = await reader.get("/admin/overview")
        assert 'href="/admin/contacts"' not in overview.text  # not offered either
        for action in ("/admin/outbox/retry", "/admin/outbox/drop", "/admin/connectors/test"):
            answer = await reader.post(action, data={"csrf": token, "job": "1", "form": "newsletter"})
            assert answer.status_code == 403 and "“admin” scope" in answer.text, action
        refused = await reader.post("/admin/contacts/erase", data={"csrf": token, "email": "a@example.org"})
        assert refused.status_code == 403 and "“erase” scope" in refused.text

        first = await sign_in(dpo, KEYS["dpo"][0])
        assert first.headers["location"] == "/admin/contacts"  # its first page
        assert (await dpo.get("/admin/overview")).status_code == 403

        # A key for /metrics only cannot sign in to the admin.
        assert (await sign_in(prom, KEYS["prom"][0])).status_code == 401


async def test_a_password_signs_in_with_every_scope(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    from argon2 import PasswordHasher

    digest = PasswordHasher().hash(PASSWORD)
    configure = with_admin(
        relay_settings(db_url, nameserver, starttls_relay, ca_file), keys=(), password_hash=digest
    )
    async with serve(configure) as (url, _), client(url) as http:
        assert (await sign_in(http, PASSWORD + "!")).status_code == 401
        answer = await sign_in(http, PASSWORD)
        assert answer.status_code == 303
        page = await http.get("/admin/contacts")
        assert page.status_code == 200 and ">password<" in page.text


async def test_failed_sign_ins_are_limited_across_instances(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = with_admin(relay_settings(db_url, nameserver, starttls_relay, ca_file))
    async with serve(configure) as (a, _), serve(configure) as (b, _), client(a) as on_a, client(b) as on_b:
        for i in range(10):  # ten wrong guesses, shared between two instances on one database
            answer = await sign_in(on_a if i % 2 else on_b, f"optin_guess-{i}")
            assert answer.status_code == 401
        blocked = await sign_in(on_a, KEYS["ops"][0])  # even the right key waits now
        assert blocked.status_code == 429 and blocked.headers["retry-after"] == "900"
        assert "Too many failed attempts" in blocked.text
        assert (await sign_in(on_b, KEYS["ops"][0])).status_code == 429


async def test_concurrent_wrong_passwords_are_checked_no_more_than_the_limit(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    # The attack: one sign-in page's CSRF token, then forty guesses sent at once. Each guess used
    # to be checked against "blocked?" before any failure was counted, so all forty got an
    # argon2 verification (and a fresh forty every window). Now an attempt is counted as it is
    # admitted, and the eleventh waits.
    import asyncio

    from argon2 import PasswordHasher

    configure = with_admin(
        relay_settings(db_url, nameserver, starttls_relay, ca_file),
        keys=(),
        password_hash=PasswordHasher().hash(PASSWORD),
    )
    async with serve(configure) as (url, _), client(url) as http:
        page = await http.get("/admin/sign-in")
        token = csrf_of(page.text)
        answers = await asyncio.gather(
            *(http.post("/admin/sign-in", data={"csrf": token, "secret": f"guess-{i}"}) for i in range(40))
        )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [401] * 10 + [429] * 30, statuses
        # The right password waits out the window too: nothing tells the guesser it was right.
        assert (
            await http.post("/admin/sign-in", data={"csrf": token, "secret": PASSWORD})
        ).status_code == 429


async def test_a_successful_sign_in_does_not_use_up_an_attempt(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = with_admin(relay_settings(db_url, nameserver, starttls_relay, ca_file))
    async with serve(configure) as (url, _), client(url) as http:
        for _ in range(12):  # more sign-ins than the limit of failures, none of them failed
            assert (await sign_in(http, KEYS["ops"][0])).status_code == 303
            http.cookies.clear()
        for i in range(10):
            assert (await sign_in(http, f"optin_guess-{i}")).status_code == 401
        assert (await sign_in(http, KEYS["ops"][0])).status_code == 429
