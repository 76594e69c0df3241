"""Per-form anti-bot settings: the ``[forms.NAME.antibot]`` TOML table."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.errors import ConfigError

# The widget's solver (widget/solver.js) tries about 1 million numbers a second in Chromium on our
# 2-core test machine and 300 000-500 000 under Chrome's CPU throttling x4, Lighthouse's stand-in
# for a mid-range phone (`python bench/solver.py`, bench/README.md). 100 000 is then at most
# 0.26 s on a phone (half that on average: the secret number is uniform in the range); a bot pays
# it for every signup.
DEFAULT_ALTCHA_MAX_NUMBER = 100_000
ALTCHA_MAX_NUMBER_RANGE = (1_000, 10_000_000)
# Adaptive difficulty: the range is multiplied for a client being refused (see pressure.py).
# x3 keeps a real visitor who shares a network with a bot under 1 s on a phone (0.6-0.95 s at
# worst); x20 (2-3 s on a phone, 1 s on a laptop, on average) only meets an address refused 10
# times within the hour, which no person using the widget is.
DIFFICULTY_FACTORS = (1, 3, 20)
# A challenge is fetched with every page view that shows a form, and by each person behind one
# address (an office, a mobile carrier's NAT): 120 an hour leaves room for them while one
# address can no longer stockpile proofs (300 in 0.3 s) for other machines to spend.
DEFAULT_CHALLENGES_PER_IP_HOUR = 120


@dataclass(frozen=True)
class AntiBotPolicy:
    """Which defences a form enforces. All three are on by default.

    ``min_fill_seconds = 0`` turns the fill-time check off; ``max_age_minutes`` is how long a
    fill-time token and an ALTCHA challenge stay usable (the widget fetches fresh ones itself);
    ``challenges_per_ip_hour`` caps how many challenges one client address is issued (counted
    across forms and instances; 0 turns the cap off).
    """

    honeypot: bool = True
    min_fill_seconds: float = 3.0
    altcha: bool = True
    altcha_max_number: int = DEFAULT_ALTCHA_MAX_NUMBER
    max_age_minutes: float = 120.0
    challenges_per_ip_hour: int = DEFAULT_CHALLENGES_PER_IP_HOUR

    @property
    def fill_time(self) -> bool:
        return self.min_fill_seconds > 0

    @property
    def max_age_seconds(self) -> float:
        return self.max_age_minutes * 60.0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> AntiBotPolicy:
        """Build a policy from a settings table; every problem is reported, in words."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"antibot settings must be a table, not {type(data).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        problems: list[str] = []
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in fields:
                problems.append(
                    f"unknown antibot setting {key!r}; expected one of: {', '.join(sorted(fields))}"
                )
                continue
            default = getattr(cls, key)
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    problems.append(f"antibot setting {key!r} must be true or false, not {value!r}")
                    continue
            elif isinstance(default, int):
                if isinstance(value, bool) or not isinstance(value, int):
                    problems.append(f"antibot setting {key!r} must be a whole number, not {value!r}")
                    continue
            elif isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"antibot setting {key!r} must be a number, not {value!r}")
                continue
            else:
                value = float(value)
            values[key] = value
        low, high = ALTCHA_MAX_NUMBER_RANGE
        number = values.get("altcha_max_number", DEFAULT_ALTCHA_MAX_NUMBER)
        if not low <= number <= high:
            problems.append(
                f"antibot setting 'altcha_max_number' must be between {low:,} and {high:,} "
                f"(the work a browser does per signup), not {number!r}"
            )
        fill = values.get("min_fill_seconds", cls.min_fill_seconds)
        if not 0 <= fill <= 60:
            problems.append(
                f"antibot setting 'min_fill_seconds' must be between 0 (off) and 60 seconds, not {fill!r}"
            )
        age = values.get("max_age_minutes", cls.max_age_minutes)
        if not 5 <= age <= 7 * 24 * 60:
            problems.append(
                f"antibot setting 'max_age_minutes' must be between 5 and 10080 (a week), not {age!r}"
            )
        challenges = values.get("challenges_per_ip_hour", cls.challenges_per_ip_hour)
        if not 0 <= challenges <= 100_000:
            problems.append(
                f"antibot setting 'challenges_per_ip_hour' must be between 0 (no cap) and 100,000, not {challenges!r}"
            )
        if problems:
            raise ConfigError(problems)
        return cls(**values)
