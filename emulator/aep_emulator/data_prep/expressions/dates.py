"""Dates in Data Prep: Java date patterns (``yyyy-MM-dd'T'HH:mm:ss'Z'``) parsed and formatted, and the guide's list
of formats tried when a string becomes a date without one. Dates are UTC :class:`datetime.datetime` values (Data
Prep's ``ZonedDateTime``)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from .errors import EvaluationError, ExpressionError

UTC = dt.timezone.utc

#: Formats tried, in order, when a string becomes a date without an explicit format (data-handling guide).
DEFAULT_DATE_FORMATS = (
    "yyyy-MM-dd HH:mm:ssZ",
    "yyyy-MM-dd HH:mm:ss.SSSZ",
    "yyyy-MM-dd HH:mm:ss.SSS",
    "yyyy-MM-dd'T'HH:mm:ss.SSSX",
    "yyyy-MM-dd'T'HH:mm:ss'Z'",
    "yyyy-MM-dd",
    "yyyy/MM/dd",
    "yyyy.MM.dd",
    "yyyy-MMM-dd",
    "yyyyMMdd",
    "MM-dd-yyyy",
    "MMddyyyy",
    "M/dd/yyyy",
    "dd.M.yyyy",
    "M/dd/yyyy hh:mm:ss a",
    "dd.M.yyyy hh:mm:ss a",
    "dd.MMM.yyyy",
    "dd-MMM-yyyy",
)


_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_MONTH_NAMES = [
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december",
]  # fmt: skip
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _pattern_tokens(pattern: str) -> list[tuple[str, str]]:
    """``("field", "yyyy")`` and ``("text", "T")`` tokens of a Java date pattern."""
    tokens: list[tuple[str, str]] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "'":
            end = pattern.find("'", index + 1)
            if end == index + 1:  # '' is a literal quote
                tokens.append(("text", "'"))
                index += 2
                continue
            if end < 0:
                raise ExpressionError(f"Unterminated quote in date format '{pattern}'.")
            tokens.append(("text", pattern[index + 1 : end]))
            index = end + 1
        elif char.isalpha():
            end = index
            while end < len(pattern) and pattern[end] == char:
                end += 1
            tokens.append(("field", pattern[index:end]))
            index = end
        else:
            tokens.append(("text", char))
            index += 1
    return tokens


def _field_regex(letters: str) -> str:
    kind, width = letters[0], len(letters)
    if kind in "yuY":
        return r"(\d{4})" if width == 4 else r"(\d{2})" if width == 2 else r"(\d{1,9})"
    if kind in "ML":
        if width >= 4:
            return r"([A-Za-z]+)"
        if width == 3:
            return r"([A-Za-z]{3})"
        return r"(\d{2})" if width == 2 else r"(\d{1,2})"
    if kind in "dHhKkms":
        return r"(\d{2})" if width == 2 else r"(\d{1,2})"
    if kind == "S":
        return rf"(\d{{{width}}})"
    if kind == "a":
        return r"([AaPp][Mm])"
    if kind == "E":
        return r"([A-Za-z]+)"
    if kind == "Z":
        return r"([+-]\d{4}|Z)"
    if kind in "Xx":
        return r"(Z|[+-]\d{2}(?::?\d{2})?)"
    if kind in "zVO":
        return r"(UTC|GMT|Z|GMT[+-]\d{1,2}(?::\d{2})?)"
    raise ExpressionError(f"Unsupported date pattern letters '{letters}'.")


def _offset(text: str) -> dt.timezone:
    if text in ("Z", "UTC", "GMT"):
        return UTC
    text = text.removeprefix("GMT")
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours = int(digits[:2] if len(digits) > 2 else digits)
    minutes = int(digits[2:4]) if len(digits) > 2 else 0
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))


def parse_date(value: str, pattern: str) -> dt.datetime:
    """Parse ``value`` with a Java pattern; no zone in the pattern means UTC. Raises ``EvaluationError``."""
    tokens = _pattern_tokens(pattern)
    regex = "".join(_field_regex(text) if kind == "field" else re.escape(text) for kind, text in tokens)
    match = re.fullmatch(regex, value.strip())
    if match is None:
        raise EvaluationError(f"The date '{value}' does not match the format '{pattern}'.")
    parts: dict[str, Any] = {"year": 1970, "month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0, "micro": 0}
    pm: bool | None = None
    zone: dt.tzinfo = UTC
    fields = [text for kind, text in tokens if kind == "field"]
    for letters, captured in zip(fields, match.groups(), strict=True):
        kind = letters[0]
        if kind in "yuY":
            year = int(captured)
            parts["year"] = year + 2000 if len(letters) == 2 else year
        elif kind in "ML":
            lowered = captured.lower()
            if captured.isdigit():
                parts["month"] = int(captured)
            elif lowered[:3] in _MONTHS and (len(letters) == 3 or lowered in _MONTH_NAMES):
                parts["month"] = _MONTHS.index(lowered[:3]) + 1
            else:
                raise EvaluationError(f"Unknown month '{captured}' in '{value}'.")
        elif kind == "d":
            parts["day"] = int(captured)
        elif kind in "Hk":
            parts["hour"] = int(captured) % 24
        elif kind in "hK":
            parts["hour"] = int(captured) % 12
        elif kind == "m":
            parts["minute"] = int(captured)
        elif kind == "s":
            parts["second"] = int(captured)
        elif kind == "S":
            parts["micro"] = int((captured + "000000")[:6])
        elif kind == "a":
            pm = captured.lower() == "pm"
        elif kind in "ZXxzVO":
            zone = _offset(captured)
    if pm is not None and parts["hour"] < 12 and pm:
        parts["hour"] += 12
    try:
        moment = dt.datetime(
            parts["year"], parts["month"], parts["day"], parts["hour"], parts["minute"], parts["second"],
            parts["micro"], tzinfo=zone,
        )  # fmt: skip
    except ValueError as exc:
        raise EvaluationError(f"The date '{value}' is not a valid date: {exc}.") from exc
    return moment.astimezone(UTC)


def parse_any_date(value: str) -> dt.datetime:
    """The first of Data Prep's default formats that matches ``value``."""
    for pattern in DEFAULT_DATE_FORMATS:
        try:
            return parse_date(value, pattern)
        except EvaluationError:
            continue
    raise EvaluationError(f"The value '{value}' does not match any supported date format.")


