"""What optin counts for Prometheus, and how ``/metrics`` is put together.

Counters and histograms live in prometheus-client's registry, in this process; with
``$PROMETHEUS_MULTIPROC_DIR`` set (several processes serving: web and worker roles on one host,
or uvicorn workers), prometheus-client keeps each process's values in a file there and a scrape
of any process adds them all up. The outbox's depth and the age of its oldest due job are read
from the database at scrape time, so every instance reports the same shared queue.

Label values are bounded: forms and connectors are the configured ones (anything else is
``unknown``), reasons and outcomes are fixed words, routes are route templates, never paths.
"""

from __future__ import annotations

import functools
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from service.errors import InputError
from service.ledger import link_actor

ANTIBOT_FIELDS = frozenset({"optin_hp", "optin_ts", "altcha"})
SIGNUP_OUTCOMES = ("accepted", "duplicate", "address", "no_consent", "antibot", "rate_limited", "invalid")
EMAIL_OUTCOMES = ("sent", "retried", "dead")
LINK_ACTORS = ("person", "scanner", "page_view")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

SIGNUPS = Counter(
    "optin_signups",
    "Signup requests by form and outcome: accepted, duplicate (a sender's repeated submission id),"
    " or why it was refused (address, no_consent, antibot, rate_limited, invalid)",
    ["form", "outcome"],
)
EMAILS = Counter(
    "optin_emails", "Emails by kind and outcome: sent (the relay took it), retried, dead", ["kind", "outcome"]
)
CONFIRMATIONS = Counter("optin_confirmations", "Subscriptions confirmed, by form", ["form"])
UNSUBSCRIBES = Counter("optin_unsubscribes", "Unsubscribes, by form", ["form"])
LINK_OPENS = Counter(
    "optin_link_opens",
    "Visits to confirmation links: by a person (pressed the button after the dwell time), by a"
    " scanner (HEAD, or a press without the page's nonce or too fast), or a page view (either)",
    ["by"],
)
VERDICTS = Counter(
    "optin_verifications", "Address verification verdicts, by decision and where asked", ["decision", "where"]
)
CONNECTOR_CALLS = Counter(
    "optin_connector_calls",
    "Calls to list connectors, by connector and outcome (ok, partial, failed, rate_limited)",
    ["connector", "outcome"],
)
REQUEST_SECONDS = Histogram(
    "optin_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template, method and status",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class Labels:
    """The label values this deployment may use: its forms and connectors, nothing a stranger types."""

    forms: frozenset[str] = frozenset()
    connectors: frozenset[str] = frozenset()
    email_kinds: frozenset[str] = frozenset()

    @classmethod
    def form(cls, name: str | None) -> str:
        return name if name in cls.forms else "unknown"

    @classmethod
    def connector(cls, name: str) -> str:
        return name if name in cls.connectors else "unknown"


def prepare(forms: Iterable[str], connectors: Iterable[str], email_kinds: Iterable[str]) -> None:
    """Know the configured names, and show every series at 0 before its first event."""
    Labels.forms = frozenset(forms)
    Labels.connectors = frozenset(connectors)
    Labels.email_kinds = frozenset(email_kinds)
    for form in Labels.forms:
        for outcome in SIGNUP_OUTCOMES:
            SIGNUPS.labels(form, outcome)
        CONFIRMATIONS.labels(form)
        UNSUBSCRIBES.labels(form)
    for kind in Labels.email_kinds:
        for outcome in EMAIL_OUTCOMES:
            EMAILS.labels(kind, outcome)
    for actor in LINK_ACTORS:
        LINK_OPENS.labels(actor)


def refusal(exc: InputError) -> str:
    """Why a signup was refused, in one of a few words."""
    if exc.status == 429:
        return "rate_limited"
    if exc.field in ANTIBOT_FIELDS:
        return "antibot"
    if exc.field == "email":
        return "address"
    if exc.field == "consent":
        return "no_consent"
    return "invalid"


S = TypeVar("S")
R = TypeVar("R")
A = TypeVar("A")


def counts_signups(method: Callable[[S, R], Awaitable[A]]) -> Callable[[S, R], Awaitable[A]]:
    """Count what became of each signup request (``SignupService.subscribe``: its answer is
    truthy, or has ``fresh``, unless a sender's submission id was seen before)."""

    @functools.wraps(method)
    async def counted(self: S, request: R) -> A:
        form = Labels.form(getattr(request, "form_id", None))
        try:
            answer = await method(self, request)
        except InputError as exc:
            if exc.status != 404:  # no such form: nothing to count it under
                SIGNUPS.labels(form, refusal(exc)).inc()
            raise
        fresh = getattr(answer, "fresh", answer)
        SIGNUPS.labels(form, "accepted" if fresh else "duplicate").inc()
        return answer

    return counted


def link_visit(method: str, outcome: str) -> None:
    """One fetch or press of a confirmation link (service.confirmation), as the page recorded it."""
    actor = link_actor(method, outcome)
    if actor in LINK_ACTORS:
        LINK_OPENS.labels(actor).inc()


def confirm_pressed(method: str, outcome: str, form_id: str | None) -> None:
    """The page's button was pressed: ``outcome`` is the state it led to, or why it did not count."""
    link_visit(method, outcome)
    if outcome == "confirmed":
        CONFIRMATIONS.labels(Labels.form(form_id)).inc()


def unsubscribed(form_id: str) -> None:
    UNSUBSCRIBES.labels(Labels.form(form_id)).inc()


_VERDICT_SERIES: dict[tuple[str, str], Any] = {}


def verdict(decision: str, where: str) -> None:
    # Each address check lands here: keep each series' child instead of looking it up each time.
    series = _VERDICT_SERIES.get((decision, where))
    if series is None:
        series = _VERDICT_SERIES[(decision, where)] = VERDICTS.labels(decision, where)
    series.inc()


def email_sent(kind: str, reply: str) -> str:
    """Count an email the relay took; returns the relay's reply (the job's note)."""
    EMAILS.labels(kind, "sent").inc()
    return reply


def job_failed(kind: str, dead: bool) -> None:
    """An outbox job failed: retried later, or dead. Only emails are counted here (lists have
    their own calls counted by connector)."""
    if kind in Labels.email_kinds:
        EMAILS.labels(kind, "dead" if dead else "retried").inc()


def connector_call(connector: str, succeeded: int, failed: int, failed_call: bool, throttled: bool) -> None:
    if throttled:
        outcome = "rate_limited"
    elif failed_call:
        outcome = "failed"
    else:
        outcome = "partial" if failed and succeeded else "failed" if failed else "ok"
    CONNECTOR_CALLS.labels(Labels.connector(connector), outcome).inc()


def quick_observer(child: Any) -> Callable[[float], None]:
    """``child.observe`` for a labelled Histogram, doing only what an observation without an
    exemplar does (add to the sum, count in the first bucket that holds it), in half the time:
    every request comes here. Falls back to ``observe`` if prometheus-client's insides change."""
    try:
        bounds, buckets, total = list(child._upper_bounds), list(child._buckets), child._sum
    except AttributeError:
        observe: Callable[[float], None] = child.observe
        return observe
    if len(bounds) != len(buckets) or bounds[-1] != float("inf"):
        observe = child.observe
        return observe

    def quick(amount: float) -> None:
        total.inc(amount)
        buckets[bisect_left(bounds, amount)].inc(1)  # the first bound >= amount, as observe counts

    return quick


def request_observer(route: str, method: str, status: int) -> Callable[[float], None]:
    """What observes one request's latency in its series (the caller keeps it: every request)."""
    child = REQUEST_SECONDS.labels(route, method if method in METHODS else "other", str(status))
    return quick_observer(child)


class _ThisProcess(Collector):
    """prometheus-client's own registry, handed to a fresh registry for one scrape."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class _Snapshot(Collector):
    """Values read from the database for this scrape."""

    def __init__(self, gauges: Iterable[Metric]) -> None:
        self.gauges = list(gauges)

    def collect(self) -> Iterator[Metric]:
        return iter(self.gauges)


def outbox_gauges(pending: int, dead: int, oldest_due_at: float | None, now: float) -> list[Metric]:
    jobs = GaugeMetricFamily(
        "optin_outbox_jobs", "Jobs in the outbox, by state (shared queue)", labels=["state"]
    )
    jobs.add_metric(["pending"], pending)
    jobs.add_metric(["dead"], dead)
    age = GaugeMetricFamily(
        "optin_outbox_oldest_due_age_seconds",
        "How long the oldest due job has been waiting (0 when none is due)",
        value=max(0.0, now - oldest_due_at) if oldest_due_at is not None else 0.0,
    )
    return [jobs, age]


def exposition(multiproc_dir: str, gauges: Iterable[Metric], accept: str = "") -> tuple[bytes, str]:
    """What a scrape gets, in the format its Accept header asks for (Prometheus text, or
    OpenMetrics): every process's counters (or this one's), and ``gauges``; and its media type."""
    registry = CollectorRegistry(auto_describe=False)
    if multiproc_dir:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry, path=multiproc_dir)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess())
    registry.register(_Snapshot(gauges))
    encode, media_type = choose_encoder(accept)
    return encode(registry), media_type
