"""POST /v1/forms/{id}/subscribe as a visitor, a browser form and a bot would use it."""

from __future__ import annotations

from tests.support.app_server import (
    answer_shape,
    client,
    confirm,
    link_in,
    relay_settings,
    serve,
    text_of,
    wait_for,
)
from tests.support.relay import Relay


async def test_same_answer_for_new_pending_and_confirmed(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with serve(relay_settings(db_url, nameserver, starttls_relay, ca_file)) as (url, _):
        async with client(url) as http:
            new = await http.post(
                "/v1/forms/newsletter/subscribe", json={"email": "bo@example.org", "consent": True}
            )
            await wait_for(lambda: starttls_relay.messages, what="the first confirmation")
            pending = await http.post(
                "/v1/forms/newsletter/subscribe", json={"email": "bo@example.org", "consent": True}
            )
            await wait_for(
                lambda: len(starttls_relay.messages) == 2, what="a fresh link for a pending address"
            )
            await confirm(http, link_in(starttls_relay.messages[-1], "confirm"))
            confirmed = await http.post(
                "/v1/forms/newsletter/subscribe", json={"email": "bo@example.org", "consent": True}
            )
            assert new.status_code == pending.status_code == confirmed.status_code == 202
            assert answer_shape(new) == answer_shape(pending) == answer_shape(confirmed)
            assert len({new.json()["signup"], pending.json()["signup"], confirmed.json()["signup"]}) == 3
            # Already on the list: nothing more is sent to that address.
            await http.get("/healthz")
            assert len(starttls_relay.messages) == 2


async def test_plain_html_form_post_redirects_to_thank_you(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = relay_settings(
        db_url, nameserver, starttls_relay, ca_file, thank_you_url="https://www.example.com/merci"
    )
    async with serve(configure) as (url, _):
        async with client(url) as http:
            answer = await http.post(
                "/v1/forms/newsletter/subscribe", data={"email": "cy@example.org", "consent": "on"}
            )
            assert answer.status_code == 303
            assert answer.headers["location"] == "https://www.example.com/merci"
            bad = await http.post("/v1/forms/newsletter/subscribe", data={"email": "not-an-address"})
            assert bad.status_code == 422
            assert "text/html" in bad.headers["content-type"] and "@" in bad.text


async def test_bad_input_gets_a_4xx_with_a_message(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with serve(relay_settings(db_url, nameserver, starttls_relay, ca_file)) as (url, _settings):
        async with client(url) as http:
            post = "/v1/forms/newsletter/subscribe"
            cases = [
                (await http.post(post, json={"email": "a@b@example.org", "consent": True}), 422, "email"),
                (await http.post(post, json={"email": "", "consent": True}), 422, "email"),
                (await http.post(post, json={"email": "dee@example.org"}), 422, "consent"),
                (await http.post(post, json={"email": ["x"], "consent": True}), 422, "email"),
                (await http.post(post, json=["email"]), 400, None),
                (
                    await http.post(post, content=b"{not json", headers={"content-type": "application/json"}),
                    400,
                    None,
                ),
                (
                    await http.post(post, content=b"email=x", headers={"content-type": "text/plain"}),
                    415,
                    None,
                ),
                (
                    await http.post(
                        post, content=b"x" * 20_000, headers={"content-type": "application/json"}
                    ),
                    413,
                    None,
                ),
                (await http.post("/v1/forms/nope/subscribe", json={"email": "e@example.org"}), 404, "form"),
                (
                    await http.post(post, json={"email": "nobody@nxdomain-test.com", "consent": True}),
                    422,
                    "email",
                ),
            ]
            for response, status, field in cases:
                assert response.status_code == status, response.text
                body = response.json()
                assert body["error"] and isinstance(body["error"], str)
                if field:
                    assert body["field"] == field
            assert starttls_relay.messages == []


async def test_names_with_links_never_reach_an_email(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    async with serve(relay_settings(db_url, nameserver, starttls_relay, ca_file)) as (url, _):
        async with client(url) as http:
            spam = "WIN $$$ at http://spam.example/x"
            await http.post(
                "/v1/forms/newsletter/subscribe",
                json={"email": "eve@example.org", "first_name": spam, "consent": True},
            )
            await http.post(
                "/v1/forms/newsletter/subscribe",
                json={"email": "fay@example.org", "first_name": "<b>Fay</b> & co", "consent": True},
            )
            await http.post(
                "/v1/forms/newsletter/subscribe",
                json={
                    "email": "gus@example.org",
                    "first_name": "Gus\r\nBcc: victim@example.org",
                    "consent": True,
                },
            )
            await wait_for(lambda: len(starttls_relay.messages) == 3, what="three confirmations")
            eve, fay, gus = (
                starttls_relay.to(a)[0] for a in ("eve@example.org", "fay@example.org", "gus@example.org")
            )
            assert "spam.example" not in eve.as_string() and text_of(eve).startswith("Hello,")
            html = fay.get_body(preferencelist=("html",))
            assert html is not None and "<b>Fay" not in html.get_content()
            assert "Bcc" not in str(gus.keys()) and "victim" not in str(gus["To"])
            assert text_of(gus).startswith("Hello,\r\n")  # a name holding an address is dropped
            assert len(gus.get_all("To") or []) == 1


async def test_cors_only_for_the_forms_allowed_origins(
    starttls_relay: Relay, ca_file: str, db_url: str, nameserver: str
) -> None:
    configure = relay_settings(
        db_url, nameserver, starttls_relay, ca_file, allowed_origins=["https://www.example.com"]
    )
    async with serve(configure) as (url, _settings):
        async with client(url) as http:
            post = "/v1/forms/newsletter/subscribe"
            preflight = await http.options(
                post,
                headers={"Origin": "https://www.example.com", "Access-Control-Request-Method": "POST"},
            )
            assert preflight.status_code == 204
            assert preflight.headers["access-control-allow-origin"] == "https://www.example.com"
            allowed = await http.post(
                post,
                json={"email": "hal@example.org", "consent": True},
                headers={"Origin": "https://www.example.com"},
            )
            assert allowed.status_code == 202
            assert allowed.headers["access-control-allow-origin"] == "https://www.example.com"
            other = await http.post(
                post,
                json={"email": "ivy@example.org", "consent": True},
                headers={"Origin": "https://evil.example"},
            )
            assert other.status_code == 403 and "not allowed" in other.json()["error"]
            config = await http.get("/v1/forms/newsletter", headers={"Origin": "https://evil.example"})
            assert config.status_code == 403
            await wait_for(lambda: starttls_relay.messages, what="the allowed signup's email")
            assert [m["To"] for m in starttls_relay.messages] == ["hal@example.org"]
