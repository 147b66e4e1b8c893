"""A subset of the Data Prep expression language (calculated fields, ``sourceType: EXPRESSION``).

Data Prep expressions are JEXL-like: column references (``Vid``, ``name.firstName``, ``${First Name}``),
string/number/boolean/null literals, function calls (``lower(Email)``), the string methods ``equals`` and
``equalsIgnoreCase``, arithmetic, comparison, ``&&``/``||``/``!`` (also ``and``/``or``/``not``, ``eq``,
``ne``, ``lt``, ``le``, ``gt``, ``ge``, ``div``, ``mod``) and ``cond ? a : b``.

:func:`parse` accepts every function name Adobe documents, so a mapping set the real service accepts is not
refused here; :func:`evaluate` raises :class:`EvaluationError` for the documented functions the emulator does
not implement (see ``IMPLEMENTED``). Dates are :class:`datetime.datetime` values in UTC (Data Prep's
``ZonedDateTime``); Java date patterns (``yyyy-MM-dd'T'HH:mm:ss'Z'``) are translated by :func:`parse_date`
and :func:`format_date`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

UTC = dt.timezone.utc

#: Every function of Adobe's Data Prep functions page (names only); parsing accepts all of them.
DOCUMENTED = frozenset(
    {
        "concat", "explode", "instr", "replacestr", "substr", "lower", "lcase", "upper", "ucase", "split",
        "join", "lpad", "rpad", "left", "right", "ltrim", "rtrim", "trim", "extract_regex", "matches_regex",
        "sha1", "sha256", "sha512", "md5", "crc32", "get_url_protocol", "get_url_host", "get_url_port",
        "get_url_path", "get_url_query_str", "now", "timestamp", "format", "dformat", "date", "date_part",
        "set_date_part", "make_date_time", "make_timestamp", "zone_date_to_utc", "zone_date_to_zone", "size_of",
        "is_empty", "arrays_to_object", "to_object", "str_to_object", "contains_key", "is_set", "nullify",
        "get_keys", "get_values", "coalesce", "first", "last", "add_to_array", "join_arrays", "to_array",
        "decode", "iif", "min", "max", "to_bigint", "to_decimal", "to_float", "to_integer", "json_to_object",
        "uuid", "guid", "ua_os_name", "ua_os_version_major", "ua_os_version", "ua_os_name_version",
        "ua_agent_version", "ua_agent_version_major", "ua_agent_name", "ua_device_class",
    }
)  # fmt: skip
METHODS = frozenset({"equals", "equalsIgnoreCase"})
_WORD_OPERATORS = {
    "and": "&&", "or": "||", "not": "!", "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
    "div": "/", "mod": "%",
}  # fmt: skip

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


class ExpressionError(ValueError):
    """The expression does not parse (what ``/mappingSets/validate`` reports)."""


class EvaluationError(ValueError):
    """The expression failed on one record (a ``MAPPER-3700-400`` at ingestion)."""


# -- Java date patterns ----------------------------------------------------------------------------
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


# -- tokens and parser -----------------------------------------------------------------------------
_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>\d+\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<field>\$\{(?:[^}\\]|\\.)*\})
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>!(),.?:\[\]])
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


@dataclass
class _Token:
    kind: str
    text: str
    value: Any = None


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    while index < len(source):
        match = _TOKEN_RE.match(source, index)
        if match is None:
            raise ExpressionError(f"Unexpected character '{source[index]}' at position {index}.")
        index = match.end()
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "ws":
            continue
        if kind == "number":
            tokens.append(_Token("lit", text, float(text) if any(c in text for c in ".eE") else int(text)))
        elif kind == "string":
            tokens.append(_Token("lit", text, _unescape(text[1:-1])))
        elif kind == "field":
            tokens.append(_Token("field", text, _unescape(text[2:-1])))
        elif kind == "name" and text in ("true", "false", "null"):
            tokens.append(_Token("lit", text, {"true": True, "false": False, "null": None}[text]))
        elif kind == "name" and text in _WORD_OPERATORS:
            tokens.append(_Token("op", _WORD_OPERATORS[text]))
        else:
            tokens.append(_Token(kind, text))
    tokens.append(_Token("end", ""))
    return tokens


Node = tuple[Any, ...]


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.pos = 0

    def peek(self, *texts: str) -> bool:
        token = self.tokens[self.pos]
        return token.kind == "op" and token.text in texts

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.kind != "op" or token.text != text:
            found = token.text or "end of expression"
            raise ExpressionError(f"Expected '{text}' but found '{found}' in '{self.source}'.")

    def parse(self) -> Node:
        if self.tokens[0].kind == "end":
            raise ExpressionError("The expression is empty.")
        node = self.ternary()
        if self.tokens[self.pos].kind != "end":
            raise ExpressionError(f"Unexpected '{self.tokens[self.pos].text}' in '{self.source}'.")
        return node

    def ternary(self) -> Node:
        node = self.binary(0)
        if self.peek("?"):
            self.take()
            yes = self.ternary()
            self.expect(":")
            return ("if", node, yes, self.ternary())
        return node

    _LEVELS: tuple[tuple[str, ...], ...] = (("||",), ("&&",), ("==", "!="), ("<", "<=", ">", ">="), ("+", "-"))

    def binary(self, level: int) -> Node:
        if level == len(self._LEVELS):
            return self.multiplicative()
        node = self.binary(level + 1)
        while self.peek(*self._LEVELS[level]):
            op = self.take().text
            node = ("bin", op, node, self.binary(level + 1))
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.peek("*", "/", "%"):
            op = self.take().text
            node = ("bin", op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek("!", "-"):
            op = self.take().text
            return ("un", op, self.unary())
        return self.postfix(self.primary())

    def arguments(self) -> list[Node]:
        args: list[Node] = []
        if self.peek(")"):
            self.take()
            return args
        while True:
            args.append(self.ternary())
            if self.peek(","):
                self.take()
                continue
            self.expect(")")
            return args

    def postfix(self, node: Node) -> Node:
        while True:
            if self.peek("["):
                self.take()
                index = self.ternary()
                self.expect("]")
                node = ("index", node, index)
            elif self.peek("."):
                self.take()
                name = self.take()
                if name.kind != "name":
                    raise ExpressionError(f"Expected a name after '.' in '{self.source}'.")
                if self.peek("("):
                    self.take()
                    if name.text not in METHODS:
                        raise ExpressionError(f"Unknown method '{name.text}' in '{self.source}'.")
                    node = ("method", name.text, node, self.arguments())
                elif node[0] == "field":
                    node = ("field", (*node[1], name.text))
                else:
                    raise ExpressionError(f"Cannot read '.{name.text}' of a value in '{self.source}'.")
            else:
                return node

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "lit":
            return ("lit", token.value)
        if token.kind == "field":
            return ("field", (token.value,))
        if token.kind == "name":
            if self.peek("("):
                self.take()
                if token.text not in DOCUMENTED:
                    raise ExpressionError(f"Unknown function '{token.text}' in '{self.source}'.")
                return ("call", token.text, self.arguments())
            return ("field", (token.text,))
        if token.kind == "op" and token.text == "(":
            node = self.ternary()
            self.expect(")")
            return node
        if token.kind == "op" and token.text == "[":
            items: list[Node] = []
            while not self.peek("]"):
                items.append(self.ternary())
                if not self.peek("]"):
                    self.expect(",")
            self.take()
            return ("array", items)
        found = token.text or "end of expression"
        raise ExpressionError(f"Unexpected '{found}' in '{self.source}'.")


@dataclass(frozen=True)
class Expression:
    """A parsed expression; ``columns`` are the source fields it reads."""

    source: str
    tree: Node
    columns: tuple[str, ...] = field(default=())

    def evaluate(self, row: dict[str, Any], context: EvalContext | None = None) -> Any:
        return _eval(self.tree, row, context or EvalContext())


def _columns(node: Node, out: list[str]) -> None:
    if node[0] == "field":
        name = ".".join(node[1])
        if name not in out:
            out.append(name)
        return
    for part in node[1:]:
        if isinstance(part, tuple) and part and isinstance(part[0], str):
            _columns(part, out)
        elif isinstance(part, list):
            for item in part:
                _columns(item, out)


def parse(source: str) -> Expression:
    """Parse an expression or raise :class:`ExpressionError` naming the problem."""
    if not isinstance(source, str):
        raise ExpressionError("The expression must be a string.")
    tree = _Parser(source).parse()
    columns: list[str] = []
    _columns(tree, columns)
    return Expression(source, tree, tuple(columns))


# -- evaluation ------------------------------------------------------------------------------------
@dataclass
class EvalContext:
    """What ``now()``, ``timestamp()`` and ``uuid()`` read: the emulator clock and a seeded generator."""

    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(UTC))
    rng: random.Random = field(default_factory=random.Random)


def lookup(row: dict[str, Any], path: Sequence[str]) -> Any:
    """A column: the whole dotted name first (flat tables), then a walk into nested objects."""
    joined = ".".join(path)
    if joined in row:
        return row[joined]
    value: Any = row
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return iso_datetime(value)
    return str(value)


def _number(value: Any, what: str) -> int | float:
    if isinstance(value, bool) or value is None:
        raise EvaluationError(f"{what}: expected a number, got {_text(value) or 'null'}.")
    if isinstance(value, (int, float)):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError as exc:
            raise EvaluationError(f"{what}: '{text}' is not a number.") from exc


def _int(value: Any, what: str) -> int:
    number = _number(value, what)
    if isinstance(number, float) and not number.is_integer():
        raise EvaluationError(f"{what}: expected an integer, got {number}.")
    return int(number)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "==":
        return _loose_equal(left, right)
    if op == "!=":
        return not _loose_equal(left, right)
    if left is None or right is None:
        return False
    if isinstance(left, str) and isinstance(right, str):
        pair: tuple[Any, Any] = (left, right)
    else:
        pair = (_number(left, op), _number(right, op))
    return {"<": pair[0] < pair[1], "<=": pair[0] <= pair[1], ">": pair[0] > pair[1], ">=": pair[0] >= pair[1]}[op]


def _loose_equal(left: Any, right: Any) -> bool:
    if isinstance(left, (int, float)) and isinstance(right, str) and not isinstance(left, bool):
        try:
            return left == _number(right, "==")
        except EvaluationError:
            return False
    if isinstance(right, (int, float)) and isinstance(left, str) and not isinstance(right, bool):
        return _loose_equal(right, left)
    return bool(left == right)


def _arith(op: str, left: Any, right: Any) -> Any:
    if op == "+" and (isinstance(left, str) or isinstance(right, str)):
        return _text(left) + _text(right)
    if left is None or right is None:
        return None
    a, b = _number(left, op), _number(right, op)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        raise EvaluationError("Division by zero.")
    if op == "/":
        return a // b if isinstance(a, int) and isinstance(b, int) else a / b
    return a % b


def _eval(node: Node, row: dict[str, Any], ctx: EvalContext) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "field":
        return lookup(row, node[1])
    if kind == "array":
        return [_eval(item, row, ctx) for item in node[1]]
    if kind == "if":
        return _eval(node[2] if _truthy(_eval(node[1], row, ctx)) else node[3], row, ctx)
    if kind == "un":
        value = _eval(node[2], row, ctx)
        if node[1] == "!":
            return not _truthy(value)
        return None if value is None else -_number(value, "-")
    if kind == "bin":
        op = node[1]
        if op == "&&":
            return _truthy(_eval(node[2], row, ctx)) and _truthy(_eval(node[3], row, ctx))
        if op == "||":
            return _truthy(_eval(node[2], row, ctx)) or _truthy(_eval(node[3], row, ctx))
        left, right = _eval(node[2], row, ctx), _eval(node[3], row, ctx)
        if op in ("==", "!=", "<", "<=", ">", ">="):
            return _compare(op, left, right)
        return _arith(op, left, right)
    if kind == "index":
        target, index = _eval(node[1], row, ctx), _eval(node[2], row, ctx)
        if isinstance(target, list):
            position = _int(index, "[]")
            return target[position] if -len(target) <= position < len(target) else None
        if isinstance(target, dict):
            return target.get(_text(index))
        return None
    if kind == "method":
        target = _eval(node[2], row, ctx)
        args = [_eval(arg, row, ctx) for arg in node[3]]
        if len(args) != 1:
            raise EvaluationError(f"{node[1]} takes exactly one argument.")
        if target is None:
            return False
        if node[1] == "equals":
            return _text(target) == _text(args[0])
        return _text(target).casefold() == _text(args[0]).casefold()
    if kind == "call":
        name = node[1]
        function = FUNCTIONS.get(name)
        if function is None:
            raise EvaluationError(f"The Data Prep function '{name}' is not emulated.")
        return function(ctx, [_eval(arg, row, ctx) for arg in node[2]])
    raise EvaluationError(f"Cannot evaluate node {kind}.")  # pragma: no cover - parser emits known kinds


# -- functions -------------------------------------------------------------------------------------
Function = Callable[[EvalContext, list[Any]], Any]


def _arity(name: str, args: list[Any], low: int, high: int | None = None) -> None:
    high = low if high is None else high
    if not low <= len(args) <= high:
        expected = str(low) if low == high else f"{low} to {high}"
        raise EvaluationError(f"{name} takes {expected} arguments, got {len(args)}.")


def _string_fn(name: str, apply: Callable[[str], Any]) -> Function:
    def run(ctx: EvalContext, args: list[Any]) -> Any:
        _arity(name, args, 1)
        return None if args[0] is None else apply(_text(args[0]))

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
    raise EvaluationError(f"{what}: expected a date, got {_text(value) or 'null'}.")


def _date(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("date", args, 1, 3)
    value = args[0]
    if value is None:
        return _as_date(args[2], "date") if len(args) == 3 and args[2] is not None else None
    if isinstance(value, dt.datetime):
        return value
    if len(args) >= 2 and args[1] is not None:
        return parse_date(_text(value), _text(args[1]))
    return parse_any_date(_text(value))


def _dformat(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("dformat", args, 2)
    if args[0] is None:
        return None
    moment = dt.datetime.fromtimestamp(_int(args[0], "dformat") / 1000, UTC)
    return format_date(moment, _text(args[1]))


def _format(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("format", args, 2)
    return None if args[0] is None else format_date(_as_date(args[0], "format"), _text(args[1]))


def _concat(ctx: EvalContext, args: list[Any]) -> Any:
    if any(arg is None for arg in args):
        return None
    return "".join(_text(arg) for arg in args)


def _substr(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("substr", args, 2, 3)
    if args[0] is None:
        return None
    text, start = _text(args[0]), _int(args[1], "substr")
    if len(args) == 2:
        return text[start:]
    return text[start : start + _int(args[2], "substr")]


def _instr(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("instr", args, 2, 4)
    if args[0] is None or args[1] is None:
        return None
    text, needle = _text(args[0]), _text(args[1])
    position = _int(args[2], "instr") if len(args) > 2 else 0
    occurrence = _int(args[3], "instr") if len(args) > 3 else 1
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
        text, width = _text(args[0]), _int(args[1], "pad")
        padding = _text(args[2]) or " "
        if len(text) >= width:
            return text[:width]
        fill = (padding * width)[: width - len(text)]
        return fill + text if left else text + fill

    return run


def _replacestr(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("replacestr", args, 3)
    return None if args[0] is None else _text(args[0]).replace(_text(args[1]), _text(args[2]))


def _split(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("split", args, 2)
    if args[0] is None:
        return None
    separators = _text(args[1]).replace("\\\\", "\\")
    if not separators:
        return [_text(args[0])]
    return re.split("[" + re.escape(separators) + "]", _text(args[0]))


def _explode(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("explode", args, 1, 2)
    if args[0] is None:
        return None
    pattern = _text(args[1]) if len(args) > 1 and args[1] is not None else ","
    return [part for part in re.split(pattern, _text(args[0])) if part != ""]


def _join(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("join", args, 2, 99)
    items = _flatten(args[1:])
    return _text(args[0]).join(_text(item) for item in items if item is not None)


def _regex(extract: bool) -> Function:
    def run(ctx: EvalContext, args: list[Any]) -> Any:
        _arity("extract_regex" if extract else "matches_regex", args, 2)
        if args[0] is None:
            return None
        try:
            pattern = re.compile(_text(args[1]))
        except re.error as exc:
            raise EvaluationError(f"Invalid regular expression '{args[1]}': {exc}.") from exc
        if not extract:
            return pattern.fullmatch(_text(args[0])) is not None
        match = pattern.search(_text(args[0]))
        return None if match is None else [match.group(0), *match.groups()]

    return run


def _hash(algorithm: str) -> Function:
    def run(ctx: EvalContext, args: list[Any]) -> Any:
        _arity(algorithm, args, 1, 2)
        if args[0] is None:
            return None
        charset = _text(args[1]) if len(args) > 1 and args[1] is not None else "UTF-8"
        try:
            data = _text(args[0]).encode(charset.replace("US-ASCII", "ascii"))
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
        parsed = urlsplit(_text(args[0]))
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
        full = len(args) < 2 or _truthy(args[1])
        return path if full else path.rsplit("/", 1)[-1]

    return run


def _convert(name: str, kind: str) -> Function:
    def run(ctx: EvalContext, args: list[Any]) -> Any:
        _arity(name, args, 1)
        if args[0] is None:
            return None
        text = _text(args[0]).strip()
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
        if _loose_equal(key, options[index]):
            return options[index + 1]
    return options[-1] if len(options) % 2 == 1 else None


def _iif(ctx: EvalContext, args: list[Any]) -> Any:
    _arity("iif", args, 3)
    return args[1] if _truthy(args[0]) else args[2]


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
    return items if _truthy(args[0]) else [item for item in items if item is not None]


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
        text, count = _text(args[0]), max(_int(args[1], "left/right"), 0)
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
