"""The template lint: what in an email makes filters and readers distrust it. Pure.

It reads a message exactly as it would be sent (subject, headers, text and HTML parts) and
reports, in words with the fix: risky words (service/mail/lint_words.toml plus the owner's
``[lint] risky_words_file``; a word in the subject weighs more than one in a body), an ALL-CAPS
or "!!!" subject, a subject too long for a phone, a missing text part, a link whose text shows
one domain while it goes to another, URL shorteners, images without ``alt``, more than one
call to action; and, for the confirmation email, the good practice it must follow: exactly one
call to action, with an action verb, above the fold, and a ``List-Id``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from html.parser import HTMLParser
from urllib.parse import urlsplit

from service.mail.lint_words import WordLists, words_in
from service.verification.lists import registrable_domain

SUBJECT_WEIGHT, BODY_WEIGHT, STRUCTURE_WEIGHT = 3, 1, 2
FOLD_CHARACTERS = 600  # visible text a phone shows before scrolling, roughly
SHORTENERS = frozenset(
    {
        "bit.ly",
        "bitly.com",
        "tinyurl.com",
        "t.co",
        "goo.gl",
        "ow.ly",
        "is.gd",
        "buff.ly",
        "rebrand.ly",
        "cutt.ly",
        "shorturl.at",
        "tiny.cc",
        "rb.gy",
        "t.ly",
        "s.id",
        "bl.ink",
        "lnkd.in",
        "v.gd",
        "shorte.st",
        "adf.ly",
    }
)
_DOMAIN_TEXT = re.compile(r"(?:https?://)?((?:[\w-]+\.)+[a-z]{2,})(?:[/:?#]\S*)?", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s<>\"')]+", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    """One thing to fix: where (``subject``, ``text``, ``html``, ``headers``), which rule, in words."""

    where: str
    rule: str
    message: str
    weight: int

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class _Link:
    href: str
    text: str = ""
    visible_before: int = 0  # characters of visible text before the link


class _HtmlScan(HTMLParser):
    """Links (with their text and position), images without alt, and the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[_Link] = []
        self.images_without_alt: list[str] = []
        self.chunks: list[str] = []
        self._open: _Link | None = None
        self._hidden_depth = 0

    @property
    def visible(self) -> str:
        return " ".join(" ".join(self.chunks).split())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("head", "style", "script", "title"):
            self._hidden_depth += 1
        elif tag == "a" and values.get("href"):
            self._open = _Link(str(values["href"]), visible_before=len(self.visible))
        elif tag == "img" and "alt" not in values:
            self.images_without_alt.append(str(values.get("src") or "(no src)"))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("head", "style", "script", "title"):
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag == "a" and self._open is not None:
            self._open.text = " ".join(self._open.text.split())
            self.links.append(self._open)
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._hidden_depth:
            return
        self.chunks.append(data)
        if self._open is not None:
            self._open.text += data


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().removeprefix("www.")


def _same_site(a: str, b: str) -> bool:
    return (registrable_domain(a) or a) == (registrable_domain(b) or b)


