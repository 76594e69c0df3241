"""The server side of the widget's three anti-bot defences, enforced on every signup entry point.

- a honeypot text field (``optin_hp``) hidden with CSS: a filled one is refused;
- a signed minimum fill time (``optin_ts``): a token signed with the server secret when the form
  is drawn; a signup sent sooner than ``min_fill_seconds`` after it is refused;
- an ALTCHA proof of work (``altcha``): a challenge signed with a key derived from the server
  secret (so it survives restarts and is shared by every instance), solved by the visitor's
  browser; each solution is accepted once (claimed in the store, which every instance shares).

A form's ``[forms.NAME.antibot]`` table (:class:`AntiBotPolicy`) turns each defence on or off.
"""

from __future__ import annotations

from service.antibot.guard import ALTCHA_FIELD, FILL_FIELD, HONEYPOT_FIELD, AntiBotGuard, Challenges
from service.antibot.policy import AntiBotPolicy

__all__ = [
    "ALTCHA_FIELD",
    "FILL_FIELD",
    "HONEYPOT_FIELD",
    "AntiBotGuard",
    "AntiBotPolicy",
    "Challenges",
]
