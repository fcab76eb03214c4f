"""Who is making a request. Until accounts exist every change is recorded as 'anonymous'."""

from __future__ import annotations


def current_user_name() -> str:
    return "anonymous"
