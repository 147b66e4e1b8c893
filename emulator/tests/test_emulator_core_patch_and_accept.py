"""The shared JSON Patch (``core/json_patch.py``) and Adobe ``Accept`` parsing (``core/accept.py``)."""

from __future__ import annotations

import copy

import pytest
from aep_emulator.core.accept import AdobeMediaType, media_type_value, parse_media_type
from aep_emulator.core.json_patch import JsonPatchError, PatchFailure, apply_patch

DOC = {"id": "x", "name": "a", "tags": ["t1"], "auth": {"params": {"user": "u"}}}


def failure(body, **options) -> PatchFailure:
    with pytest.raises(JsonPatchError) as caught:
        apply_patch(DOC, body, **options)
    return caught.value.failure


def test_every_rfc_6902_operation_applies_in_order_on_a_copy():
    before = copy.deepcopy(DOC)
    patched = apply_patch(
        DOC,
        [
            {"op": "add", "path": "/tags/-", "value": "t2"},
            {"op": "ADD", "path": "/tags/0", "value": "t0"},
            {"op": "replace", "path": "/name", "value": "b"},
            {"op": "remove", "path": "/auth/params/user"},
            {"op": "copy", "from": "/name", "path": "/label"},
            {"op": "move", "from": "/label", "path": "/auth/params/label"},
            {"op": "test", "path": "/tags", "value": ["t0", "t1", "t2"]},
        ],
    )
    assert patched == {"id": "x", "name": "b", "tags": ["t0", "t1", "t2"], "auth": {"params": {"label": "b"}}}
    assert before == DOC


def test_a_single_operation_object_is_a_patch_too():
    assert apply_patch(DOC, {"op": "replace", "path": "/name", "value": "c"})["name"] == "c"


def test_inserted_values_are_copies():
    value = {"deep": [1]}
    patched = apply_patch(DOC, [{"op": "add", "path": "/extra", "value": value}])
    value["deep"].append(2)
    assert patched["extra"] == {"deep": [1]}


@pytest.mark.parametrize(
    ("body", "kind", "index", "members"),
    [
        ([], "not_a_list", None, ()),
        ("add", "not_a_list", None, ()),
        ([{"op": "add", "path": "/a", "value": 1}, "x"], "not_an_object", 1, ()),
        ([{"path": "/name"}], "missing", 0, ("op",)),
        ([{}], "missing", 0, ("op", "path")),
        ([{"op": "add", "path": "/name"}], "missing", 0, ("value",)),
        ([{"op": "move", "path": "/name"}], "missing", 0, ("from",)),
        ([{"op": "merge", "path": "/name", "value": 1}], "bad_op", 0, ()),
        ([{"op": "add", "path": "name", "value": 1}], "bad_pointer", 0, ()),
        ([{"op": "add", "path": 3, "value": 1}], "bad_pointer", 0, ()),
        ([{"op": "replace", "path": "", "value": {}}], "whole_document", 0, ()),
        ([{"op": "replace", "path": "/missing", "value": 1}], "not_found", 0, ()),
        ([{"op": "remove", "path": "/tags/5"}], "not_found", 0, ()),
        ([{"op": "add", "path": "/no/parent", "value": 1}], "not_found", 0, ()),
        ([{"op": "add", "path": "/name/x", "value": 1}], "not_found", 0, ()),
        ([{"op": "move", "from": "/nothing", "path": "/x"}], "not_found", 0, ()),
        ([{"op": "test", "path": "/name", "value": "z"}], "test_failed", 0, ()),
    ],
)
def test_failures_name_their_kind_and_operation(body, kind, index, members):
    found = failure(body)
    assert (found.kind, found.index, found.members) == (kind, index, members)
    assert found.message


def test_read_only_members_and_the_allowed_operations_are_the_services_choice():
    assert failure([{"op": "replace", "path": "/id", "value": "y"}], read_only={"id"}).kind == "read_only"
    moved = failure([{"op": "move", "from": "/id", "path": "/other"}], read_only={"id"})
    assert (moved.kind, moved.path, moved.root) == ("read_only", "/id", "id")
    assert apply_patch(DOC, [{"op": "test", "path": "/id", "value": "x"}], read_only={"id"}) == DOC
    nested = failure([{"op": "add", "path": "/auth/params/x", "value": 1}], read_only=lambda p: p.startswith("/auth/"))
    assert (nested.kind, nested.root) == ("read_only", "auth")
    refused = failure([{"op": "copy", "from": "/name", "path": "/n"}], ops={"add", "replace", "remove"})
    assert (refused.kind, refused.op) == ("bad_op", "copy")


def test_errors_map_failures_to_the_services_exception():
    class ServiceError(Exception):
        pass

    def to_error(found: PatchFailure) -> Exception:
        return ServiceError(f"{found.kind} at {found.root}")

    with pytest.raises(ServiceError, match="not_found at auth"):
        apply_patch(DOC, [{"op": "remove", "path": "/auth/nothing"}], errors=to_error)


def test_rewrite_expands_a_services_own_spelling():
    def rewrite(operation, doc):
        if operation["path"] == "/tags-":
            return [{"op": "add", "path": "/tags/-", "value": v} for v in operation["value"] if v not in doc["tags"]]
        return [operation]

    patched = apply_patch(DOC, [{"op": "add", "path": "/tags-", "value": ["t1", "t2"]}], rewrite=rewrite)
    assert patched["tags"] == ["t1", "t2"]


# -- Accept -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("application/vnd.adobe.xed-id+json", AdobeMediaType("xed-id")),
        ("application/vnd.adobe.xdm-full+json; version=1", AdobeMediaType("xdm-full", "1")),
        ('Application/VND.Adobe.XED+JSON;Version="1.0"', AdobeMediaType("xed", "1.0")),
        ("application/json, application/vnd.adobe.xdm-v2-link+json", AdobeMediaType("xdm-v2-link")),
        ("*/*", None),
        ("", None),
        ("application/vnd.adobe.xed+xml", None),
    ],
)
def test_parse_media_type(value, expected):
    assert parse_media_type(value) == expected


def test_media_type_parts():
    media = AdobeMediaType("xdm-full-notext", "1.0")
    assert (media.family, media.variant, media.major_version) == ("xdm", "-full-notext", "1")
    assert AdobeMediaType("xed").variant == "" and AdobeMediaType("xed").major_version is None
    assert AdobeMediaType("xed", "1.x").major_version == "1.x"
    assert media_type_value("xed-full", "1") == "application/vnd.adobe.xed-full+json; version=1"
    assert media_type_value("xdm-id") == "application/vnd.adobe.xdm-id+json"
