"""Data Prep (``/data/foundation/conversion``): mapping sets, their validation and preview.

A mapping set names an XDM output schema and a list of mappings (source column or expression -> a dot path
in that schema). Two body forms exist and both are accepted: the current one (``outputSchema.schemaRef`` +
``mappings[{sourceType, source, destination}]``) and the legacy one every sources tutorial sends
(``xdmSchema``/``xdmVersion`` + ``mappings[{sourceAttribute, destinationXdmPath}]``). Reads answer both
field-name families and ``sourceType`` as a media type (``text/x.schema-path`` for attributes), as the spec's
examples show. PUT stores a new version (``version + 1``) and older versions stay readable with
``?version=N``. There is no DELETE (the spec and docs have none). Errors use the generic Platform shape,
since Data Prep documents no error bodies.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
from typing import Any
from urllib.parse import quote

from ..core.context import Ctx
from ..core.errors import platform_error
from ..core.messages import Request, Response
from . import expressions
from .errors import bad_request, not_found
from .mapping import map_record, transform_error, utc_from_ms
from .models import (
    MEDIA_TYPES,
    SOURCE_TYPES,
    find_mapping_set,
    normalised_mappings,
    output_schema_id,
    resolved_schema,
    schema_field,
    source_type,
)

DEFAULT_CONTENT_TYPE = "application/vnd.adobe.xed-full+json;version=1"
ORDER_FIELDS = {"createdDate": "createdDate", "updatedDate": "modifiedDate"}


# -- validation ------------------------------------------------------------------------------------
def _body(req: Request) -> dict[str, Any]:
    if not req.body.strip():
        raise bad_request("The request body is required.")
    try:
        body = json.loads(req.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}.") from exc
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object (a mapping set).")
    return body


def _resolved_output(ctx: Ctx, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    schema_id = output_schema_id(body)
    if not schema_id:
        raise bad_request(
            "The mapping set has no output schema: send outputSchema.schemaRef.id (or the legacy xdmSchema)."
        )
    schema = resolved_schema(ctx.store, schema_id)
    if schema is None:
        raise bad_request(f"The output schema '{schema_id}' does not exist in this sandbox.")
    return schema_id, schema


def _mapping_errors(raw: Any, schema: dict[str, Any]) -> list[dict[str, Any]]:
    """``TransformErrorInfo`` entries for one mapping (empty when it is valid)."""
    if not isinstance(raw, dict):
        return [{"destination": None, "exception": "A mapping must be an object.", "source": None}]
    source = raw.get("source", raw.get("sourceAttribute"))
    destination = raw.get("destination", raw.get("destinationXdmPath"))
    declared = raw.get("sourceType")
    kind = source_type(declared) if declared is not None else "ATTRIBUTE"
    error: dict[str, Any] = {
        "destination": destination,
        "source": source,
        "columnName": source if kind == "ATTRIBUTE" else None,
        "sourceType": kind,
    }
    problems: list[str] = []
    if kind is None:
        problems.append(f"Invalid sourceType '{declared}': expected one of {list(SOURCE_TYPES)}.")
        error["sourceType"] = None
    if not isinstance(source, str) or not source:
        problems.append("The mapping has no source (source or sourceAttribute).")
    elif kind == "EXPRESSION":
        try:
            parsed = expressions.parse(source)
        except expressions.ExpressionError as exc:
            problems.append(f"Invalid expression: {exc}")
        else:
            error["columnName"] = parsed.columns[0] if parsed.columns else None
    if not isinstance(destination, str) or not destination:
        problems.append("The mapping has no destination (destination or destinationXdmPath).")
    elif schema_field(schema, destination) is None:
        problems.append(f"The destination '{destination}' does not exist in the output schema.")
    if not problems:
        return []
    error["exception"] = " ".join(problems)
    return [error]


def _validate(ctx: Ctx, body: dict[str, Any]) -> tuple[str, list[list[dict[str, Any]]]]:
    mappings = body.get("mappings")
    if not isinstance(mappings, list):
        raise bad_request("Missing required field 'mappings': a list of mappings.")
    schema_id, schema = _resolved_output(ctx, body)
    return schema_id, [_mapping_errors(mapping, schema) for mapping in mappings]


def _check(ctx: Ctx, body: dict[str, Any]) -> str:
    """Refuse an invalid mapping set with one 400 naming every failing mapping; returns the schema id."""
    schema_id, results = _validate(ctx, body)
    failures = [(index, errors[0]) for index, errors in enumerate(results) if errors]
    if failures:
        detail = "; ".join(f"mappings[{index}]: {error['exception']}" for index, error in failures)
        raise bad_request(f"Invalid mapping set: {detail}", errors=[error for _, error in failures])
    return schema_id


# -- documents -------------------------------------------------------------------------------------
def _hex_id() -> str:
    return secrets.token_hex(16)


def _content_type(body: dict[str, Any]) -> str:
    output = body.get("outputSchema")
    if isinstance(output, dict) and isinstance(output.get("schemaRef"), dict):
        return str(output["schemaRef"].get("contentType") or DEFAULT_CONTENT_TYPE)
    if isinstance(body.get("schemaRef"), dict) and body["schemaRef"].get("contentType"):
        return str(body["schemaRef"]["contentType"])
    return DEFAULT_CONTENT_TYPE


def _stored_mapping(ctx: Ctx, raw: dict[str, Any], version: int, now: int) -> dict[str, Any]:
    kind = source_type(raw.get("sourceType")) or "ATTRIBUTE"
    source = raw.get("source", raw.get("sourceAttribute"))
    destination = raw.get("destination", raw.get("destinationXdmPath"))
    mapping: dict[str, Any] = {
        "id": _hex_id(),
        "version": version,
        "createdDate": now,
        "modifiedDate": now,
        "createdBy": ctx.client_id,
        "modifiedBy": ctx.client_id,
        "sourceType": MEDIA_TYPES[kind],
        "source": source,
        "destination": destination,
        "identity": bool(raw.get("identity", False)),
        "primaryIdentity": bool(raw.get("primaryIdentity", False)),
        "matchScore": 0.0,
        "functionVersion": 1 if kind == "EXPRESSION" else 0,
        "sourceAttribute": source,
        "destinationXdmPath": destination,
    }
    for key in ("name", "description", "identityGroup", "namespaceCode"):
        if raw.get(key) is not None:
            mapping[key] = raw[key]
    return mapping


def _document(ctx: Ctx, body: dict[str, Any], schema_id: str, *, mapping_id: str, version: int) -> dict[str, Any]:
    now = ctx.now_ms
    content_type = _content_type(body)
    schema_ref = {"id": schema_id, "contentType": content_type}
    doc: dict[str, Any] = {
        "id": mapping_id,
        "version": version,
        "createdDate": now,
        "modifiedDate": now,
        "createdBy": ctx.client_id,
        "modifiedBy": ctx.client_id,
        "supportVersion": str(body.get("supportVersion") or "1.1"),
        "outputSchema": {"id": _hex_id(), "version": 0, "schemaRef": schema_ref},
        "mappings": [_stored_mapping(ctx, m, version, now) for m in body["mappings"]],
        "status": "DRAFT",
        "strictMapping": bool(body.get("strictMapping", False)),
        "allowNullValues": bool(body.get("allowNullValues", False)),
        "xdmVersion": str(body.get("xdmVersion") or "1.0"),
        "schemaRef": dict(schema_ref),
        "xdmSchema": schema_id,
    }
    for key in ("name", "description", "tags", "inputSchema"):
        if key in body:
            doc[key] = copy.deepcopy(body[key])
    return doc


def _published(ctx: Ctx, mapping_id: str) -> bool:
    """A mapping set shows PUBLISHED once a flow's Mapping transformation uses it."""
    for flow in ctx.store["flows"]:
        for transformation in flow.get("transformations") or []:
            params = transformation.get("params") if isinstance(transformation, dict) else None
            if isinstance(params, dict) and params.get("mappingId") == mapping_id:
                return True
    return False


