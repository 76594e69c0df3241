"""The typed settings: what each section of the settings file becomes (see service.settings)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from service.antibot.policy import AntiBotPolicy
from service.form_fields import FieldSpec, ListSpec
from service.verification import Policy
from service.verification.config import VerifierConfig

if TYPE_CHECKING:
    from service.imports.settings import ImportSettings

REPO_ROOT = Path(__file__).resolve().parent.parent


def _assets_root() -> Path:
    """Where ``templates/`` and ``widget/`` are: the checkout, or ``share/optin`` of an installed wheel.

    An editable install or a checkout keeps them beside ``service/``; ``pip install optin`` puts them
    under the environment's data directory (pyproject's data-files), wherever that environment lives.
    """
    if (REPO_ROOT / "templates" / "pages").is_dir():
        return REPO_ROOT
    import sysconfig

    for scheme in (sysconfig.get_default_scheme(), sysconfig.get_preferred_scheme("user")):
        installed = Path(sysconfig.get_path("data", scheme)) / "share" / "optin"
        if (installed / "templates" / "pages").is_dir():
            return installed
    return REPO_ROOT  # nothing found: check-config names the missing templates folder


ASSETS_ROOT = _assets_root()
LANGUAGES = ("en", "fr", "es", "de")
SMTP_PORTS = (587, 465, 2525)

Environment = Literal["development", "production"]


@dataclass(frozen=True)
class ServerSettings:
    public_url: str
    secret_key: str
    database: str
    environment: Environment = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    auto_migrate: bool = True  # apply pending schema migrations at start-up (default: SQLite only)
    token_max_age_days: float = 7.0
    unsubscribe_max_age_days: float = 730.0
    max_body_bytes: int = 16_384
    owner_email: str = ""
    trusted_proxies: tuple[str, ...] = ()
    confirm_min_dwell_seconds: float = 1.5
    truncate_ips: bool = False
    retention_days: float = 30.0
    templates_dir: Path = ASSETS_ROOT / "templates"
    log_format: Literal["text", "json"] = "text"  # json: one object per line, with a request id

    @property
    def development(self) -> bool:
        return self.environment == "development"

    @property
    def origin(self) -> str:
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class DkimSettings:
    """``[smtp.dkim]``: every message optin sends is signed with this key (see service.mail.dkim).

    ``private_key`` is the PEM text itself (from ``env:…``, the environment or a secret file);
    ``private_key_file`` names the file it was read from, when it was.
    """

    domain: str
    selector: str
    private_key: str = field(repr=False)
    private_key_file: str = ""


@dataclass(frozen=True)
class SmtpSettings:
    """``port`` is 587 / 2525 (STARTTLS required), 465 (implicit TLS) or ``auto``.

    ``security = "none"`` is only accepted for a relay on loopback (the development catcher,
    or a local Mailpit): a real relay is never spoken to in plaintext.
    """

    host: str
    port: int | Literal["auto"]
    sender: str
    username: str = ""
    password: str = ""
    tls_ca_file: str = ""
    security: Literal["auto", "starttls", "tls", "none"] = "auto"
    timeout: float = 30.0
    helo_name: str = ""
    alerts_sender: str = ""  # From of the owner's alerts; subscription mail comes from ``sender``
    dkim: DkimSettings | None = None

    @property
    def alerts_from(self) -> str:
        return self.alerts_sender or self.sender


@dataclass(frozen=True)
class HookSettings:
    """How a contact-form plugin or a no-code tool posts submissions (``[forms.NAME.hook]``)."""

    secret: str
    email_field: str = "email"
    consent_field: str = "consent"
    first_name_field: str = ""
    last_name_field: str = ""
    language_field: str = ""
    submission_id_field: str = "submission_id"
    url_token: str = ""  # secret-URL mode for senders that cannot compute an HMAC
    tolerance_seconds: int = 300
    consent_text_field: str = ""  # flat bodies: the field holding the consent text the visitor saw


@dataclass(frozen=True)
class FormSettings:
    """``title`` and ``consent_text`` are in the form's ``language``; ``titles`` and
    ``consent_texts`` hold the other languages when the owner gave them (see :meth:`title_in`)."""

    id: str
    title: str
    language: str = "en"
    allowed_origins: tuple[str, ...] = ()
    connector: str = "builtin"
    thank_you_url: str = ""
    welcome_email: bool = False
    consent_text: str = ""
    titles: Mapping[str, str] = field(default_factory=dict)  # language -> title
    consent_texts: Mapping[str, str] = field(default_factory=dict)  # language -> consent text
    policy: Policy = field(default_factory=Policy)
    hook: HookSettings | None = None
    antibot: AntiBotPolicy = field(default_factory=AntiBotPolicy)
    widget_strings: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # language -> key -> text
    dns_offline: bool = False  # the development demo form on a machine without public DNS
    fields: tuple[FieldSpec, ...] = ()  # custom fields the widget draws and the server checks
    lists: tuple[ListSpec, ...] = ()  # lists the visitor chooses from
    reminder_after_hours: float = 0.0  # one reminder to a pending contact who never opened the link; 0: none

    def list_named(self, name: str) -> ListSpec | None:
        return next((spec for spec in self.lists if spec.name == name), None)

    def labels_of(self, names: tuple[str, ...], language: str | None) -> str:
        """The labels of lists ``names`` as a visitor reading ``language`` ticked them."""
        specs = [spec for spec in self.lists if spec.name in names]
        shown = self.shown_language(language)
        return ", ".join(spec.labels.get(shown) or spec.label for spec in specs)

    def connectors_for(self, chosen: tuple[str, ...]) -> tuple[str, ...]:
        """The list connectors a confirmed contact goes to: those of the lists chosen, else the form's."""
        if not self.lists:
            return () if self.connector == "builtin" else (self.connector,)
        names = {spec.connector for spec in self.lists if spec.name in chosen}
        return tuple(sorted(n for n in names if n != "builtin"))

    def shown_language(self, language: str | None) -> str:
        return language if language in LANGUAGES else self.language

    def title_in(self, language: str | None) -> str:
        """The title a visitor reading ``language`` sees (the form's own when not given in it)."""
        return self.titles.get(self.shown_language(language)) or self.title

    def consent_in(self, language: str | None) -> str:
        """The consent text a visitor reading ``language`` sees; the widget falls back alike."""
        return self.consent_texts.get(self.shown_language(language)) or self.consent_text

    @cached_property
    def _ledger_tags(self) -> dict[str, str]:
        tags = {}
        for language in LANGUAGES:
            title, consent = self.title_in(language), self.consent_in(language)
            shown = "\n".join((title, language, consent))
            version = hashlib.sha256(shown.encode()).hexdigest()[:12]
            tags[language] = (
                f"version={version} consent_sha256={hashlib.sha256(consent.encode()).hexdigest()}"
            )
        return tags

    def ledger_tag_for(self, language: str | None) -> str:
        """What the visitor was shown, for the consent ledger: a version that changes with the
        title, language or consent text, and the SHA-256 of the consent text in that language."""
        return self._ledger_tags[self.shown_language(language)]

    @property
    def ledger_tag(self) -> str:
        return self.ledger_tag_for(self.language)


