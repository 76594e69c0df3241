"""Which connector kinds exist, and building one from its ``[connectors.NAME]`` table."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from service.connectors.base import Connector
from service.errors import ConfigError

# Each kind's class, imported only when a connector of that kind is configured. Its
# ``from_options(name, options)`` takes the ``[connectors.NAME]`` table (``env:`` values already
# resolved) and returns a ready connector, or raises ConfigError saying in words what is wrong.
KINDS: dict[str, str] = {
    "webhook": "service.connectors.webhook:WebhookConnector",
    "builtin": "service.connectors.builtin:BuiltinListConnector",
    "mailchimp": "service.connectors.mailchimp:MailchimpConnector",
    "brevo": "service.connectors.brevo:BrevoConnector",
    "sendgrid": "service.connectors.sendgrid:SendGridConnector",
    "getresponse": "service.connectors.getresponse:GetResponseConnector",
    "kit": "service.connectors.kit:KitConnector",
    "mailjet": "service.connectors.mailjet:MailjetConnector",
}


def build_connector(name: str, options: Mapping[str, Any]) -> Connector:
    kind = options.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        known = ", ".join(sorted(KINDS))
        raise ConfigError(f"connectors.{name}.kind must be one of: {known} (got {kind!r})")
    module, _, cls = KINDS[kind].partition(":")
    connector: Connector = getattr(importlib.import_module(module), cls).from_options(name, options)
    return connector
