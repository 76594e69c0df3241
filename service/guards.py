"""The seam where anti-bot and anti-abuse checks plug into every signup entry point.

A guard sees the form and the whole request (every submitted field, the client's IP) before
anything is written, and refuses by raising :class:`service.errors.InputError` (status 4xx, a
message in words). Guards run in order; the first refusal wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from service.settings import FormSettings
    from service.signup import SignupRequest


class SignupGuard(Protocol):
    async def check(self, form: FormSettings, request: SignupRequest) -> None: ...