def _part(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    return None if part is None else str(part.get_content())


@dataclass(frozen=True)
class LintContext:
    """What the lint knows beyond the message: its language, the owner's settings, its role."""

    language: str
    words: WordLists
    subject_max_length: int = 70
    confirmation: bool = False  # the double opt-in email: one call to action, List-Id, …
    subscription: bool = True  # mail to a subscriber (List-Id expected); False for owner alerts


def _subject_findings(subject: str, ctx: LintContext) -> list[Finding]:
    found = []
    risky = words_in(subject, ctx.words.risky.get(ctx.language, ()))
    if risky:
        found.append(
            Finding(
                "subject",
                "risky-word",
                f"the subject contains {', '.join(repr(w) for w in risky)}, which spam filters and"
                " readers associate with phishing: say what the email is in plain words",
                SUBJECT_WEIGHT * len(risky),
            )
        )
    letters = [c for c in subject if c.isalpha()]
    if len(letters) >= 5 and all(c.isupper() for c in letters):
        found.append(
            Finding(
                "subject",
                "all-caps",
                "the subject is in capitals: write it in sentence case",
                STRUCTURE_WEIGHT,
            )
        )
    if re.search(r"[!?]{2,}|!\s*!", subject):
        found.append(
            Finding(
                "subject",
                "exclamation",
                'the subject has "!!" or "?!": one mark at most, and none reads calmer',
                STRUCTURE_WEIGHT,
            )
        )
    if len(subject) > ctx.subject_max_length:
        found.append(
            Finding(
                "subject",
                "length",
                f"the subject is {len(subject)} characters long; phones show about"
                f" {ctx.subject_max_length}: put what matters first and shorten it",
                STRUCTURE_WEIGHT,
            )
        )
    if not subject.strip():
        found.append(Finding("subject", "empty", "the subject is empty", STRUCTURE_WEIGHT))
    return found


def _link_findings(scan: _HtmlScan, text: str) -> list[Finding]:
    found = []
    for link in scan.links:
        shown = _DOMAIN_TEXT.fullmatch(link.text.strip())
        target = _host(link.href)
        if shown and target and not _same_site(shown.group(1).lower().removeprefix("www."), target):
            found.append(
                Finding(
                    "html",
                    "link-mismatch",
                    f"a link shows {shown.group(1)!r} but goes to {target!r}: phishing looks like"
                    " this; let the text name where the link goes, or use words",
                    STRUCTURE_WEIGHT,
                )
            )
    urls = [link.href for link in scan.links] + _URL.findall(text)
    short = sorted({_host(u) for u in urls if _host(u) in SHORTENERS})
    if short:
        found.append(
            Finding(
                "links",
                "shortener",
                f"links go through a URL shortener ({', '.join(short)}), which spammers use to hide"
                " where a link goes: link to your own site",
                STRUCTURE_WEIGHT,
            )
        )
    for src in scan.images_without_alt:
        found.append(
            Finding(
                "html",
                "image-alt",
                f"an image has no alt text ({src}): blocked images and screen readers show nothing;"
                ' add alt="…" (alt="" for decoration)',
                STRUCTURE_WEIGHT,
            )
        )
    return found


def _actions(scan: _HtmlScan, unsubscribe_url: str | None) -> list[_Link]:
    """The links that ask the reader to do something (an unsubscribe link is not one)."""
    seen: dict[str, _Link] = {}
    for link in scan.links:
        href = link.href
        if href.startswith(("mailto:", "#")) or href == unsubscribe_url or "/unsubscribe/" in href:
            continue
        seen.setdefault(href, link)
    return list(seen.values())


def _cta_findings(scan: _HtmlScan, ctx: LintContext, unsubscribe_url: str | None) -> list[Finding]:
    actions = _actions(scan, unsubscribe_url)
    found = []
    if len(actions) > 1:
        found.append(
            Finding(
                "html",
                "calls-to-action",
                f"the email asks for {len(actions)} different clicks: one clear call to action"
                " gets more of them",
                STRUCTURE_WEIGHT,
            )
        )
    if not ctx.confirmation:
        return found
    if not actions:
        found.append(
            Finding(
                "html",
                "no-call-to-action",
                "the confirmation has no button or link to confirm",
                STRUCTURE_WEIGHT,
            )
        )
        return found
    button = actions[0]
    verbs = ctx.words.actions.get(ctx.language, ())
    if verbs and not words_in(button.text, verbs):
        found.append(
            Finding(
                "html",
                "action-verb",
                f"the button says {button.text!r}: use an action verb"
                f" ({', '.join(verbs[:3])}…) so the reader knows what pressing it does",
                STRUCTURE_WEIGHT,
            )
        )
    if button.visible_before > FOLD_CHARACTERS:
        found.append(
            Finding(
                "html",
                "below-the-fold",
                f"the button comes after {button.visible_before} characters of text: put it near"
                " the top, where a phone shows it without scrolling",
                STRUCTURE_WEIGHT,
            )
        )
    return found


def lint_message(message: EmailMessage, ctx: LintContext) -> list[Finding]:
    """Every finding for one message, as it would be sent."""
    subject = str(message.get("Subject", ""))
    found = _subject_findings(subject, ctx)
    text = _part(message, "plain")
    html = _part(message, "html")
    if text is None:
        found.append(
            Finding(
                "text",
                "no-text-part",
                "the email has no plain-text part: some readers and filters expect one; add it",
                STRUCTURE_WEIGHT,
            )
        )
    scan = _HtmlScan()
    if html is not None:
        scan.feed(html)
        scan.close()
    body = " ".join(filter(None, (text, scan.visible)))
    body_words = words_in(body, ctx.words.risky.get(ctx.language, ()))
    if body_words:
        found.append(
            Finding(
                "body",
                "risky-word",
                f"the body contains {', '.join(repr(w) for w in body_words)}, words spam filters"
                " weigh against an email: rephrase if you can",
                BODY_WEIGHT * len(body_words),
            )
        )
    unsubscribe = re.match(r"<([^>]+)>", str(message.get("List-Unsubscribe", "")))
    found += _link_findings(scan, text or "")
    found += _cta_findings(scan, ctx, unsubscribe.group(1) if unsubscribe else None)
    if ctx.subscription and not message.get("List-Id"):
        found.append(
            Finding(
                "headers",
                "list-id",
                "no List-Id header: mailbox providers use it to tell your list's mail apart",
                STRUCTURE_WEIGHT,
            )
        )
    return found


def score(findings: Iterable[Finding]) -> int:
    return sum(f.weight for f in findings)
