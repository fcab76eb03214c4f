"""Personal information kept so that a database dump alone does not reveal it: households'
ID numbers (身份证号) and phone numbers, sealed with AES-GCM (the ``cryptography`` package)
under the server's personal key (Settings.personal_key: LANDMAP_PERSONAL_KEY or
var/personal_key), which the database never holds. An ID number is also kept as an HMAC
digest under a key derived from the same one, so that the database can keep one household
per person without knowing the number. Shown masked (430802********1234) to every role but
those that handle agreements (permission "compensation"); every unmasked read is audited by
the caller (services.compensation)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from landmap.messages import Message, msg

PREFIX = "v1:"
_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]
_CHECK = "10X98765432"
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,18}[0-9]$")
UNREADABLE = "********"


class Sealer:
    """Seals and opens texts under one 32-byte key (64 hex digits)."""

    def __init__(self, key_hex: str):
        key = bytes.fromhex(key_hex)
        if len(key) != 32:
            raise ValueError("the personal key is 32 bytes")
        self._aead = AESGCM(hashlib.sha256(b"landmap seal" + key).digest())
        self._digest_key = hashlib.sha256(b"landmap digest" + key).digest()

    def seal(self, value: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, value.encode("utf-8"), None)
        return PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, sealed: str | None) -> str | None:
        """The text, or None when there is none or it was sealed under another key."""
        if not sealed or not sealed.startswith(PREFIX):
            return None
        raw = base64.b64decode(sealed[len(PREFIX) :])
        try:
            return self._aead.decrypt(raw[:12], raw[12:], None).decode("utf-8")
        except (InvalidTag, ValueError):
            return None

    def digest(self, id_number: str) -> str:
        return hmac.new(self._digest_key, id_number.encode("ascii"), hashlib.sha256).hexdigest()


def check_character(first17: str) -> str:
    """The check character (ISO 7064 MOD 11-2) of an ID number's first 17 digits."""
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def id_number_problem(value: str) -> Message | None:
    """Why ``value`` is not a resident ID number (GB 11643: 17 digits, a birth date, and a
    check character from ISO 7064 MOD 11-2), or None."""
    if not re.fullmatch(r"[0-9]{17}[0-9X]", value):
        return msg(
            "id_number_malformed",
            "an ID number is 18 characters: 17 digits and a digit or X",
        )
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        born = None
    if born is None or not dt.date(1890, 1, 1) <= born <= dt.date.today():
        return msg("id_number_birth_date", "the ID number's birth date is not a real date")
    check = check_character(value[:17])
    if value[17] != check:
        return msg(
            "id_number_check_digit",
            "the ID number's check digit is wrong (%(given)s; the digits give %(check)s)",
            given=value[17],
            check=check,
        )
    return None


def normal_id_number(value: str) -> str:
    return value.strip().replace(" ", "").upper()


def phone_problem(value: str) -> Message | None:
    if not _PHONE.match(value):
        return msg("phone_malformed", "a phone number is 7 to 20 digits (spaces, - and + allowed)")
    return None


def mask_id(value: str | None) -> str:
    """430802********1234: the region and the last four."""
    if not value:
        return UNREADABLE
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str | None) -> str | None:
    if value is None:
        return None
    digits = value.replace(" ", "").replace("-", "")
    return digits[:3] + "*" * max(len(digits) - 7, 0) + digits[-4:]
