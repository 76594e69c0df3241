"""The demo form on a machine without public DNS (a sandbox, a train).

``make run`` must let a newcomer click through the whole flow with no configuration. Where this
machine cannot resolve gmail.com, every real address would look undeliverable, so the built-in
demo form (only that one, and only in development) stops asking DNS and says so on the page.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from service.settings import Settings
from service.verification import Verifier

log = logging.getLogger("optin.demo")
CANARY = "optin.dns.check@gmail.com"


async def fit_demo_to_dns(settings: Settings, verifier: Verifier) -> Settings:
    if not (settings.server.development and settings.demo_form):
        return settings
    verdict = await verifier.verify(CANARY)
    if verdict.status == "deliverable":
        return settings
    log.warning(
        "this machine cannot resolve gmail.com's mail servers (%s): the demo form skips DNS checks",
        ", ".join(verdict.reasons) or verdict.status,
    )
    forms = {
        form_id: replace(form, policy=replace(form.policy, check_dns=False), dns_offline=True)
        for form_id, form in settings.forms.items()
    }
    return replace(settings, forms=forms)
