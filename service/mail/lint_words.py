"""The lint's word lists: risky words and action verbs per language, shipped and the owner's. Pure.

The shipped lists are service/mail/lint_words.toml; ``[lint] risky_words_file`` names a file in
the same format whose words are added to them.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from service.errors import ConfigError

SHIPPED_WORDS = Path(__file__).with_name("lint_words.toml")


@dataclass(frozen=True)
class WordLists:
    """Per language: risky words, and the action verbs a confirmation button may use."""

    risky: Mapping[str, tuple[str, ...]]
    actions: Mapping[str, tuple[str, ...]]

    @staticmethod
    def read(path: Path) -> WordLists:
        """One word file; ConfigError in words when it cannot be used."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{str(path)!r} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{str(path)!r} cannot be read: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{str(path)!r} is not valid TOML: {exc}") from None
        risky: dict[str, tuple[str, ...]] = {}
        actions: dict[str, tuple[str, ...]] = {}
        problems = []
        for language, table in data.items():
            if not isinstance(table, dict) or set(table) - {"risky", "actions"}:
                problems.append(f"[{language}] must be a table with risky = [...] and/or actions = [...]")
                continue
            for key, target in (("risky", risky), ("actions", actions)):
                words = table.get(key, [])
                if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
                    problems.append(f"[{language}] {key} must be a list of words in quotes")
                    continue
                target[language] = tuple(w.strip() for w in words)
        if problems:
            raise ConfigError([f"{str(path)!r}: {p}" for p in problems])
        return WordLists(risky, actions)

    def merged(self, other: WordLists) -> WordLists:
        def merge(
            a: Mapping[str, tuple[str, ...]], b: Mapping[str, tuple[str, ...]]
        ) -> dict[str, tuple[str, ...]]:
            return {lang: tuple(dict.fromkeys([*a.get(lang, ()), *b.get(lang, ())])) for lang in {*a, *b}}

        return WordLists(merge(self.risky, other.risky), merge(self.actions, other.actions))


@cache
def shipped_words() -> WordLists:
    return WordLists.read(SHIPPED_WORDS)


def word_lists(extra_file: str = "") -> WordLists:
    """The shipped lists, with the owner's file added when one is configured."""
    return shipped_words().merged(WordLists.read(Path(extra_file))) if extra_file else shipped_words()


def _fold(text: str) -> str:
    """Case-folded and NFC-normalised, apostrophes unified, so « aidez-moi » meets "Aidez-moi"."""
    return unicodedata.normalize("NFC", text).casefold().replace("’", "'")


def words_in(text: str, words: Iterable[str]) -> list[str]:
    """The ``words`` that occur in ``text`` as whole words (or whole phrases)."""
    folded = _fold(text)
    found = []
    for word in words:
        pattern = r"(?<![\w])" + re.escape(_fold(word)) + r"(?![\w])"
        if re.search(pattern, folded):
            found.append(word)
    return found


__all__ = ["WordLists", "shipped_words", "word_lists", "words_in"]
