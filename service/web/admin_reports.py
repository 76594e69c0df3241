"""The admin's Overview and Funnel pages: what the store's reports say, for 7, 30 or 90 days."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from service.connectors.status import connectors_health
from service.numbers import whole_number
from service.store.reports import DAY, DayCounts, FunnelRow
from service.web.admin_chart import Series, line_chart
from service.web.admin_http import admin_page, language, render
from service.web.context import services

PERIODS = (7, 30, 90)
TOP_DOMAINS = 15


@dataclass(frozen=True)
class Period:
    days: int
    since: float  # the start of the first day shown (UTC midnight)
    until: float
    first_day: int  # days since 1970-01-01

    @classmethod
    def of(cls, request: Request, now: float) -> Period:
        raw = request.query_params.get("days", "30")
        asked = whole_number(raw)
        days = asked if asked in PERIODS else 30
        first = int(now // DAY) - days + 1
        return cls(days, float(first * DAY), now, first)

    def labels(self) -> list[str]:
        return [
            datetime.fromtimestamp((self.first_day + i) * DAY, UTC).strftime("%d/%m")
            for i in range(self.days)
        ]


def per_day(rows: Iterable[DayCounts], period: Period) -> dict[str, list[int]]:
    found = {name: [0] * period.days for name in ("signups", "confirmations", "unsubscribes")}
    for row in rows:
        i = row.day - period.first_day
        if 0 <= i < period.days:
            found["signups"][i] += row.signups
            found["confirmations"][i] += row.confirmations
            found["unsubscribes"][i] += row.unsubscribes
    return found


@dataclass
class FormFigures:
    form_id: str
    signups: int = 0
    confirmations: int = 0
    unsubscribes: int = 0
    cohort: int = 0  # signed up in the period
    cohort_confirmed: int = 0  # ... and confirmed since


def per_form(
    forms: Iterable[str], rows: Iterable[DayCounts], cohort: dict[str, tuple[int, int]]
) -> list[FormFigures]:
    found = {form: FormFigures(form) for form in forms}
    for row in rows:
        figures = found.setdefault(row.form_id, FormFigures(row.form_id))
        figures.signups += row.signups
        figures.confirmations += row.confirmations
        figures.unsubscribes += row.unsubscribes
    for form, (total, confirmed) in cohort.items():
        figures = found.setdefault(form, FormFigures(form))
        figures.cohort, figures.cohort_confirmed = total, confirmed
    return sorted(found.values(), key=lambda f: f.form_id)


@admin_page("overview")
async def overview(request: Request) -> Response:
    svc = services(request)
    t = svc.renderer.strings(language(request))
    now = time.time()
    period = Period.of(request, now)
    form_id = request.query_params.get("form") or None
    if form_id not in svc.settings.forms:
        form_id = None
    reports = svc.reports
    rows = await reports.daily(period.since, period.until, form_id)
    cohort = await reports.cohort(period.since, period.until)
    if form_id:
        cohort = {k: v for k, v in cohort.items() if k == form_id}
    days = per_day(rows, period)
    totals = {name: sum(values) for name, values in days.items()}
    series = [Series(t[f"admin_{name}"], name, values) for name, values in days.items()]
    description = t["admin_chart_desc"].format(days=period.days, **totals)
    forms = per_form([form_id] if form_id else svc.settings.forms, rows, cohort)
    return render(
        request,
        "admin/overview.html",
        current="overview",
        period=period,
        periods=PERIODS,
        form_id=form_id or "",
        forms=list(svc.settings.forms),
        chart=line_chart(period.labels(), series, t["admin_chart_title"], description),
        days=days,
        day_labels=period.labels(),
        totals=totals,
        per_form=forms,
        cohort_total=sum(f.cohort for f in forms),
        cohort_confirmed=sum(f.cohort_confirmed for f in forms),
        median=await reports.median_confirm_seconds(period.since, period.until, form_id),
        depth=await reports.outbox_depth(now),
        now=now,
        connectors=await connectors_health(svc.store, tuple(svc.settings.connectors)),
    )


STAGES = ("accepted", "emailed", "opened", "by_person", "scanner_only", "confirmed", "delivered")


@dataclass
class Funnel:
    name: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 0))

    def add(self, row: FunnelRow, builtin: bool) -> None:
        for stage in STAGES:
            value = getattr(row, stage)
            # optin's own list: a confirmed contact is on it; no job delivers it anywhere.
            self.counts[stage] += row.confirmed if stage == "delivered" and builtin else value


def funnels(
    rows: Sequence[FunnelRow], builtin_forms: set[str], top: int = TOP_DOMAINS
) -> tuple[Funnel, list[Funnel], list[Funnel]]:
    total, by_form, by_domain = Funnel(""), dict[str, Funnel](), dict[str, Funnel]()
    for row in rows:
        builtin = row.form_id in builtin_forms
        total.add(row, builtin)
        by_form.setdefault(row.form_id, Funnel(row.form_id)).add(row, builtin)
        by_domain.setdefault(row.domain, Funnel(row.domain)).add(row, builtin)
    domains = sorted(by_domain.values(), key=lambda f: (-f.counts["accepted"], f.name))
    shown, rest = domains[:top], domains[top:]
    if rest:
        other = Funnel("")
        for funnel in rest:
            for stage in STAGES:
                other.counts[stage] += funnel.counts[stage]
        shown.append(other)
    return total, sorted(by_form.values(), key=lambda f: f.name), shown


@admin_page("funnel")
async def funnel(request: Request) -> Response:
    svc = services(request)
    period = Period.of(request, time.time())
    rows = await svc.reports.funnel(period.since, period.until)
    builtin = {f.id for f in svc.settings.forms.values() if f.connector == "builtin"}
    total, by_form, by_domain = funnels(rows, builtin)
    return render(
        request,
        "admin/funnel.html",
        current="funnel",
        period=period,
        periods=PERIODS,
        form_id="",
        stages=STAGES,
        total=total,
        by_form=by_form,
        by_domain=by_domain,
        retention_days=svc.settings.server.retention_days,
    )
