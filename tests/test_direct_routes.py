"""Which routes the edge calls straight (service.web.direct): only where the router would have
picked the same route, so that skipping it changes no answer."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from service.antibot.http import bundle
from service.settings import Settings
from service.web.context import SelfContained
from service.web.direct import Direct, direct_routes
from tests.support.app_server import base_config, client, make_settings, serve


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello")


def test_a_self_contained_route_at_a_fixed_path_is_found_by_method_and_path() -> None:
    verify = Route("/v1/verify", SelfContained(hello), methods=["POST"])
    assert direct_routes([verify]) == {("POST", "/v1/verify"): Direct(verify, hello)}


def test_routes_that_may_raise_or_take_parameters_go_the_usual_way() -> None:
    table = [
        Route("/plain", hello, methods=["POST"]),  # Starlette's exception wrapper has work there
        Route("/forms/{form_id}", SelfContained(hello), methods=["POST"]),
        Route("/any", SelfContained(hello)),  # every method: the router answers them
    ]
    assert direct_routes(table) == {}


def test_a_route_an_earlier_one_would_take_first_is_left_to_the_router() -> None:
    earlier = Route("/v1/{name}", hello, methods=["POST"])
    later = Route("/v1/verify", SelfContained(hello), methods=["GET", "POST"])
    only_get = Route("/v1/{name}", hello, methods=["GET"])
    # The earlier route takes every POST to /v1/verify; GET (and HEAD, which Starlette adds) are
    # the later one's: the earlier only half-matches them (another method), as the router sees it.
    assert set(direct_routes([earlier, later])) == {("GET", "/v1/verify"), ("HEAD", "/v1/verify")}
    assert set(direct_routes([only_get, later])) == {("POST", "/v1/verify")}


async def test_the_widget_answers_head_get_and_a_stale_copy_as_before_and_refuses_post(
    db_url: str, nameserver: str
) -> None:
    def configure(url: str) -> Settings:
        return make_settings(base_config(db_url, url, nameserver))

    async with serve(configure) as (url, _), client(url) as http:
        got = await http.get("/widget.js", headers={"accept-encoding": "identity"})
        head = await http.head("/widget.js", headers={"accept-encoding": "identity"})
        again = await http.get("/widget.js", headers={"if-none-match": got.headers["etag"]})
        posted = await http.post("/widget.js", content=b"")
    assert got.status_code == head.status_code == 200
    assert got.content == bundle().files["widget.js"][0]  # the widget as served, not gzipped
    assert head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"] == str(len(got.content))
    assert head.headers["etag"] == got.headers["etag"]
    for answer in (got, head, again, posted):
        assert answer.headers.get_list("x-content-type-options") == ["nosniff"]
        assert answer.headers.get("x-request-id")
    assert again.status_code == 304
    assert again.content == b""
    assert posted.status_code == 405
