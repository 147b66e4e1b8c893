"""JSON-schema validation with messages that name the offending field, the way API users need them."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

try:
    from jsonschema import Draft7Validator
    from jsonschema.exceptions import ValidationError, best_match
except ImportError as err:  # pragma: no cover - Airflow ships jsonschema; a bare install may not
    raise ImportError(
        "The AEP emulator needs jsonschema; install it with: pip install 'airflow-provider-aep[emulator]'"
    ) from err

from ..core.errors import flow_error

VALIDATION_CODE = "1100-400"
_validators: dict[int, tuple[dict, Draft7Validator]] = {}


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A request schema shipped in ``flow_service/schemas/<name>.json``."""
    text = resources.files(__package__).joinpath("schemas").joinpath(f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)


def _validator(schema: dict[str, Any]) -> Draft7Validator:
    # Catalog schemas are long-lived module constants, so caching by identity is safe and cheap.
    cached = _validators.get(id(schema))
    if cached is None or cached[0] is not schema:
        cached = (schema, Draft7Validator(schema))
        _validators[id(schema)] = cached
    return cached[1]


def _join(prefix: str, parts: list[Any]) -> str:
    path = prefix
    for part in parts:
        if isinstance(part, int):
            path = f"{path or 'body'}[{part}]"
            continue
        path = f"{path}.{part}" if path else str(part)
    return path or "body"


def describe(error: ValidationError, prefix: str = "") -> str:
    """One sentence naming the field and what is wrong with it."""
    field = _join(prefix, list(error.absolute_path))
    kind, expected, value = error.validator, error.validator_value, error.instance
    if kind == "required":
        missing = next((name for name in expected if name not in value), expected[0])
        return f"Missing required field '{_join(prefix, [*error.absolute_path, missing])}'."
    if kind == "type":
        return f"Invalid value for field '{field}': expected {expected}, got {json.dumps(value)}."
    if kind in ("enum", "const"):
        allowed = expected if kind == "enum" else [expected]
        return f"Invalid value for field '{field}': {json.dumps(value)} is not one of {allowed}."
    if kind in ("minimum", "exclusiveMinimum"):
        op = ">=" if kind == "minimum" else ">"
        return f"Invalid value for field '{field}': {json.dumps(value)} must be {op} {expected}."
    if kind in ("minLength", "minItems"):
        return f"Invalid value for field '{field}': must not be empty."
    if kind == "pattern":
        return f"Invalid value for field '{field}': {json.dumps(value)} does not match {expected!r}."
    if kind == "not" and isinstance(expected, dict) and expected.get("required"):
        names = ", ".join(f"'{_join(prefix, [*error.absolute_path, n])}'" for n in expected["required"])
        return f"Field {names} is not allowed here."
    if kind == "oneOf":
        return f"Invalid value for field '{field}': {json.dumps(value)} has the wrong type."
    return f"Invalid value for field '{field}': {error.message}."


def first_error(instance: Any, schema: dict[str, Any], prefix: str = "") -> str | None:
    """The most relevant validation message, or ``None`` when ``instance`` is valid."""
    error = best_match(_validator(schema).iter_errors(instance))
    return None if error is None else describe(error, prefix)


def validate(instance: Any, schema: dict[str, Any], prefix: str = "", code: str = VALIDATION_CODE) -> None:
    """Raise a Flow Service 400 naming the first problem found."""
    message = first_error(instance, schema, prefix)
    if message is not None:
        raise flow_error(code, message)


def validate_request(instance: Any, schema_name: str) -> None:
    """Validate a request body against one of the shipped request schemas."""
    validate(instance, load_schema(schema_name))
