"""The land rules. Each function takes a Session; none commits (the caller decides)."""

from __future__ import annotations


class Refused(ValueError):
    """A request the rules refuse: ``message`` says why, ``status`` is the HTTP status the web
    answers with, ``extra`` goes into the JSON answer beside the message. Nothing was changed."""

    status = 400

    def __init__(self, message: str, status: int | None = None, **extra) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.extra = extra
