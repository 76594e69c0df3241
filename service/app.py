"""The composition root: build every part from Settings, wire the routes, run the worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from service import jobs, metrics
from service.antibot import AntiBotGuard
from service.antibot import http as antibot_http
from service.app_roles import Role
from service.codes import SignupCodes
from service.confirmation import Confirmations
from service.connectors.base import Connector
from service.connectors.builtin import BuiltinListConnector
from service.connectors.registry import build_connector
from service.delivery import Delivery
from service.demo import fit_demo_to_dns
from service.digest import digest_every
from service.limits import MinuteCounter
from service.mail.catcher import MailCatcher
from service.mail.smtp import MEMORY_KEY, SmtpMailer
from service.outbox import OutboxWorker
from service.render import Renderer
from service.retention import purge_every
from service.settings import ASSETS_ROOT, Settings
from service.signup import SignupService
from service.store import Store, open_store
from service.store.reports import Reports
from service.tokens import Tokens
from service.verification import Verifier
from service.verification.dnshealth import ResolverWatch
from service.web import admin, api, dev, hooks, metrics_http, pages, probes
from service.web.admin_routes import admin_routes
from service.web.admin_session import admin_enabled
from service.web.context import SelfContained
from service.web.edge import Edge
from service.web.openapi import openapi_json
from service.web.pages import PAGE_HEADERS

log = logging.getLogger("optin")
PAGE_CSS = ASSETS_ROOT / "templates" / "pages" / "page.css"
JOB_GRACE_SECONDS = 10.0  # on SIGTERM, how long running jobs may finish before they are handed back


def build_connectors(settings: Settings) -> dict[str, Connector]:
    built: dict[str, Connector] = {"builtin": BuiltinListConnector()}
    for name, options in settings.connectors.items():
        built[name] = build_connector(name, options)
    return built


def build_mailer(settings: Settings, store: Store, catcher: MailCatcher | None) -> SmtpMailer:
    if catcher is not None:
        return SmtpMailer(settings.smtp, host="127.0.0.1", port=catcher.port)

    async def remember(port: str) -> None:
        await store.kv_set(MEMORY_KEY, port)

    async def recall() -> str | None:
        return await store.kv_get(MEMORY_KEY)

    return SmtpMailer(settings.smtp, remember=remember, recall=recall)


def log_template_warnings(settings: Settings, renderer: Renderer, tokens: Tokens) -> None:
    from service.mail.preview import template_warnings

    for warning in template_warnings(settings, renderer, tokens):
        log.warning("email template: %s (`optin lint-templates` explains)", warning)


async def page_css(request: Request) -> Response:
    return FileResponse(PAGE_CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


async def not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    extra = (exc.headers or {}) if isinstance(exc, HTTPException) else {}  # a 405's Allow
    if request.url.path.startswith("/v1/"):
        return JSONResponse({"error": detail}, status_code=status, headers=extra)
    return Response(detail, status_code=status, media_type="text/plain", headers={**PAGE_HEADERS, **extra})


class EdgedStarlette(Starlette):
    """Starlette with the edge outside everything, its error handler included: an unexpected 500
    carries the security headers and a request id, its log line names the request, and /metrics
    counts it, like every other answer (a middleware in the list would sit inside the handler)."""

    def __init__(self, edge: Callable[[ASGIApp], ASGIApp], **options: Any) -> None:
        self.edge = edge
        super().__init__(**options)

    def build_middleware_stack(self) -> ASGIApp:
        return self.edge(super().build_middleware_stack())


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": "something went wrong on our side; nothing was lost, please retry"}, 500)


PROBES = [
    Route("/livez", probes.livez),
    Route("/readyz", probes.readyz),
    Route("/metrics", metrics_http.with_key),
]


def routes(settings: Settings, role: Role = "all") -> list[Route]:
    if role == "worker":
        return list(PROBES)
    # Starlette tries routes in order: the ones every visitor hits come first.
    table = [
        Route("/v1/forms/{form_id}/subscribe", api.subscribe, methods=["POST"]),
        Route("/v1/verify", SelfContained(api.verify), methods=["POST"]),
        Route("/widget.js", SelfContained(antibot_http.widget_script), methods=["GET"]),
        Route("/widget/{version}/{name:path}", antibot_http.widget_asset),
        Route("/v1/forms/{form_id}/challenge", antibot_http.challenge),
        Route("/v1/forms/{form_id}", api.form_config),
        Route("/v1/forms/{form_id}/code", api.code, methods=["POST"]),
        Route("/v1/forms/{form_id}/status", api.signup_status, methods=["POST"]),
        Route("/v1/forms/{form_id}/resend", api.resend, methods=["POST"]),
        Route("/confirm/resend", pages.resend, methods=["POST"]),
        Route("/confirm/{token}", pages.confirm, methods=["GET", "POST"]),
        Route("/unsubscribe/{token}", pages.unsubscribe, methods=["GET", "POST"]),
        Route("/thanks", pages.thanks),
        Route("/assets/page.css", page_css),
        Route("/v1/hooks/{form_id}", hooks.receive, methods=["POST"]),
        Route("/v1/hooks/{form_id}/{url_token}", hooks.receive, methods=["POST"]),
        # ":path": an address may hold "/" (percent-encoded or not), and must still be found.
        Route("/v1/contacts/{email:path}/export", admin.export),
        Route("/v1/contacts/{email:path}", admin.erase, methods=["DELETE"]),
        *PROBES,
        Route("/healthz", api.health),
        Route("/openapi.json", openapi_json),
    ]
    if admin_enabled(settings):
        table += admin_routes()
    if settings.server.development:
        table += [
            Route("/", dev.demo),
            Route("/dev/mail", dev.mail_list),
            Route("/dev/mail/{mail_id:int}", dev.mail_detail),
            Route("/dev/mail/{mail_id:int}/html", dev.mail_html),
        ]
    return table


def create_app(
    configured: Settings, role: Role = "all", clock: Callable[[], float] = time.time
) -> EdgedStarlette:
    """``clock``: the time signups, codes, reminders and the outbox go by (tests move it on)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        verifier = Verifier(configured.verifier)
        resolver = ResolverWatch(verifier)
        settings = fit_demo_to_dns(configured, await resolver.check())
        app.state.resolver = resolver
        store = await open_store(settings.server.database, settings.server.auto_migrate)
        catcher = None
        if settings.uses_dev_mail_catcher:
            catcher = MailCatcher()
            port = await catcher.start(port=settings.dev.mail_catcher_port)
            log.info(
                "development mail catcher on 127.0.0.1:%s; caught mail at %s/dev/mail",
                port,
                settings.server.public_url,
            )
        renderer = Renderer(settings.server.templates_dir)
        tokens = Tokens(settings.server.secret_key)
        if role != "web":  # the process that sends the mail tells what may land it in spam
            log_template_warnings(settings, renderer, tokens)
        connectors = build_connectors(settings)
        mailer = build_mailer(settings, store, catcher)
        delivery = Delivery(settings, store, mailer, connectors, renderer, tokens, clock=clock)
        worker = OutboxWorker(store, settings.outbox, delivery.run, delivery.lane, clock=clock)
        from service.web.context import Services

        antibot = AntiBotGuard.from_settings(settings, store)
        confirmations = Confirmations(settings, store, tokens, worker.wake)
        app.state.antibot = antibot
        app.state.settings = settings
        app.state.verifier = verifier
        app.state.services = Services(
            settings=settings,
            store=store,
            renderer=renderer,
            tokens=tokens,
            verifier=verifier,
            signup=SignupService(settings, store, verifier, worker.wake, guards=[antibot], clock=clock),
            confirmations=confirmations,
            worker=worker,
            connectors=connectors,
            catcher=catcher,
            verify_limit=MinuteCounter(settings.limits.verify_per_ip_minute),
            codes=SignupCodes(settings, store, tokens, confirmations, worker.wake, clock),
            status_limit=MinuteCounter(settings.limits.status_checks_per_ip_minute),
            reports=Reports(store),
        )
        app.state.store = store
        metrics.prepare(settings.forms, settings.connectors, jobs.EMAIL_KINDS)
        side = metrics_http.separate_listener(app.state.services)
        await side.__aenter__()
        background: list[asyncio.Task[None]] = []
        if role != "worker":  # only a process that verifies addresses needs to watch the resolver
            background.append(asyncio.create_task(resolver.run()))
        if role != "web":
            worker.start()
            store.listen_for_jobs(worker.wake)
            background.append(asyncio.create_task(purge_every(store, settings)))
            if settings.admin.daily_digest:
                background.append(asyncio.create_task(digest_every(store, settings, worker.wake)))
            # Also with no recurring import configured: a manual `optin import` killed mid-run
            # is noticed here (a read every tick; a write only when a run fell silent).
            from service.imports.schedule import ImportScheduler

            scheduler = ImportScheduler(settings, store, verifier)
            background.append(asyncio.create_task(scheduler.run_forever(settings.import_tick_seconds)))
        log.info(
            "optin %s process ready (%s)", role, "jobs run here" if role != "web" else "no jobs run here"
        )
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await side.__aexit__(None, None, None)
            await worker.stop(JOB_GRACE_SECONDS)
            await mailer.aclose()
            for connector in connectors.values():
                await connector.aclose()
            if catcher is not None:
                await catcher.stop()
            await verifier.aclose()
            await app.state.services.reports.aclose()
            await store.close()

    settings = configured
    table = routes(settings, role)
    app = EdgedStarlette(
        lambda inner: Edge(inner, routes=table, settings=settings, on_error=server_error),
        routes=table,
        exception_handlers={HTTPException: not_found, Exception: server_error},
        lifespan=lifespan,
    )
    app.state.role = role
    return app
