"""Text encoding of a shapefile's DBF: decided once, in this order.

1. the user's choice (the CLI's option, the upload form's list);
2. the .cpg sidecar;
3. the DBF language driver id (byte 29);
4. strict UTF-8 over every character field of every record;
5. strict GB18030 (a superset of GBK/GB2312).

Whatever is decided, the decoded text is then checked for mojibake (GBK bytes read as a
Latin/Windows code page); mojibake is a refusal, never a silent load.
"""

from __future__ import annotations

import codecs
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from landmap.domain import Refused
from landmap.messages import Message, msg, term

# what the user chooses when the file does not say (a form field's label)
CHOICE = term("text encoding")
CHOSEN = msg("chosen_by_user", "chosen by the user")
# the encodings offered on a form: (codec, what people call it)
CHOICES = (("gbk", "GBK"), ("gb18030", "GB18030"), ("utf-8", "UTF-8"), ("big5", "Big5"))


class EncodingError(Refused):
    """The DBF's text cannot be decoded safely; the message says to choose the encoding."""


@dataclass(frozen=True)
class Decision:
    value: str
    reason: Message


# .cpg spellings seen in the wild -> Python codec
_CPG_ALIASES = {
    "936": "gbk",
    "cp936": "gbk",
    "gbk": "gbk",
    "gb2312": "gbk",
    "gb18030": "gb18030",
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "65001": "utf-8",
    "88591": "latin-1",
    "8859_1": "latin-1",
    "iso-8859-1": "latin-1",
    "iso88591": "latin-1",
    "1252": "cp1252",
    "cp1252": "cp1252",
    "ansi 1252": "cp1252",
    "950": "big5",
    "big5": "big5",
    "437": "cp437",
    "850": "cp850",
}
# DBF language driver ids (as GDAL's shapefile driver maps them)
_LDID = {
    0x01: "cp437",
    0x02: "cp850",
    0x03: "cp1252",
    0x4D: "gbk",
    0x4E: "cp949",
    0x4F: "big5",
    0x57: None,  # "ANSI": the writer's own code page, unknown here
    0x78: "big5",
    0x79: "cp949",
    0x7A: "gbk",
    0x7B: "cp932",
    0xC8: "cp1250",
    0xC9: "cp1251",
}
_SINGLE_BYTE = {"latin-1", "cp1252", "cp437", "cp850", "cp1250", "cp1251"}
# Latin-1/Windows-1252 letters that GBK text turns into when read with a Latin code page
_MOJIBAKE = re.compile(r"[\u00c0-\u00ff]{2,}|[\u0080-\u009f]")


def codec_name(name: str) -> str:
    """A Python codec for a user- or file-given encoding name, or EncodingError."""
    key = name.strip().lower()
    key = _CPG_ALIASES.get(key, key)
    try:
        return codecs.lookup(key).name
    except LookupError as exc:
        given = repr(name[:40])
        raise EncodingError(
            msg(
                "encoding_unknown",
                "unknown %(choice)s %(given)s: choose GBK, GB18030 or UTF-8",
                choice=CHOICE,
                given=given,
            )
        ) from exc


def parse_choice(name: str) -> str:
    """An encoding chosen on a form: one of CHOICES, else EncodingError."""
    codec = codec_name(name)
    if codec not in {codecs.lookup(c).name for c, _ in CHOICES}:
        given = repr(name[:40])
        offered = [shown for _, shown in CHOICES]
        raise EncodingError(
            msg(
                "encoding_not_offered",
                "the %(choice)s is one of %(offered)s, not %(given)s",
                choice=CHOICE,
                offered=offered,
                given=given,
            )
        )
    return codec


