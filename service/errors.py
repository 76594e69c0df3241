"""Every error optin raises on purpose, in one place.

Like aiosmtplib, errors inherit the builtin that best describes them, so callers that only
know Python's builtins still catch them sensibly, and delivery errors carry the remote ``.code``.

    OptinError
    ├── ConfigError(ValueError)          settings file or environment is wrong; message in words
    ├── InputError(ValueError)           a visitor's request is unusable -> 4xx with .status/.field
    ├── StoreError(RuntimeError)         the database cannot be used as it is; message in words
    │   └── SchemaVersionError           its schema is older (run `optin migrate`) or newer than ours
    ├── TokenError(ValueError)           a confirmation/unsubscribe link is unusable
    │   ├── TokenInvalid                 tampered, truncated or for another purpose
    │   └── TokenExpired                 signed by us but older than its max age
    └── DeliveryError(ConnectionError)   talking to an SMTP relay, a webhook or an ESP failed
        ├── MailError                    SMTP; .code is the relay's reply code
        └── ConnectorError               list connector; .code is the HTTP status

A DeliveryError is *transient* unless ``permanent`` is set: the outbox retries transient
errors with backoff (honouring ``retry_after``) and dead-letters permanent ones with ``detail``.
"""

from __future__ import annotations


class OptinError(Exception):
    """Base class of every deliberate optin error."""


class ConfigError(OptinError, ValueError):
    """The configuration cannot be used; ``problems`` lists each reason in words."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class InputError(OptinError, ValueError):
    """A request a visitor (or a bot) sent cannot be accepted."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        status: int = 422,
        retry_after: int | None = None,
        errors: dict[str, str] | None = None,
    ) -> None:
        self.message = message
        self.field = field
        self.status = status
        self.retry_after = retry_after  # seconds, sent as Retry-After with a 429
        self.errors = errors or {}  # field -> problem, when several fields are wrong at once
        super().__init__(message)


class StoreError(OptinError, RuntimeError):
    """The database cannot be used (unreachable, or not what this version expects)."""


class SchemaVersionError(StoreError):
    """The schema's version is not the one this optin runs on; ``found`` and ``expected`` say which."""

    def __init__(self, message: str, *, found: int, expected: int) -> None:
        self.found = found
        self.expected = expected
        super().__init__(message)


class TokenError(OptinError, ValueError):
    """A signed link cannot be used."""


class TokenInvalid(TokenError):
    """The token was not signed by us for this purpose."""


class TokenExpired(TokenError):
    """The token is genuine but too old; ``payload`` is still readable to offer a fresh one."""

    def __init__(self, message: str, payload: dict[str, str]) -> None:
        self.payload = payload
        super().__init__(message)


class DeliveryError(OptinError, ConnectionError):
    """A remote party did not take what we sent."""

    def __init__(
        self,
        detail: str,
        *,
        code: int | None = None,
        permanent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.detail = detail
        self.code = code
        self.permanent = permanent
        self.retry_after = retry_after
        super().__init__(detail)


class MailError(DeliveryError):
    """The SMTP relay refused or could not be reached.

    ``in_transaction``: the relay answered this message's RCPT or DATA (so a 4xx is a deferral
    of this recipient's mail, which service.pacing slows that domain down for), rather than
    failing to connect, secure or log in.
    """

    def __init__(
        self,
        detail: str,
        *,
        code: int | None = None,
        permanent: bool = False,
        retry_after: float | None = None,
        in_transaction: bool = False,
    ) -> None:
        super().__init__(detail, code=code, permanent=permanent, retry_after=retry_after)
        self.in_transaction = in_transaction


class ConnectorError(DeliveryError):
    """A list connector (webhook, ESP) refused or could not be reached."""
