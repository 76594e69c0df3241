"""The demo form on a machine without public DNS (a sandbox, a train).

``make run`` must let a newcomer click through the whole flow with no configuration. Where this
machine cannot resolve gmail.com's mail servers (see service.verification.dnshealth), the
built-in demo form (only that one, and only in development) stops asking DNS and says so on the
page, rather than calling every address "unknown".
"""

from __future__ import annotations

import logging
from dataclasses import replace

from service.settings import Settings
from service.verification.dnshealth import ResolverHealth

log = logging.getLogger("optin.demo")


def fit_demo_to_dns(settings: Settings, health: ResolverHealth) -> Settings:
    if health.ok or not (settings.server.development and settings.demo_form):
        return settings
    log.warning("the demo form skips DNS checks: %s", health.detail)
    forms = {
        form_id: replace(form, policy=replace(form.policy, check_dns=False), dns_offline=True)
        for form_id, form in settings.forms.items()
    }
    return replace(settings, forms=forms)