def _render(ctx: Ctx, doc: dict[str, Any], expand: bool) -> dict[str, Any]:
    out = {k: copy.deepcopy(v) for k, v in doc.items() if not k.startswith("_")}
    if _published(ctx, doc["id"]):
        out["status"] = "PUBLISHED"
    if expand:
        schema = resolved_schema(ctx.store, output_schema_id(doc))
        if schema is not None:
            out["outputSchema"]["jsonSchema"] = copy.deepcopy(schema)
    return out


def _simple(doc: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "version", "createdDate", "modifiedDate", "createdBy", "modifiedBy")
    return {key: doc[key] for key in keys}


def _flag(req: Request, name: str) -> bool:
    return (req.param(name) or "").lower() == "true"


# -- handlers --------------------------------------------------------------------------------------
def create_mapping_set(req: Request, ctx: Ctx) -> Response:
    """``POST /mappingSets`` -> **200** ``{id, version: 0, createdDate, modifiedDate, createdBy, modifiedBy}``."""
    body = _body(req)
    schema_id = _check(ctx, body)
    doc = _document(ctx, body, schema_id, mapping_id=_hex_id(), version=0)
    doc["_seq"] = ctx.state.next_seq()
    doc["_versions"] = []
    ctx.store["mappingSets"].add(doc)
    return Response(200, _simple(doc))


