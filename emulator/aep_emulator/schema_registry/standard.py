"""The ``global`` container of the emulated Schema Registry: Adobe's standard XDM resources and namespaces.

Only the slice a CRM/marketing-automation onboarding touches is shipped, in the registry's raw (``xed``)
form so one resolver serves global and tenant resources alike:

* behaviours ``record``, ``time-series``, ``adhoc`` (``/global/behaviors``);
* classes XDM Individual Profile and XDM ExperienceEvent (``/global/classes``);
* field groups Demographic Details (``profile-person-details``), Personal Contact Details
  (``profile-personal-details``) and IdentityMap (``/global/fieldgroups``, ids without ``/mixins/``, as Adobe's
  own field groups have);
* the data types those field groups reference (person, person name, email address, phone number, postal
  address) (``/global/datatypes``);
* the ``auditable`` common schema behind ``_repo``/``createdByBatchID`` (resolvable, not listed, like
  ``extensible``);
* the standard identity namespaces (``Email``, ``Phone``, ``ECID``, ...).

Field names, types, formats and bounds follow the XDM field dictionary; titles and descriptions are short
paraphrases. Also here: how a field's ``meta:xdmType`` is derived from its JSON Schema (target-side notes §5.2),
because both the fixtures and tenant resources are annotated the same way.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

XDM = "https://ns.adobe.com/xdm"
RECORD = f"{XDM}/data/record"
TIME_SERIES = f"{XDM}/data/time-series"
ADHOC = f"{XDM}/data/adhoc"
AUDITABLE = f"{XDM}/common/auditable"
EXTENSIBLE = f"{XDM}/common/extensible"
PROFILE = f"{XDM}/context/profile"
EXPERIENCE_EVENT = f"{XDM}/context/experienceevent"
PERSON_DETAILS = f"{XDM}/context/profile-person-details"
PERSONAL_DETAILS = f"{XDM}/context/profile-personal-details"
IDENTITY_MAP = f"{XDM}/context/identitymap"
PERSON = f"{XDM}/context/person"
PERSON_NAME = f"{XDM}/context/person-name"
EMAIL_ADDRESS = f"{XDM}/context/emailaddress"
PHONE_NUMBER = f"{XDM}/context/phonenumber"
POSTAL_ADDRESS = f"{XDM}/common/address"

BEHAVIOURS = (RECORD, TIME_SERIES, ADHOC)
GLOBAL_LIB_VERSION = "1.50.1"
#: Fixed timestamps of the standard resources (they predate every tenant resource).
_GLOBAL_CREATED_MS = 1_600_000_000_000

# -- meta:xdmType --------------------------------------------------------------------------------------
LONG_BOUND = 9007199254740991
INT_BOUND = 2147483648
SHORT_BOUND = 32768
BYTE_BOUND = 128


def xdm_type(node: dict[str, Any]) -> str | None:
    """The ``meta:xdmType`` of a field definition (``None`` when its ``type`` is missing or unknown).

    Integers map by their bounds (smallest of byte/short/int/long that holds them; no bounds = ``int``),
    strings by ``format`` (``date``/``date-time``), objects with only ``additionalProperties`` are maps.
    """
    kind = node.get("type")
    if kind == "string":
        fmt = node.get("format")
        return fmt if fmt in ("date", "date-time") else "string"
    if kind == "integer":
        low, high = node.get("minimum"), node.get("maximum")
        if not isinstance(low, (int, float)) or not isinstance(high, (int, float)):
            return "int"
        widest = max(abs(low), abs(high))
        for name, bound in (("byte", BYTE_BOUND), ("short", SHORT_BOUND), ("int", INT_BOUND)):
            if widest <= bound:
                return name
        return "long"
    if kind == "object":
        if "additionalProperties" in node and not node.get("properties"):
            return "map"
        return "object"
    if kind in ("number", "boolean", "array"):
        return str(kind)
    return None


def annotate(node: dict[str, Any]) -> dict[str, Any]:
    """Add ``meta:xdmType`` to a field definition and everything below it (in place; returns it).

    A ``meta:xdmType`` the caller already set is kept, as the registry echoes what it was given.
    """
    computed = xdm_type(node)
    if computed is not None and "meta:xdmType" not in node:
        node["meta:xdmType"] = computed
    if "$ref" in node and "type" not in node:
        node.setdefault("type", "object")
        node.setdefault("meta:xdmType", "object")
    for child in (node.get("properties") or {}).values():
        if isinstance(child, dict):
            annotate(child)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            annotate(node[key])
    return node


# -- fixture builders --------------------------------------------------------------------------------
def _f(kind: str, title: str, description: str, **extra: Any) -> dict[str, Any]:
    return annotate({"title": title, "type": kind, "description": description, **extra})


def _ref(target: str, title: str, description: str) -> dict[str, Any]:
    return {"title": title, "$ref": target, "description": description, "type": "object", "meta:xdmType": "object"}


def _alt_id(resource_id: str) -> str:
    """``https://ns.adobe.com/xdm/context/profile`` -> ``_xdm.context.profile``."""
    return "_" + resource_id.removeprefix("https://ns.adobe.com/").replace("/", ".")


