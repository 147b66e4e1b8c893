"""Parsed expressions and their evaluation against one source row."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import EvaluationError, ExpressionError
from .functions import FUNCTIONS
from .parser import Node, Parser
from .values import EvalContext, as_int, as_number, as_text, is_true, lookup, loose_equal


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
    tree = Parser(source).parse()
    columns: list[str] = []
    _columns(tree, columns)
    return Expression(source, tree, tuple(columns))


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "==":
        return loose_equal(left, right)
    if op == "!=":
        return not loose_equal(left, right)
    if left is None or right is None:
        return False
    if isinstance(left, str) and isinstance(right, str):
        pair: tuple[Any, Any] = (left, right)
    else:
        pair = (as_number(left, op), as_number(right, op))
    return {"<": pair[0] < pair[1], "<=": pair[0] <= pair[1], ">": pair[0] > pair[1], ">=": pair[0] >= pair[1]}[op]


def _arith(op: str, left: Any, right: Any) -> Any:
    if op == "+" and (isinstance(left, str) or isinstance(right, str)):
        return as_text(left) + as_text(right)
    if left is None or right is None:
        return None
    a, b = as_number(left, op), as_number(right, op)
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
        return _eval(node[2] if is_true(_eval(node[1], row, ctx)) else node[3], row, ctx)
    if kind == "un":
        value = _eval(node[2], row, ctx)
        if node[1] == "!":
            return not is_true(value)
        return None if value is None else -as_number(value, "-")
    if kind == "bin":
        op = node[1]
        if op == "&&":
            return is_true(_eval(node[2], row, ctx)) and is_true(_eval(node[3], row, ctx))
        if op == "||":
            return is_true(_eval(node[2], row, ctx)) or is_true(_eval(node[3], row, ctx))
        left, right = _eval(node[2], row, ctx), _eval(node[3], row, ctx)
        if op in ("==", "!=", "<", "<=", ">", ">="):
            return _compare(op, left, right)
        return _arith(op, left, right)
    if kind == "index":
        target, index = _eval(node[1], row, ctx), _eval(node[2], row, ctx)
        if isinstance(target, list):
            position = as_int(index, "[]")
            return target[position] if -len(target) <= position < len(target) else None
        if isinstance(target, dict):
            return target.get(as_text(index))
        return None
    if kind == "method":
        target = _eval(node[2], row, ctx)
        args = [_eval(arg, row, ctx) for arg in node[3]]
        if len(args) != 1:
            raise EvaluationError(f"{node[1]} takes exactly one argument.")
        if target is None:
            return False
        if node[1] == "equals":
            return as_text(target) == as_text(args[0])
        return as_text(target).casefold() == as_text(args[0]).casefold()
    if kind == "call":
        name = node[1]
        function = FUNCTIONS.get(name)
        if function is None:
            raise EvaluationError(f"The Data Prep function '{name}' is not emulated.")
        return function(ctx, [_eval(arg, row, ctx) for arg in node[2]])
    raise EvaluationError(f"Cannot evaluate node {kind}.")  # pragma: no cover - parser emits known kinds