def validate_mapping_set(req: Request, ctx: Ctx) -> Response:
    """``POST /mappingSets/validate``: one ``{status, errors}`` per mapping; nothing is stored."""
    body = _body(req)
    _, results = _validate(ctx, body)
    return Response(
        200,
        {
            "validationResponse": [
                {"status": "FAILED", "errors": errors} if errors else {"status": "SUCCESS", "errors": None}
                for errors in results
            ]
        },
    )


def _int_param(req: Request, name: str, minimum: int, default: int | None = None) -> int:
    """An integer query parameter; without ``default`` it is required."""
    raw = req.param(name)
    if (raw is None or raw == "") and default is not None:
        return default
    if raw is None or raw == "":
        raise bad_request(f"Required request parameter '{name}' for method parameter type Integer is not present")
    try:
        value = int(raw)
    except ValueError as exc:
        raise bad_request(f"Invalid value '{raw}' for query parameter '{name}': expected an integer.") from exc
    if value < minimum:
        raise bad_request(f"Invalid value '{raw}' for query parameter '{name}': must be at least {minimum}.")
    return value


def list_mapping_sets(req: Request, ctx: Ctx) -> Response:
    """``GET /mappingSets?limit=&start=[&name=][&orderBy=-createdDate][&expandSchema=true]``.

    ``limit`` is required and ``start`` defaults to 0: the API reference marks both required, but Adobe's own
    client (aepp's ``DataPrep.getMappingSets``) sends ``limit`` alone and reads the page. The default order is by last
    update, oldest first.
    """
    limit = _int_param(req, "limit", 1)
    start = _int_param(req, "start", 0, default=0)
    order = (req.param("orderBy") or "updatedDate").strip()
    descending = order.startswith("-")
    field = ORDER_FIELDS.get(order.lstrip("+- "))
    if field is None:
        raise bad_request(f"Invalid orderBy '{order}': use createdDate or updatedDate with an optional + or -.")
    name = req.param("name")
    docs = [d for d in ctx.store["mappingSets"] if name is None or d.get("name") == name]
    docs.sort(key=lambda d: (d[field], d["_seq"]), reverse=descending)
    page = docs[start : start + limit]
    body: dict[str, Any] = {
        "data": [_render(ctx, d, _flag(req, "expandSchema")) for d in page],
        "_page": {"count": len(page), "limit": limit},
        "_links": {},
    }
    if start + limit < len(docs):
        query = f"limit={limit}&start={start + limit}" + (f"&name={quote(name)}" if name is not None else "")
        body["_links"]["next"] = {"href": f"/mappingSets?{query}", "templated": False}
    return Response(200, body)