def dbf_text_chunks(dbf: Path, limit_records: int | None = None) -> Iterator[bytes]:
    """The raw bytes of every character field, read straight from the DBF, a chunk at a time.

    Cells are separated by a space, so a multi-byte character never spans two cells."""
    with dbf.open("rb") as f:
        head = f.read(32)
        if len(head) < 32:
            raise EncodingError(
                msg("dbf_too_short", "%(file)s is not a dBASE file (too short)", file=dbf.name)
            )
        n_records, header_len, record_len = struct.unpack("<IHH", head[4:12])
        fields, offset = [], 1  # byte 0 of a record is the deletion flag
        while True:
            desc = f.read(32)
            if not desc or desc[0] == 0x0D:
                break
            if chr(desc[11]) == "C":
                fields.append((offset, desc[16]))
            offset += desc[16]
        if not fields:
            return
        f.seek(header_len)
        n = n_records if limit_records is None else min(n_records, limit_records)
        chunk = max(1, (8 << 20) // max(record_len, 1))
        done = 0
        while done < n:
            raw = f.read(min(chunk, n - done) * record_len)
            got = len(raw) // record_len
            if got == 0:
                return
            rows = np.frombuffer(raw[: got * record_len], dtype=np.uint8)
            rows = rows.reshape(got, record_len)
            sep = np.full((got, 1), 0x20, np.uint8)
            yield np.hstack(
                [part for off, flen in fields for part in (rows[:, off : off + flen], sep)]
            ).tobytes()
            done += got


def _decodes(dbf: Path, codec: str, limit_records: int | None = None) -> bool:
    try:
        for blob in dbf_text_chunks(dbf, limit_records):
            blob.decode(codec, errors="strict")
    except UnicodeDecodeError:
        return False
    return True


def _ascii(dbf: Path) -> bool:
    return all(blob.isascii() for blob in dbf_text_chunks(dbf))


def decide(dbf: Path | None, cpg_text: str | None, override: str | None) -> Decision:
    """Decide the encoding of a shapefile's attribute text (see module docstring)."""
    if override:
        decision = Decision(codec_name(override), CHOSEN)
    elif cpg_text and cpg_text.strip():
        cpg = repr(cpg_text.strip()[:40])
        reason = msg("encoding_from_cpg", ".cpg file says %(cpg)s", cpg=cpg)
        decision = Decision(codec_name(cpg_text), reason)
    elif dbf is None:
        return Decision("utf-8", msg("encoding_no_dbf", "no .dbf: nothing to decode"))
    else:
        decision = _from_dbf(dbf)
        if decision.reason.code in _DECODED:
            return decision  # decided by decoding every text byte already
    if dbf is not None and not _decodes(dbf, decision.value):
        other = next((c for c in ("utf-8", "gb18030") if _decodes(dbf, c)), None)
        hint = _reads_as(other, "encoding_reads_as")
        raise EncodingError(
            msg(
                "encoding_not_valid",
                "the text is not valid %(encoding)s (%(reason)s)%(hint)s: choose the file's "
                "real %(choice)s",
                encoding=decision.value,
                reason=decision.reason,
                hint=hint,
                choice=CHOICE,
            )
        )
    return decision


# reasons of decisions made by decoding every text byte of the file
_DECODED = {"encoding_ascii", "encoding_utf8_valid", "encoding_gb18030_valid"}


def _reads_as(other: str | None, code: str) -> Message | str:
    """ "; it reads cleanly as GB18030" (or nothing), inside a message."""
    if other is None:
        return ""
    shown = other.upper()
    if code == "encoding_reads_as":
        return msg("encoding_reads_as", "; it reads cleanly as %(other)s", other=shown)
    return msg("encoding_bytes_read_as", "; the bytes read cleanly as %(other)s", other=shown)


def _from_dbf(dbf: Path) -> Decision:
    with dbf.open("rb") as f:
        head = f.read(32)
    ldid = head[29] if len(head) >= 30 else 0
    if _LDID.get(ldid):
        shown = f"0x{ldid:02X}"
        reason = msg("encoding_from_ldid", "DBF language driver id %(ldid)s", ldid=shown)
        return Decision(codec_name(_LDID[ldid]), reason)
    if _ascii(dbf):
        return Decision("utf-8", msg("encoding_ascii", "all text is ASCII"))
    if _decodes(dbf, "utf-8"):
        reason = msg(
            "encoding_utf8_valid", "no .cpg or language id; every text field is valid UTF-8"
        )
        return Decision("utf-8", reason)
    if _decodes(dbf, "gb18030"):
        reason = msg(
            "encoding_gb18030_valid",
            "no .cpg or language id; the text is not UTF-8 but is GB18030",
        )
        return Decision("gb18030", reason)
    raise EncodingError(
        msg(
            "encoding_not_told",
            "cannot tell the text encoding: no .cpg, no language driver id, and the text is "
            "neither UTF-8 nor GB18030: choose its %(choice)s (for example GBK)",
            choice=CHOICE,
        )
    )


def check_not_mojibake(decision: Decision, samples: list[str], dbf: Path | None) -> None:
    """Refuse when text decoded with a single-byte code page looks like mis-read GBK/UTF-8."""
    if decision.value.replace("_", "-") not in {codecs.lookup(c).name for c in _SINGLE_BYTE}:
        return
    bad = [s for s in samples if s and _MOJIBAKE.search(s)]
    if not bad:
        return
    other = None
    if dbf is not None:
        other = next(
            (c for c in ("utf-8", "gb18030") if _decodes(dbf, c, limit_records=5000)), None
        )
    example = repr(bad[0][:40])
    hint = _reads_as(other, "encoding_bytes_read_as")
    raise EncodingError(
        msg(
            "encoding_garbled",
            "text decoded as %(encoding)s (%(reason)s) looks garbled, e.g. %(example)s%(hint)s: "
            "choose its %(choice)s (GBK, or the file's real encoding)",
            encoding=decision.value,
            reason=decision.reason,
            example=example,
            hint=hint,
            choice=CHOICE,
        )
    )
