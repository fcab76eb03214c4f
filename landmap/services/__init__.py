"""The land rules. Each function takes a Session; none commits (the caller decides).

Results that pages, workbooks and the API share are small frozen dataclasses (``Result``):
one name means one thing everywhere, and ``as_dict()`` is their JSON form."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from landmap.domain import Refused

__all__ = ["Refused", "Result", "plain"]


def plain(value: Any) -> Any:
    """``value`` as JSON holds it: dataclasses as objects (without the fields whose metadata
    says ``omit_if_none`` when they are None), tuples as lists, days and times as ISO 8601
    text (YYYY-MM-DD for a day)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            item.name: plain(getattr(value, item.name))
            for item in dataclasses.fields(value)
            if not (item.metadata.get("omit_if_none") and getattr(value, item.name) is None)
        }
    if isinstance(value, dict):
        return {key: plain(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dt.date):  # a datetime too
        return value.isoformat()
    return value


class Result:
    """A typed result of a service (a frozen dataclass): ``as_dict()`` is what the API sends."""

    def as_dict(self) -> dict[str, Any]:
        return plain(self)