def format_date(moment: dt.datetime, pattern: str) -> str:
    """Format ``moment`` (in UTC) with a Java pattern."""
    moment = moment.astimezone(UTC)
    out = []
    for kind, text in _pattern_tokens(pattern):
        if kind == "text":
            out.append(text)
            continue
        letter, width = text[0], len(text)
        if letter in "yuY":
            out.append(f"{moment.year % 100:02d}" if width == 2 else f"{moment.year:0{width}d}")
        elif letter in "ML":
            name = _MONTH_NAMES[moment.month - 1].title()
            out.append(name if width >= 4 else name[:3] if width == 3 else f"{moment.month:0{width}d}")
        elif letter == "d":
            out.append(f"{moment.day:0{width}d}")
        elif letter in "Hk":
            out.append(f"{moment.hour:0{width}d}")
        elif letter in "hK":
            out.append(f"{(moment.hour % 12) or 12:0{width}d}")
        elif letter == "m":
            out.append(f"{moment.minute:0{width}d}")
        elif letter == "s":
            out.append(f"{moment.second:0{width}d}")
        elif letter == "S":
            out.append(f"{moment.microsecond:06d}"[:width].ljust(width, "0"))
        elif letter == "a":
            out.append("PM" if moment.hour >= 12 else "AM")
        elif letter == "E":
            day = _DAYS[moment.weekday()]
            out.append(day if width >= 4 else day[:3])
        elif letter in "Xx":
            out.append("Z")
        elif letter == "Z":
            out.append("+0000")
        elif letter in "zVO":
            out.append("UTC")
        else:
            raise EvaluationError(f"Unsupported date pattern letters '{text}'.")
    return "".join(out)


def iso_datetime(moment: dt.datetime) -> str:
    """ISO 8601 in UTC, milliseconds only when present (``2024-01-01T10:00:00Z``)."""
    moment = moment.astimezone(UTC)
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        base += f".{moment.microsecond // 1000:03d}"
    return base + "Z"
