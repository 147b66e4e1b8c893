"""RFC 6902 JSON Patch for every emulated service, applied by the ``jsonpatch`` and ``jsonpointer`` libraries.

Services differ only in what they refuse and how they say so, so :func:`apply_patch` reports every problem as a
:class:`PatchFailure` (what went wrong, at which operation and path) and lets the service turn it into its own
error envelope through ``errors``::

    patched = apply_patch(doc, body, read_only={"id", "etag"}, ops={"add", "replace", "remove"}, errors=to_flow_error)

The document is never changed: the patch applies to a deep copy, operation by operation, so a failure names the
operation that caused it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Literal

import jsonpatch
import jsonpointer

#: The operations RFC 6902 defines.
ALL_OPS = frozenset({"add", "remove", "replace", "move", "copy", "test"})
#: Operations that need a ``value`` member, and those that need ``from``.
NEEDS_VALUE = frozenset({"add", "replace", "test"})
NEEDS_FROM = frozenset({"move", "copy"})

FailureKind = Literal[
    "not_a_list",  # the body is neither an operation nor a non-empty list of them
    "not_an_object",  # one operation is not a JSON object
    "missing",  # an operation lacks required members (``members`` names them)
    "bad_op",  # ``op`` is not an operation the service supports
    "bad_pointer",  # ``path`` or ``from`` is not a JSON pointer
    "whole_document",  # the operation would replace or remove the whole resource
    "read_only",  # the operation touches a member the service owns
    "not_found",  # ``path``/``from`` (or its parent) does not exist, or an array index is out of range
    "test_failed",  # a ``test`` operation did not match
]


@dataclass(frozen=True)
class PatchFailure:
    """Why a patch was refused; ``index`` is the operation's position (``None`` for the body as a whole)."""

    kind: FailureKind
    message: str
    index: int | None = None
    op: str | None = None
    path: str | None = None
    members: tuple[str, ...] = field(default_factory=tuple)

    @property
    def root(self) -> str | None:
        """The top-level member ``path`` addresses (``/auth/params/x`` -> ``auth``), if it is a pointer."""
        if not isinstance(self.path, str) or not self.path.startswith("/"):
            return None
        return _unescape(self.path[1:].split("/", 1)[0])


class JsonPatchError(ValueError):
    """What :func:`apply_patch` raises when the service gives no ``errors`` mapping."""

    def __init__(self, failure: PatchFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


ErrorMapper = Callable[[PatchFailure], Exception]
#: Top-level member names, or a predicate over a JSON pointer (``"/auth/specName"``), that no operation may write.
ReadOnly = Collection[str] | Callable[[str], bool]
#: A service's own spellings: given one (normalised) operation and the document so far, the standard
#: operations to apply instead (return ``[operation]`` to keep it).
Rewrite = Callable[[dict[str, Any], Any], list[dict[str, Any]]]


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _error(failure: PatchFailure, errors: ErrorMapper | None) -> Exception:
    """The exception to raise for ``failure``: the service's, else :class:`JsonPatchError`."""
    return errors(failure) if errors is not None else JsonPatchError(failure)


def operations_of(body: Any, errors: ErrorMapper | None = None) -> list[Any]:
    """The operations of a patch body: a list, or a single operation object (clients send both)."""
    ops = [body] if isinstance(body, dict) else body
    if not isinstance(ops, list) or not ops:
        raise _error(PatchFailure("not_a_list", "A JSON Patch body must be a non-empty array of operations."), errors)
    return ops


def _check_operation(
    index: int, raw: Any, ops: Collection[str], read_only: ReadOnly, errors: ErrorMapper | None
) -> dict[str, Any]:
    """The operation with a lowercase ``op``, after the checks that need no document."""
    if not isinstance(raw, dict):
        raise _error(PatchFailure("not_an_object", f"Operation {index} is not a JSON object.", index), errors)
    missing = tuple(name for name in ("op", "path") if name not in raw)
    if missing:
        names = " and ".join(f"'{name}'" for name in missing)
        raise _error(PatchFailure("missing", f"Operation {index} has no {names}.", index, members=missing), errors)
    name = str(raw["op"]).lower()
    path = raw["path"]
    if name not in ALL_OPS or name not in ops:
        raise _error(
            PatchFailure("bad_op", f"Unsupported JSON Patch operation '{raw['op']}'.", index, str(raw["op"]), path),
            errors,
        )
    pointers = [("path", path)] + ([("from", raw["from"])] if name in NEEDS_FROM and "from" in raw else [])
    for member, pointer in pointers:
        if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
            raise _error(
                PatchFailure("bad_pointer", f"'{pointer}' ({member}) is not a JSON pointer.", index, name, path),
                errors,
            )
    needed = ("value",) if name in NEEDS_VALUE else ("from",) if name in NEEDS_FROM else ()
    absent = tuple(member for member in needed if member not in raw)
    if absent:
        raise _error(
            PatchFailure(
                "missing", f"The '{name}' operation on '{path}' has no '{absent[0]}'.", index, name, path, absent
            ),
            errors,
        )
    if path == "" and name != "test":
        raise _error(
            PatchFailure("whole_document", "A patch cannot replace or remove the whole resource.", index, name, path),
            errors,
        )
    # A test writes nothing, so it may look at read-only members; a move also takes its source away.
    touched = [] if name == "test" else [path] + ([raw["from"]] if name == "move" else [])
    for pointer in touched:
        root = _unescape(pointer[1:].split("/", 1)[0]) if pointer else ""
        if read_only(pointer) if callable(read_only) else root in read_only:
            raise _error(
                PatchFailure("read_only", f"The field '{pointer}' cannot be changed.", index, name, pointer), errors
            )
    operation = copy.deepcopy(raw)
    operation["op"] = name
    return operation


def apply_patch(
    doc: Any,
    body: Any,
    *,
    ops: Collection[str] = ALL_OPS,
    read_only: ReadOnly = frozenset(),
    errors: ErrorMapper | None = None,
    rewrite: Rewrite | None = None,
) -> Any:
    """``doc`` (not changed) with the patch ``body`` applied.

    ``ops`` limits the operations accepted; ``read_only`` names the top-level members no operation may write (or
    move away), or is a predicate over the JSON pointer an operation writes (for nested read-only members);
    ``errors`` maps a :class:`PatchFailure` to the exception to raise (default
    :class:`JsonPatchError`); ``rewrite`` expands a service's non-standard operations before they apply.
    """
    operations = operations_of(body, errors)
    result = copy.deepcopy(doc)
    for index, raw in enumerate(operations):
        operation = _check_operation(index, raw, ops, read_only, errors)
        for step in rewrite(operation, result) if rewrite is not None else [operation]:
            result = _apply_one(result, index, step, errors)
    return result


def _apply_one(doc: Any, index: int, operation: dict[str, Any], errors: ErrorMapper | None) -> Any:
    name, path = operation["op"], operation["path"]
    try:
        return jsonpatch.JsonPatch([operation]).apply(doc, in_place=True)
    except jsonpatch.JsonPatchTestFailed as exc:
        raise _error(
            PatchFailure("test_failed", f"Test failed at '{path}': {exc}.", index, name, path), errors
        ) from exc
    except (jsonpatch.JsonPatchConflict, jsonpointer.JsonPointerException, TypeError) as exc:
        raise _error(
            PatchFailure("not_found", f"'{path}' does not exist in the resource ({exc}).", index, name, path), errors
        ) from exc
    except jsonpatch.JsonPatchException as exc:
        raise _error(
            PatchFailure("bad_pointer", f"Invalid operation on '{path}': {exc}.", index, name, path), errors
        ) from exc
