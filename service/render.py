"""Jinja2 rendering for emails and pages, with the message catalogs in templates/i18n/."""

from __future__ import annotations

import json
import time
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2

from service.settings import LANGUAGES

# An owner's edit to a template shows within this many seconds, without a restart; Jinja alone
# would stat the file on every render (two per email: 3.3 µs each, 0.4 µs from memory).
RECHECK_SECONDS = 2.0


class Renderer:
    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = templates_dir
        self._strings: dict[str, dict[str, str]] = {}
        self._loaded: dict[tuple[bool, str], tuple[jinja2.Template, float]] = {}
        self._html = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        # Plain-text mail is not HTML: escaping would show "&amp;" to the reader. Names that
        # reach it are cleaned by service.names first.
        self._text = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            autoescape=False,  # noqa: S701 - plain text, never rendered as HTML
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )

    @cached_property
    def catalogs(self) -> dict[str, dict[str, str]]:
        base = self.templates_dir / "i18n"
        return {lang: json.loads((base / f"{lang}.json").read_text(encoding="utf-8")) for lang in LANGUAGES}

    def strings(self, language: str) -> dict[str, str]:
        """The texts of ``language``, English where it has none. Shared: never change it."""
        if language not in self._strings:
            catalog = dict(self.catalogs["en"])
            catalog.update(self.catalogs.get(language, {}))
            self._strings[language] = catalog
        return self._strings[language]

    def _template(self, html: bool, name: str) -> jinja2.Template:
        now = time.monotonic()
        found = self._loaded.get((html, name))
        if found is not None and now - found[1] < RECHECK_SECONDS:
            return found[0]
        template = (self._html if html else self._text).get_template(name)  # reloads if changed
        self._loaded[(html, name)] = (template, now)
        return template

    def html(self, template: str, language: str = "en", **context: Any) -> str:
        return self._template(True, template).render(t=self.strings(language), lang=language, **context)

    def text(self, template: str, language: str = "en", **context: Any) -> str:
        return self._template(False, template).render(t=self.strings(language), lang=language, **context)

    def phrase(self, language: str, key: str, **values: str) -> str:
        return self.strings(language)[key].format(**values)
