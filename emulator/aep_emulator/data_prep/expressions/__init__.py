"""A subset of the Data Prep expression language (calculated fields, ``sourceType: EXPRESSION``).

Data Prep expressions are JEXL-like: column references (``Vid``, ``name.firstName``, ``${First Name}``),
string/number/boolean/null literals, function calls (``lower(Email)``), the string methods ``equals`` and
``equalsIgnoreCase``, arithmetic, comparison, ``&&``/``||``/``!`` (also ``and``/``or``/``not``, ``eq``,
``ne``, ``lt``, ``le``, ``gt``, ``ge``, ``div``, ``mod``) and ``cond ? a : b``.

:func:`parse` accepts every function name Adobe documents, so a mapping set the real service accepts is not
refused here; evaluating raises :class:`EvaluationError` for the documented functions the emulator does not
implement (see ``IMPLEMENTED``). Dates: :mod:`.dates`.
"""

from __future__ import annotations

from .dates import UTC, format_date, iso_datetime, parse_any_date, parse_date
from .errors import EvaluationError, ExpressionError
from .evaluate import Expression, parse
from .functions import IMPLEMENTED
from .parser import DOCUMENTED
from .values import EvalContext, lookup

__all__ = [
    "DOCUMENTED",
    "IMPLEMENTED",
    "UTC",
    "EvalContext",
    "EvaluationError",
    "Expression",
    "ExpressionError",
    "format_date",
    "iso_datetime",
    "lookup",
    "parse",
    "parse_any_date",
    "parse_date",
]