def _version_param(req: Request) -> int | None:
    raw = req.param("version")
    if raw is None or raw == "":
        return None
    if not re.fullmatch(r"\d+", raw):
        raise bad_request(f"Invalid value '{raw}' for query parameter 'version': expected an integer.")
    return int(raw)


def get_mapping_set(req: Request, ctx: Ctx, mapping_id: str) -> Response:
    version = _version_param(req)
    doc = find_mapping_set(ctx.store, mapping_id, version)
    if doc is None:
        raise not_found(mapping_id, version)
    return Response(200, _render(ctx, doc, _flag(req, "expandSchema")))


def put_mapping_set(req: Request, ctx: Ctx, mapping_id: str) -> Response:
    """Same body as create; stores ``version + 1`` (new mapping ids) and keeps the old version readable."""
    current = ctx.store["mappingSets"].get(mapping_id)
    if current is None:
        raise not_found(mapping_id)
    body = _body(req)
    schema_id = _check(ctx, body)
    doc = _document(ctx, body, schema_id, mapping_id=mapping_id, version=current["version"] + 1)
    doc["createdDate"], doc["createdBy"] = current["createdDate"], current["createdBy"]
    previous = {k: v for k, v in current.items() if not k.startswith("_")}
    versions = [*current.get("_versions", []), previous]
    seq = current["_seq"]  # the collection orders by _seq: an updated mapping set keeps its place
    current.clear()
    current.update(doc, _seq=seq, _versions=versions)
    return Response(200, _render(ctx, current, expand=False))


def list_mappings(req: Request, ctx: Ctx, mapping_id: str) -> Response:
    """``GET /mappingSets/{id}/mappings``: the mappings of the latest version (an array)."""
    doc = find_mapping_set(ctx.store, mapping_id, _version_param(req))
    if doc is None:
        raise not_found(mapping_id)
    return Response(200, copy.deepcopy(doc["mappings"]))


def get_mapping(req: Request, ctx: Ctx, mapping_id: str, item_id: str) -> Response:
    doc = find_mapping_set(ctx.store, mapping_id)
    if doc is None:
        raise not_found(mapping_id)
    for mapping in doc["mappings"]:
        if mapping["id"] == item_id:
            return Response(200, copy.deepcopy(mapping))
    raise platform_error(404, "NotFoundError", f"The mapping '{item_id}' of mapping set '{mapping_id}' was not found.")


def preview_mapping_set(req: Request, ctx: Ctx) -> Response:
    """``POST /mappingSets/preview`` ``{data: [rows], mappingSet}`` -> ``[{data, errors}]`` per row (doc form)."""
    body = _body(req)
    rows = body.get("data")
    mapping_set = body.get("mappingSet")
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise bad_request("Missing required field 'data': a list of sample records.")
    if not isinstance(mapping_set, dict):
        raise bad_request("Missing required field 'mappingSet'.")
    _check(ctx, mapping_set)
    schema = resolved_schema(ctx.store, output_schema_id(mapping_set)) or {}
    context = expressions.EvalContext(now=utc_from_ms(ctx.now_ms))
    out = []
    for row in rows:
        record, errors = map_record(row, normalised_mappings(mapping_set), schema, context)
        out.append({"data": record, "errors": [transform_error(e) for e in errors] or None})
    return Response(200, out)


def validate_expression(req: Request, ctx: Ctx) -> Response:
    """``POST /languages/el/validate`` ``{"expression": "..."}`` -> ``true``/``false``."""
    body = _body(req)
    expression = body.get("expression")
    if isinstance(expression, dict):  # the spec's example nests it: {"expression": {"expression": "..."}}
        expression = expression.get("expression")
    if not isinstance(expression, str):
        raise bad_request("Missing required field 'expression'.")
    try:
        expressions.parse(expression)
    except expressions.ExpressionError:
        return Response(200, False)
    return Response(200, True)


def list_functions(req: Request, ctx: Ctx) -> Response:
    """The functions the emulator evaluates (a subset of Data Prep's)."""
    return Response(200, [{"name": name, "emulated": True} for name in sorted(expressions.IMPLEMENTED)])
