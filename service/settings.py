"""The one typed settings object, built once at start-up from TOML and the environment.

Nothing else in optin reads ``os.environ``. Any string value may be ``env:NAME`` so secrets
stay out of files; any setting may come from the environment alone (``OPTIN_SMTP__HOST``) or a
secret file (``OPTIN_SMTP__PASSWORD_FILE``), see :mod:`service.settings_env`. Every problem is
collected and reported together, in words, by :class:`service.errors.ConfigError`
(``optin check-config`` and ``optin serve`` print them one per line).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from service.errors import ConfigError
from service.settings_admin import admin_section
from service.settings_checks import address_problem, port_problem
from service.settings_env import layer
from service.settings_forms import form_section
from service.settings_reader import DEFAULT, Reader, closest, control_characters, dataclass_section, table_of
from service.settings_sections import check_numbers, server_section, smtp_section
from service.settings_types import (
    ADMIN_SCOPES,
    ASSETS_ROOT,
    LANGUAGES,
    REPO_ROOT,
    SMTP_PORTS,
    AdminKey,
    AdminSettings,
    DevSettings,
    DkimSettings,
    Environment,
    FormSettings,
    HookSettings,
    LimitSettings,
    LintSettings,
    OutboxSettings,
    ServerSettings,
    Settings,
    SmtpSettings,
)
from service.verification.config import VerifierConfig

__all__ = [
    "ADMIN_SCOPES",
    "ASSETS_ROOT",
    "LANGUAGES",
    "REPO_ROOT",
    "SMTP_PORTS",
    "AdminKey",
    "AdminSettings",
    "DevSettings",
    "DkimSettings",
    "Environment",
    "FormSettings",
    "HookSettings",
    "LimitSettings",
    "LintSettings",
    "OutboxSettings",
    "ServerSettings",
    "Settings",
    "SmtpSettings",
    "build_settings",
    "load_settings",
]


SECTIONS = (
    "server",
    "smtp",
    "dev",
    "outbox",
    "limits",
    "admin",
    "connectors",
    "forms",
    "dns",
    "verification",
    "lint",
    "imports",
)
KEYS_ENDING_IN_FILE = frozenset(
    name
    for cls in (
        ServerSettings,
        SmtpSettings,
        DkimSettings,
        OutboxSettings,
        LimitSettings,
        DevSettings,
        HookSettings,
        LintSettings,
    )
    for name in cls.__dataclass_fields__
    if name.endswith("_file")
)
DEMO_CONSENT = "I agree to receive the newsletter by email and can unsubscribe at any time."


def _connectors(data: dict[str, Any], r: Reader) -> dict[str, dict[str, Any]]:
    """Each ``[connectors.NAME]`` table, checked by building it (every problem of every one)."""
    from service.connectors.registry import build_connector

    connectors: dict[str, dict[str, Any]] = {}
    for name, table in table_of(data, "connectors", r).items():
        if not isinstance(table, dict):
            r.problems.append(f"[connectors.{name}] must be a table")
            continue
        options = r.untyped(f"connectors.{name}", table)
        try:
            build_connector(name, options)
        except ConfigError as exc:
            r.problems.extend(exc.problems)
        connectors[name] = options
    return connectors


def _forms(
    data: dict[str, Any], server: ServerSettings, connectors: Mapping[str, Any], r: Reader
) -> dict[str, FormSettings]:
    forms_raw = table_of(data, "forms", r)
    if not forms_raw:
        if server.environment == "production":
            r.problems.append(
                "no [forms.NAME] is configured: production needs at least one form"
                " (the demo form only stands in during development)"
            )
        forms_raw = {"newsletter": {"title": "Demo Newsletter", "consent_text": DEMO_CONSENT}}
    forms = {}
    for form_id, table in forms_raw.items():
        if not isinstance(table, dict):
            r.problems.append(f"[forms.{form_id}] must be a table")
            continue
        forms[form_id] = form_section(form_id, dict(table), connectors, r, server.token_max_age_days)
    return forms


def _imports(
    data: dict[str, Any], forms: Mapping[str, Any], connectors: Mapping[str, Any], r: Reader
) -> dict[str, Any]:
    from service.imports.settings import import_section

    found = {}
    for name, table in table_of(data, "imports", r).items():
        if not isinstance(table, dict):
            r.problems.append(f"[imports.{name}] must be a table")
            continue
        found[name] = import_section(name, dict(table), forms, connectors, r)
    return found


def _verifier(data: dict[str, Any], r: Reader) -> VerifierConfig:
    try:
        config = VerifierConfig.from_mapping(
            r.untyped("dns", table_of(data, "dns", r)),
            r.untyped("verification", table_of(data, "verification", r)),
        )
    except ConfigError as exc:
        r.problems.extend(exc.problems)
        return VerifierConfig()
    if config.probe_mail_from and (problem := address_problem(config.probe_mail_from)):
        r.problems.append(f"verification.probe_mail_from {problem}")
    return config


def _lint(table: dict[str, Any], r: Reader) -> LintSettings:
    from service.mail.lint_words import WordLists

    lint: LintSettings = dataclass_section(LintSettings, table, "lint", r)
    if lint.subject_max_length < 20:
        r.problems.append(f"lint.subject_max_length must be at least 20, not {lint.subject_max_length}")
    if lint.risky_words_file:
        try:
            WordLists.read(Path(lint.risky_words_file))
        except ConfigError as exc:
            r.problems.extend(f"lint.risky_words_file {p}" for p in exc.problems)
    return lint


def _unknown_sections(data: Mapping[str, Any], r: Reader) -> None:
    for key in data:
        hint = closest(str(key), SECTIONS)
        guess = f"did you mean [{hint}]?" if hint else f"the sections are {', '.join(SECTIONS)}"
        r.problems.append(f"[{key}] is not a section optin knows ({guess}){r._from(str(key))}")


def build_settings(raw: Mapping[str, Any], env: Mapping[str, str], source: str) -> Settings:
    """Turn a parsed TOML document, with the environment laid over it (``OPTIN_SECTION__KEY``),
    into Settings, or raise ConfigError listing every problem."""
    layered = layer(raw, source, env, KEYS_ENDING_IN_FILE)
    reader = Reader(env, layered.origins)
    reader.problems.extend(layered.problems)
    data = layered.data
    reader.problems.extend(control_characters(data))
    server = server_section(table_of(data, "server", reader), reader)
    dev = dataclass_section(DevSettings, table_of(data, "dev", reader), "dev", reader)
    if problem := port_problem(dev.mail_catcher_port, allow_zero=True):
        reader.problems.append(f"dev.mail_catcher_port {problem}")
    smtp = smtp_section(table_of(data, "smtp", reader), server, dev, reader)
    outbox = dataclass_section(OutboxSettings, table_of(data, "outbox", reader), "outbox", reader)
    check_numbers("outbox", outbox, reader)
    limits = dataclass_section(LimitSettings, table_of(data, "limits", reader), "limits", reader)
    check_numbers("limits", limits, reader)
    lint = _lint(table_of(data, "lint", reader), reader)
    admin_keys, admin = admin_section(table_of(data, "admin", reader), env, server.owner_email, reader)
    connectors = _connectors(data, reader)
    demo_form = not data.get("forms")
    forms = _forms(data, server, connectors, reader)
    imports = _imports(data, forms, connectors, reader)
    verifier = _verifier(data, reader)
    _unknown_sections(data, reader)
    if reader.problems:
        raise ConfigError(reader.problems)
    return Settings(
        server=server,
        smtp=smtp,
        forms=forms,
        connectors=connectors,
        outbox=outbox,
        limits=limits,
        admin_keys=admin_keys,
        admin=admin,
        dev=dev,
        lint=lint,
        verifier=verifier,
        source=source if source != NO_FILE or not layered.from_environment else "the environment",
        demo_form=demo_form,
        imports=imports,
        origins={k: v for k, v in reader.used.items() if v != DEFAULT},
    )


NO_FILE = "built-in development defaults"


def load_settings(path: str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (or $OPTIN_CONFIG) with the environment over it; with neither, the
    environment alone over development defaults."""
    env = dict(os.environ) if env is None else env
    path = path or env.get("OPTIN_CONFIG") or None
    if not path:
        return build_settings({}, env, NO_FILE)
    file = Path(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"the configuration file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory, not a settings file") from None
    except PermissionError:
        raise ConfigError(f"the configuration file {path} cannot be read by this user") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except ValueError as exc:  # a number TOML reads but Python does not (over 4,300 digits)
        raise ConfigError(f"{path} holds a value that cannot be read: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path} nests arrays or tables deeper than can be read") from None
    return build_settings(raw, env, str(file))
