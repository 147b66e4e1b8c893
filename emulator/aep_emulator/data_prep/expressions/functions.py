"""The Data Prep functions the emulator evaluates (:data:`IMPLEMENTED`, a subset of :data:`~.parser.DOCUMENTED`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from .dates import UTC, format_date, parse_any_date, parse_date
from .errors import EvaluationError
from .values import EvalContext, Function, as_int, as_text, is_true, loose_equal


def _arity(name: str, args: list[Any], low: int, high: int | None = None) -> None:
    high = low if high is None else high
    if not low <= len(args) <= high:
        expected = str(low) if low == high else f"{low} to {high}"
        raise EvaluationError(f"{name} takes {expected} arguments, got {len(args)}.")


def _string_fn(name: str, apply: Callable[[str], Any]) -> Function:
    def run(ctx: EvalContext, args: list[Any]) -> Any:
        _arity(name, args, 1)
        return None if args[0] is None else apply(as_text(args[0]))

    return run


def _flatten(args: list[Any]) -> list[Any]:
    """Functions documented on an array also take varargs (``coalesce(null, "a")``)."""
    return list(args[0]) if len(args) == 1 and isinstance(args[0], list) else list(args)


def _as_date(value: Any, what: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            return parse_any_date(value)
    raise EvaluationError(f"{what}: expected a date, got {as_text(value) or 'null'}.")


def _date(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("date", args, 1, 3)
    value = args[0]
    if value is None:
        return _as_date(args[2], "date") if len(args) == 3 and args[2] is not None else None
    if isinstance(value, dt.datetime):
        return value
    if len(args) >= 2 and args[1] is not None:
        return parse_date(as_text(value), as_text(args[1]))
    return parse_any_date(as_text(value))


def _dformat(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("dformat", args, 2)
    if args[0] is None:
        return None
    moment = dt.datetime.fromtimestamp(as_int(args[0], "dformat") / 1000, UTC)
    return format_date(moment, as_text(args[1]))


def _format(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("format", args, 2)
    return None if args[0] is None else format_date(_as_date(args[0], "format"), as_text(args[1]))


def _concat(ctx: EvalContext, args: list[Any]) -> Any:
    if any(arg is None for arg in args):
        return None
    return "".join(as_text(arg) for arg in args)


def _substr(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("substr", args, 2, 3)
    if args[0] is None:
        return None
    text, start = as_text(args[0]), as_int(args[1], "substr")
    if len(args) == 2:
        return text[start:]
    return text[start : start + as_int(args[2], "substr")]


def _instr(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("instr", args, 2, 4)
    if args[0] is None or args[1] is None:
        return None
    text, needle = as_text(args[0]), as_text(args[1])
    position = as_int(args[2], "instr") if len(args) > 2 else 0
    occurrence = as_int(args[3], "instr") if len(args) > 3 else 1
    for _ in range(max(occurrence, 1)):
        found = text.find(needle, position)
        if found < 0:
            return -1
        position = found + 1
    return found


def _pad(left: bool) -> Function:
    def run(ctx: EvalContext, args: list[Any]) -> Any:
        _arity("lpad" if left else "rpad", args, 3)
        if args[0] is None:
            return None
        text, width = as_text(args[0]), as_int(args[1], "pad")
        padding = as_text(args[2]) or " "
        if len(text) >= width:
            return text[:width]
        fill = (padding * width)[: width - len(text)]
        return fill + text if left else text + fill

    return run


def _replacestr(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("replacestr", args, 3)
    return None if args[0] is None else as_text(args[0]).replace(as_text(args[1]), as_text(args[2]))


def _split(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("split", args, 2)
    if args[0] is None:
        return None
    separators = as_text(args[1]).replace("\\\\", "\\")
    if not separators:
        return [as_text(args[0])]
    return re.split("[" + re.escape(separators) + "]", as_text(args[0]))


def _explode(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("explode", args, 1, 2)
    if args[0] is None:
        return None
    pattern = as_text(args[1]) if len(args) > 1 and args[1] is not None else ","
    return [part for part in re.split(pattern, as_text(args[0])) if part != ""]


def _join(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("join", args, 2, 99)
    items = _flatten(args[1:])
    return as_text(args[0]).join(as_text(item) for item in items if item is not None)


def _regex(extract: bool) -> Function:
    def run(ctx: EvalContext, args: list[Any]) -> Any:
        _arity("extract_regex" if extract else "matches_regex", args, 2)
        if args[0] is None:
            return None
        try:
            pattern = re.compile(as_text(args[1]))
        except re.error as exc:
            raise EvaluationError(f"Invalid regular expression '{args[1]}': {exc}.") from exc
        if not extract:
            return pattern.fullmatch(as_text(args[0])) is not None
        match = pattern.search(as_text(args[0]))
        return None if match is None else [match.group(0), *match.groups()]

    return run


def _hash(algorithm: str) -> Function:
    def run(ctx: EvalContext, args: list[Any]) -> Any:
        _arity(algorithm, args, 1, 2)
        if args[0] is None:
            return None
        charset = as_text(args[1]) if len(args) > 1 and args[1] is not None else "UTF-8"
        try:
            data = as_text(args[0]).encode(charset.replace("US-ASCII", "ascii"))
        except LookupError as exc:
            raise EvaluationError(f"Unknown character set '{charset}'.") from exc
        if algorithm == "crc32":
            return f"{zlib.crc32(data) & 0xFFFFFFFF:08x}"
        return hashlib.new(algorithm, data).hexdigest()

    return run


def _url(part: str) -> Function:
    def run(ctx: EvalContext, args: list[Any]) -> Any:
        _arity(f"get_url_{part}", args, 1, 2)
        if args[0] is None:
            return None
        parsed = urlsplit(as_text(args[0]))
        if not parsed.scheme:
            return None
        if part == "protocol":
            return parsed.scheme
        if part == "host":
            return parsed.hostname
        if part == "port":
            default = {"http": 80, "https": 443, "ftp": 21, "sftp": 22, "ssh": 22}.get(parsed.scheme)
            return parsed.port or default
        path = parsed.path
        full = len(args) < 2 or is_true(args[1])
        return path if full else path.rsplit("/", 1)[-1]

    return run


def _convert(name: str, kind: str) -> Function:
    def run(ctx: EvalContext, args: list[Any]) -> Any:
        _arity(name, args, 1)
        if args[0] is None:
            return None
        text = as_text(args[0]).strip()
        try:
            if kind == "int":
                return int(text)
            value = float(text)
        except ValueError as exc:
            raise EvaluationError(f"{name}: '{text}' cannot be converted.") from exc
        if kind == "bigint":
            return int(value) if value.is_integer() else value
        return value

    return run


def _decode(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("decode", args, 1, 999)
    key, options = args[0], args[1:]
    for index in range(0, len(options) - 1, 2):
        if loose_equal(key, options[index]):
            return options[index + 1]
    return options[-1] if len(options) % 2 == 1 else None


def _iif(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("iif", args, 3)
    return args[1] if is_true(args[0]) else args[2]


def _coalesce(ctx: EvalContext, args: list[Any]) -> Any:
    return next((item for item in _flatten(args) if item is not None), None)


def _first_last(last: bool) -> Function:
    def run(ctx: EvalContext, args: list[Any]) -> Any:
        items = _flatten(args)
        return (items[-1] if last else items[0]) if items else None

    return run


def _to_array(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("to_array", args, 1, 999)
    items = _flatten(args[1:])
    return items if is_true(args[0]) else [item for item in items if item is not None]


def _add_to_array(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("add_to_array", args, 1, 999)
    base = list(args[0]) if isinstance(args[0], list) else ([] if args[0] is None else [args[0]])
    return base + list(args[1:])


def _join_arrays(ctx: EvalContext, args: list[Any]) -> Any:
    out: list[Any] = []
    for arg in args:
        out.extend(arg if isinstance(arg, list) else [] if arg is None else [arg])
    return out


def _size_of(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("size_of", args, 1)
    value = args[0]
    return 0 if value is None else len(value) if isinstance(value, (list, dict, str)) else 1


def _is_empty(ctx: EvalContext, args: list[Any]) -> Any:
    return _size_of(ctx, args) == 0


def _extreme(pick: Callable[..., Any]) -> Function:
    def run(ctx: EvalContext, args: list[Any]) -> Any:
        items = [item for item in _flatten(args) if item is not None]
        if not items:
            return None
        try:
            return pick(items)
        except TypeError as exc:
            raise EvaluationError("min/max need comparable values.") from exc

    return run


def _edge(right: bool) -> Function:
    def run(ctx: EvalContext, args: list[Any]) -> Any:
        _arity("right" if right else "left", args, 2)
        if args[0] is None:
            return None
        text, count = as_text(args[0]), max(as_int(args[1], "left/right"), 0)
        if not count:
            return ""
        return text[-count:] if right else text[:count]

    return run


def _now(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("now", args, 0)
    return ctx.now


def _timestamp(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("timestamp", args, 0)
    return int(ctx.now.timestamp() * 1000)


def _uuid(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("uuid", args, 0)
    return str(uuid.UUID(int=ctx.rng.getrandbits(128), version=4))


FUNCTIONS: dict[str, Function] = {
    "concat": _concat,
    "explode": _explode,
    "instr": _instr,
    "replacestr": _replacestr,
    "substr": _substr,
    "lower": _string_fn("lower", str.lower),
    "lcase": _string_fn("lcase", str.lower),
    "upper": _string_fn("upper", str.upper),
    "ucase": _string_fn("ucase", str.upper),
    "split": _split,
    "join": _join,
    "lpad": _pad(left=True),
    "rpad": _pad(left=False),
    "left": _edge(right=False),
    "right": _edge(right=True),
    "ltrim": _string_fn("ltrim", str.lstrip),
    "rtrim": _string_fn("rtrim", str.rstrip),
    "trim": _string_fn("trim", str.strip),
    "extract_regex": _regex(extract=True),
    "matches_regex": _regex(extract=False),
    "sha1": _hash("sha1"),
    "sha256": _hash("sha256"),
    "sha512": _hash("sha512"),
    "md5": _hash("md5"),
    "crc32": _hash("crc32"),
    "get_url_protocol": _url("protocol"),
    "get_url_host": _url("host"),
    "get_url_port": _url("port"),
    "get_url_path": _url("path"),
    "now": _now,
    "timestamp": _timestamp,
    "format": _format,
    "dformat": _dformat,
    "date": _date,
    "size_of": _size_of,
    "is_empty": _is_empty,
    "nullify": lambda ctx, args: None,
    "coalesce": _coalesce,
    "first": _first_last(last=False),
    "last": _first_last(last=True),
    "add_to_array": _add_to_array,
    "join_arrays": _join_arrays,
    "to_array": _to_array,
    "decode": _decode,
    "iif": _iif,
    "min": _extreme(min),
    "max": _extreme(max),
    "to_bigint": _convert("to_bigint", "bigint"),
    "to_decimal": _convert("to_decimal", "float"),
    "to_float": _convert("to_float", "float"),
    "to_integer": _convert("to_integer", "int"),
    "uuid": _uuid,
    "guid": _uuid,
}

#: The documented functions :func:`evaluate` implements (the README lists them).
IMPLEMENTED = frozenset(FUNCTIONS)
