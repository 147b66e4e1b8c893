"""What goes wrong with an expression: it does not parse, or it fails on a record."""

from __future__ import annotations


class ExpressionError(ValueError):
    """The expression does not parse (what ``/mappingSets/validate`` reports)."""


class EvaluationError(ValueError):
    """The expression failed on one record (a ``MAPPER-3700-400`` at ingestion)."""
