"""Messages people read, from any layer: a stable machine ``code``, an English text with
``%(name)s`` parameters (the catalogue's msgid) and the parameters, rendered in a locale at
the edge (the web in the request's locale, the CLI in ``LANDMAP_LANG``, zh_CN by default).

Services and loaders never import Flask: they build ``msg(code, text, **params)`` and raise
``Refused(msg(...))``; ``scripts/i18n.py update`` extracts every ``msg()`` text into the
catalogue (keyword ``msg:2``), and a test fails on any text without a Chinese translation.

Parameters are rendered in the message's locale: a LabelledEnum (a stage, a kind) by its
label, a ``term()`` (a form field, a word) through the catalogue, a nested Message rendered,
a date as YYYY-MM-DD, a list joined (、 in Chinese), anything else as ``str()``.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations

DEFAULT_LOCALE = "zh_CN"
LOCALES = ("zh_CN", "en")
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


@lru_cache(maxsize=8)
def translations(locale: str) -> NullTranslations:
    """The compiled catalogue of ``locale`` (English is the msgids themselves)."""
    if locale.startswith("en"):
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS), [locale], domain="messages")


def gettext(text: str, locale: str) -> str:
    return translations(locale).gettext(text)


def cli_locale() -> str:
    """The CLI's locale: LANDMAP_LANG (zh_CN or en), zh_CN by default."""
    asked = os.environ.get("LANDMAP_LANG", "")
    return "en" if asked.lower().startswith("en") else DEFAULT_LOCALE


@dataclass(frozen=True)
class Term:
    """A word shown inside a message (a form field's label, 'project'): translated itself."""

    text: str


def term(text: str) -> Term:
    return Term(text)


class Message(str):
    """A message: as a ``str`` it is its English text (so logs, tests and ``in`` work on it);
    ``render(locale)`` gives it in any locale; ``code`` is stable for programs."""

    code: str
    text: str
    params: dict[str, Any]

    def __new__(cls, code: str, text: str, params: dict[str, Any] | None = None) -> Message:
        params = dict(params or {})
        self = super().__new__(cls, _render(text, params, "en"))
        self.code, self.text, self.params = code, text, params
        return self

    def render(self, locale: str = DEFAULT_LOCALE) -> str:
        return _render(self.text, self.params, locale)

    def __reduce__(self):
        return (Message, (self.code, self.text, self.params))


def _render(text: str, params: dict[str, Any], locale: str) -> str:
    translated = gettext(text, locale)
    if not params:
        return translated
    return translated % {key: shown(value, locale) for key, value in params.items()}


def msg(code: str, text: str, /, **params: Any) -> Message:
    """A message: ``code`` is stable for programs, ``text`` (English, ``%(name)s``
    placeholders) is what the catalogue translates."""
    return Message(code, text, params)


def shown(value: Any, locale: str) -> str:
    """A parameter as a person reads it in ``locale``."""
    from landmap.domain import LabelledEnum

    if isinstance(value, Message):
        return value.render(locale)
    if isinstance(value, Term):
        return gettext(value.text, locale)
    if isinstance(value, LabelledEnum):
        return value.label(locale)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return ("、" if not locale.startswith("en") else ", ").join(
            shown(item, locale) for item in items
        )
    return str(value)


def rendered(value: Any, locale: str) -> Any:
    """``value`` (a refusal's extra: messages, lists and dicts of them) with every Message
    rendered in ``locale``; other values as they are."""
    if isinstance(value, Message):
        return value.render(locale)
    if isinstance(value, dict):
        return {key: rendered(v, locale) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [rendered(v, locale) for v in value]
    return value


# The fields of forms and API requests, by the name a client sends, as people call them.
FIELDS = {
    "as_of": term("as-of date"),
    "batch": term("batch"),
    "batch_id": term("batch"),
    "base_id": term("base boundary version"),
    "date": term("date"),
    "day": term("date"),
    "ha": term("hectares"),
    "mu": term("mu"),
    "project": term("project"),
    "project_id": term("project"),
    "target_mu": term("target (mu)"),
    "valid_from": term("in force from"),
    "year": term("year"),
    "month": term("month"),
    "quarter": term("quarter"),
    "page": term("page"),
    "limit": term("number of rows"),
    "offset": term("offset"),
    "reverses": term("entry reversed"),
    "codes": term("parcel codes"),
    "code": term("parcel code"),
    "zone": term("zone"),
    "stage": term("stage"),
    "bbox": term("map extent"),
    "q": term("search text"),
    "reason": term("reason"),
    "note": term("note"),
    "document": term("document number"),
}


def field(name: str) -> Term | str:
    """A form or query field as people call it (through the catalogue); unknown names as
    they are."""
    return FIELDS.get(name, name)
