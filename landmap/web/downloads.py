"""Files the web hands over: workbooks made in memory."""

from __future__ import annotations

import io

from flask import Response, send_file


def workbook(data: bytes, name: str) -> Response:
    """An Excel workbook (bytes) as a download called ``name`` (its type from the .xlsx)."""
    return send_file(io.BytesIO(data), as_attachment=True, download_name=name)
