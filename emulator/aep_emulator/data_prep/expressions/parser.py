"""The expression grammar: tokens, and a recursive-descent parser producing a tree of tuples (:data:`Node`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import ExpressionError

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


class Parser:
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
