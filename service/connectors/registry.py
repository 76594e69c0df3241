"""Which connector kinds exist, and building one from its ``[connectors.NAME]`` table."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from service.connectors.base import Connector
from service.errors import ConfigError

# A factory takes the connector's name and its TOML table (``env:`` values already resolved)
# and returns a ready connector, or raises ConfigError saying in words what is wrong.
ConnectorFactory = Callable[[str, Mapping[str, Any]], Connector]


def _webhook(name: str, options: Mapping[str, Any]) -> Connector:
    from service.connectors.webhook import WebhookConnector

    return WebhookConnector.from_options(name, options)


def _builtin(name: str, options: Mapping[str, Any]) -> Connector:
    from service.connectors.builtin import BuiltinListConnector

    return BuiltinListConnector.from_options(name, options)


def _mailchimp(name: str, options: Mapping[str, Any]) -> Connector:
    from service.connectors.mailchimp import MailchimpConnector

    return MailchimpConnector.from_options(name, options)


def _brevo(name: str, options: Mapping[str, Any]) -> Connector:
    from service.connectors.brevo import BrevoConnector

    return BrevoConnector.from_options(name, options)


def _sendgrid(name: str, options: Mapping[str, Any]) -> Connector:
    from service.connectors.sendgrid import SendGridConnector

    return SendGridConnector.from_options(name, options)


def _getresponse(name: str, options: Mapping[str, Any]) -> Connector:
    from service.connectors.getresponse import GetResponseConnector

    return GetResponseConnector.from_options(name, options)


def _kit(name: str, options: Mapping[str, Any]) -> Connector:
    from service.connectors.kit import KitConnector

    return KitConnector.from_options(name, options)


def _mailjet(name: str, options: Mapping[str, Any]) -> Connector:
    from service.connectors.mailjet import MailjetConnector

    return MailjetConnector.from_options(name, options)


KINDS: dict[str, ConnectorFactory] = {
    "webhook": _webhook,
    "builtin": _builtin,
    "mailchimp": _mailchimp,
    "brevo": _brevo,
    "sendgrid": _sendgrid,
    "getresponse": _getresponse,
    "kit": _kit,
    "mailjet": _mailjet,
}


def build_connector(name: str, options: Mapping[str, Any]) -> Connector:
    kind = options.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        known = ", ".join(sorted(KINDS))
        raise ConfigError(f"connectors.{name}.kind must be one of: {known} (got {kind!r})")
    return KINDS[kind](name, options)