def _resource(
    resource_id: str,
    resource_type: str,
    title: str,
    description: str,
    definitions: dict[str, dict[str, Any]],
    *,
    refs: tuple[str, ...] = (),
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    all_of = [{"$ref": ref, "type": "object", "meta:xdmType": "object"} for ref in refs]
    all_of += [{"$ref": f"#/definitions/{name}", "type": "object", "meta:xdmType": "object"} for name in definitions]
    doc: dict[str, Any] = {
        "$id": resource_id,
        "meta:altId": _alt_id(resource_id),
        "meta:resourceType": resource_type,
        "version": GLOBAL_LIB_VERSION,
        "title": title,
        "type": "object",
        "description": description,
        "definitions": definitions,
        "allOf": all_of,
        "meta:extensible": True,
        "meta:abstract": True,
        **(meta or {}),
        "meta:xdmType": "object",
        "meta:status": "stable",
        "$schema": "http://json-schema.org/draft-06/schema#",
        "meta:registryMetadata": {
            "repo:createdDate": _GLOBAL_CREATED_MS,
            "repo:lastModifiedDate": _GLOBAL_CREATED_MS,
            "eTag": hashlib.sha256(resource_id.encode()).hexdigest(),
            "meta:globalLibVersion": GLOBAL_LIB_VERSION,
        },
        "meta:containerId": "global",
    }
    return doc


def _datatype(resource_id: str, title: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    name = resource_id.rsplit("/", 1)[1]
    return _resource(resource_id, "datatypes", title, description, {name: {"properties": properties}})


_URI = {"format": "uri-reference"}
_STATUS = {
    "enum": ["active", "incomplete", "pending_verification", "blacklisted", "blocked"],
    "default": "active",
}

_DATATYPES = [
    _datatype(
        PERSON_NAME,
        "Full name",
        "The name parts of a person.",
        {
            "courtesyTitle": _f("string", "Courtesy title", "A salutation such as Mr. or Dr."),
            "firstName": _f("string", "First name", "The given name."),
            "middleName": _f("string", "Middle name", "Middle names or initials."),
            "lastName": _f("string", "Last name", "The family name."),
            "fullName": _f("string", "Full name", "The whole name as it is written."),
            "suffix": _f("string", "Suffix", "A generational suffix such as Jr."),
        },
    ),
    _datatype(
        PERSON,
        "Person",
        "An individual: name, birth date and gender.",
        {
            "name": _ref(PERSON_NAME, "Full name", "The person's name."),
            "birthDate": _f("string", "Birth date", "Full date of birth.", format="date"),
            "birthDayAndMonth": _f(
                "string", "Birth day and month", "Day and month of birth as MM-DD.", pattern="[0-1][0-9]-[0-3][0-9]"
            ),
            "birthYear": _f("integer", "Birth year", "Year of birth.", minimum=1, maximum=32767),
            "gender": _f(
                "string",
                "Gender",
                "The gender the person identifies with.",
                enum=["male", "female", "not_specified", "non_specific"],
            ),
        },
    ),
    _datatype(
        EMAIL_ADDRESS,
        "Email address",
        "An email address and its status.",
        {
            "address": _f("string", "Address", "The email address.", format="email"),
            "label": _f("string", "Label", "A display name for the address."),
            "primary": _f("boolean", "Primary", "Whether this is the primary address."),
            "status": _f("string", "Status", "Whether the address can be used.", **_STATUS),
            "statusReason": _f("string", "Status reason", "Why the address has its status."),
            "type": _f("string", "Type", "The kind of address.", enum=["personal", "work", "unknown"]),
        },
    ),
    _datatype(
        PHONE_NUMBER,
        "Phone number",
        "A phone number and its status.",
        {
            "number": _f("string", "Number", "The phone number as dialled."),
            "countryCode": _f("string", "Country code", "The international dialling code."),
            "extension": _f("string", "Extension", "An internal extension."),
            "primary": _f("boolean", "Primary", "Whether this is the primary number."),
            "status": _f("string", "Status", "Whether the number can be used.", **_STATUS),
            "statusReason": _f("string", "Status reason", "Why the number has its status."),
            "validity": _f("string", "Validity", "Level of validation.", enum=["consumer", "technical", "incomplete"]),
        },
    ),
    _datatype(
        POSTAL_ADDRESS,
        "Postal address",
        "A postal address.",
        {
            "street1": _f("string", "Street 1", "Street, number and apartment."),
            "street2": _f("string", "Street 2", "Further street information."),
            "city": _f("string", "City", "The city."),
            "postalCode": _f("string", "Postal code", "The postal code."),
            "region": _f("string", "Region", "Region, county or district."),
            "stateProvince": _f("string", "State or province", "ISO 3166-2 subdivision code."),
            "country": _f("string", "Country", "The country in free form."),
            "countryCode": _f("string", "Country code", "ISO 3166-1 alpha-2 code.", pattern="^[A-Z]{2}$"),
            "primary": _f("boolean", "Primary", "Whether this is the primary address."),
            "label": _f("string", "Label", "A display name for the address."),
            "status": _f("string", "Status", "Whether the address can be used.", **_STATUS),
        },
    ),
]

_BEHAVIOURS = [
    _resource(
        RECORD,
        "behaviors",
        "Record Schema",
        "Data about the attributes of a subject (record behaviour).",
        {"record": {"properties": {"_id": _f("string", "Identifier", "Unique id of the record.", **_URI)}}},
    ),
    _resource(
        TIME_SERIES,
        "behaviors",
        "Time-series Schema",
        "A snapshot taken when an action happened (time-series behaviour).",
        {
            "time-series": {
                "properties": {
                    "_id": _f("string", "Identifier", "Unique id of the event.", **_URI),
                    "eventType": _f("string", "Event type", "The kind of event."),
                    "producedBy": _f("string", "Produced by", "What produced the event."),
                    "timestamp": _f("string", "Timestamp", "When the event happened.", format="date-time"),
                },
                "required": ["_id", "timestamp"],
            }
        },
    ),
    _resource(ADHOC, "behaviors", "Ad Hoc Schema", "Data for a single dataset (ad-hoc behaviour).", {}),
]

_AUDITABLE = _resource(
    AUDITABLE,
    "mixins",
    "Auditable",
    "Audit fields that every record carries.",
    {
        "auditable": {
            "properties": {
                "_repo": {
                    "type": "object",
                    "meta:xdmType": "object",
                    "properties": {
                        "createDate": _f("string", "Create date", "When the record was created.", format="date-time"),
                        "modifyDate": _f(
                            "string", "Modify date", "When the record was last changed.", format="date-time"
                        ),
                    },
                },
                "createdByBatchID": _f("string", "Created by batch", "The batch that created the record.", **_URI),
                "modifiedByBatchID": _f("string", "Modified by batch", "The batch that last changed it.", **_URI),
                "repositoryCreatedBy": _f("string", "Created by user", "Who created the record."),
                "repositoryLastModifiedBy": _f("string", "Modified by user", "Who last changed the record."),
            }
        }
    },
    meta={"_listed": False},
)

_CLASSES = [
    _resource(
        PROFILE,
        "classes",
        "XDM Individual Profile",
        "A single representation of a person's attributes and interests.",
        {
            "profile": {
                "properties": {
                    "timeSeriesEvents": {
                        "title": "Time-series events",
                        "type": "array",
                        "description": "Events related to the profile.",
                        "items": {"$ref": TIME_SERIES, "type": "object", "meta:xdmType": "object"},
                        "meta:xdmType": "array",
                    }
                }
            }
        },
        refs=(RECORD, AUDITABLE),
        meta={"meta:extends": [AUDITABLE, RECORD]},
    ),
    _resource(
        EXPERIENCE_EVENT,
        "classes",
        "XDM ExperienceEvent",
        "A fact about what happened, at a point in time.",
        {},
        refs=(TIME_SERIES,),
        meta={"meta:extends": [TIME_SERIES]},
    ),
]

_FIELD_GROUPS = [
    _resource(
        PERSON_DETAILS,
        "mixins",
        "Demographic Details",
        "Name, gender and birth date of a person.",
        {"profile-person-details": {"properties": {"person": _ref(PERSON, "Person", "The individual.")}}},
        meta={"meta:intendedToExtend": [PROFILE]},
    ),
    _resource(
        PERSONAL_DETAILS,
        "mixins",
        "Personal Contact Details",
        "Home address, phone numbers and personal email of a person.",
        {
            "profile-personal-details": {
                "properties": {
                    "faxPhone": _ref(PHONE_NUMBER, "Fax phone", "Fax number."),
                    "homeAddress": _ref(POSTAL_ADDRESS, "Home address", "Home postal address."),
                    "homePhone": _ref(PHONE_NUMBER, "Home phone", "Home phone number."),
                    "mobilePhone": _ref(PHONE_NUMBER, "Mobile phone", "Mobile phone number."),
                    "personalEmail": _ref(EMAIL_ADDRESS, "Personal email", "Personal email address."),
                }
            }
        },
        meta={"meta:intendedToExtend": [PROFILE]},
    ),
    _resource(
        IDENTITY_MAP,
        "mixins",
        "IdentityMap",
        "Identities of the subject, keyed by namespace code.",
        {
            "identitymap": {
                "properties": {
                    "identityMap": {
                        "title": "Identity map",
                        "type": "object",
                        "description": "Namespace code -> identities in that namespace.",
                        "meta:xdmType": "map",
                        "additionalProperties": {
                            "type": "array",
                            "meta:xdmType": "array",
                            "items": {
                                "type": "object",
                                "meta:xdmType": "object",
                                "properties": {
                                    "id": _f("string", "Identifier", "The identity value."),
                                    "authenticatedState": _f(
                                        "string",
                                        "Authenticated state",
                                        "How the identity was established.",
                                        enum=["ambiguous", "authenticated", "loggedOut"],
                                        default="ambiguous",
                                    ),
                                    "primary": _f("boolean", "Primary", "Whether this is the primary identity."),
                                },
                            },
                        },
                    }
                }
            }
        },
        meta={"meta:intendedToExtend": [PROFILE, EXPERIENCE_EVENT]},
    ),
]

_EXTENSIBLE = _resource(
    EXTENSIBLE, "mixins", "Extensible", "The JSON-LD context every XDM resource extends.", {}, meta={"_listed": False}
)

#: Every standard resource by ``$id``; ``_listed`` false ones resolve but are not listed or looked up.
GLOBAL_RESOURCES: dict[str, dict[str, Any]] = {
    doc["$id"]: doc for doc in [*_BEHAVIOURS, *_CLASSES, *_FIELD_GROUPS, *_DATATYPES, _AUDITABLE, _EXTENSIBLE]
}
_BY_ALT_ID = {doc["meta:altId"]: doc for doc in GLOBAL_RESOURCES.values()}


def global_resource(resource_id: str) -> dict[str, Any] | None:
    """A standard resource by ``$id`` or ``meta:altId`` (the stored document; do not mutate)."""
    return GLOBAL_RESOURCES.get(resource_id) or _BY_ALT_ID.get(resource_id)


def listed(resource_type: str) -> list[dict[str, Any]]:
    """Deep copies of the standard resources of one ``meta:resourceType`` that the global container lists."""
    return [
        copy.deepcopy(doc)
        for doc in GLOBAL_RESOURCES.values()
        if doc["meta:resourceType"] == resource_type and doc.get("_listed", True)
    ]


# -- identity namespaces ---------------------------------------------------------------------------------
def _namespace(ns_id: int, code: str, name: str, id_type: str, description: str) -> dict[str, Any]:
    return {
        "id": ns_id,
        "code": code,
        "name": name,
        "description": description,
        "idType": id_type,
        "status": "ACTIVE",
        "custom": False,
        "namespaceType": "Standard",
    }


#: Adobe's standard identity namespaces (ids as Identity Service lists them).
STANDARD_NAMESPACES: list[dict[str, Any]] = [
    _namespace(4, "ECID", "ECID", "COOKIE", "Experience Cloud ID."),
    _namespace(6, "Email", "Email", "Email", "Email address."),
    _namespace(7, "Phone", "Phone", "Phone", "Phone number."),
    _namespace(10, "AAID", "Adobe Analytics (Legacy ID)", "COOKIE", "Adobe Analytics visitor id."),
    _namespace(411, "AdCloud", "AdCloud", "COOKIE", "Adobe Advertising Cloud id."),
    _namespace(20914, "GAID", "Google Ad ID (GAID)", "DEVICE", "Android advertising id."),
    _namespace(20915, "IDFA", "Apple IDFA (ID for Advertisers)", "DEVICE", "Apple advertising id."),
]