@dataclass(frozen=True)
class OutboxSettings:
    concurrency: int = 8
    max_attempts: int = 25
    base_delay: float = 10.0
    max_delay: float = 3600.0
    lease_seconds: float = 60.0
    poll_interval: float = 1.0
    keep_done_days: float = 30.0  # finished (done, dropped) jobs are deleted after this; dead ones stay


@dataclass(frozen=True)
class LimitSettings:
    """Subscription-bombing defences (``[limits]``); 0 turns one off."""

    emails_per_address_day: int = 1
    emails_per_address_month: int = 3
    signups_per_ip_hour: int = 20
    signups_per_network_hour: int = 60
    signups_per_form_hour: int = 2000
    verify_per_ip_minute: int = 60  # POST /v1/verify; counted in memory, per instance
    code_tries_per_ip_hour: int = 30  # wrong confirmation codes, across signups (in the database)
    code_tries_per_network_hour: int = 90
    status_checks_per_ip_minute: int = 120  # the widget asking whether a signup was confirmed; in memory


@dataclass(frozen=True)
class LintSettings:
    """``[lint]``: the template lint's settings (service.mail.lint); the owner may add a word file."""

    risky_words_file: str = ""  # a TOML file of extra words, in the shipped list's format
    subject_max_length: int = 70


@dataclass(frozen=True)
class AdminKey:
    name: str
    sha256: str
    scopes: frozenset[str]


ADMIN_SCOPES = frozenset({"read", "export", "erase", "metrics", "admin"})


@dataclass(frozen=True)
class AdminSettings:
    """The web admin, ``/metrics`` and the daily digest (``[admin]``; keys are in Settings.admin_keys).

    The web admin is on when a key or ``password_hash`` is configured; a password signs in with
    every scope. ``metrics_listen`` serves ``/metrics`` without a key on a separate address.
    """

    password_hash: str = ""  # argon2id, as `optin admin-password` prints it
    session_hours: float = 8.0
    metrics_listen: str = ""  # "HOST:PORT"; empty: /metrics only on the main port, behind a key
    metrics_multiproc_dir: str = ""  # $PROMETHEUS_MULTIPROC_DIR, read by prometheus-client itself
    daily_digest: bool = False  # email server.owner_email yesterday's figures, once a day
    digest_hour: int = 7  # UTC hour from which yesterday's digest is sent


@dataclass(frozen=True)
class DevSettings:
    mail_catcher_port: int = 0  # 0: any free port on loopback


@dataclass(frozen=True)
class Settings:
    server: ServerSettings
    smtp: SmtpSettings
    forms: Mapping[str, FormSettings]
    connectors: Mapping[str, Mapping[str, Any]]
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    admin_keys: tuple[AdminKey, ...] = ()
    admin: AdminSettings = field(default_factory=AdminSettings)
    dev: DevSettings = field(default_factory=DevSettings)
    lint: LintSettings = field(default_factory=LintSettings)
    verifier: VerifierConfig = field(default_factory=VerifierConfig)
    source: str = "built-in development defaults"
    demo_form: bool = False  # no [forms] were configured: the demo form stands in
    origins: Mapping[str, str] = field(default_factory=dict)  # "smtp.password" -> where it was set
    imports: Mapping[str, ImportSettings] = field(default_factory=dict)  # [imports.NAME]
    import_tick_seconds: float = 30.0  # how often the worker looks for an import that is due

    @property
    def uses_dev_mail_catcher(self) -> bool:
        return self.server.development and not self.smtp.host
