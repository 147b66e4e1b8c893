"""HubSpot tables as the Flow Service explore endpoint shows them, with deterministic preview rows.

The HubSpot declaration (:data:`HUBSPOT`, an :class:`~.registry.EmulatedSource`) and its data, which serve
explore, source connection checks and ingestion.

Adobe documents only a few tables (``Hubspot.All_Deals``, ``Hubspot.Blog_Authors``, ``Hubspot.Blog_Comments``,
``Hubspot.Contacts``) and columns such as ``Vid``, ``Properties_Firstname_Value``, ``Added_At``, ``Portal_Id``.
The rest follows the table set of the HubSpot driver the connector is built on. Every table has an
``Updated_At`` date-time column that works as a ``deltaColumn``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from typing import Any

from .. import specs
from .registry import EmulatedSource

TABLE_PREFIX = "Hubspot."
PREVIEW_ROWS = 5

# Column kinds: "id" (integer id), "int", "long", "double", "bool", "ts" (date-time), "str".
_COMMON_TAIL = [("Portal_Id", "str"), ("Created_At", "ts"), ("Updated_At", "ts")]

TABLES: dict[str, list[tuple[str, str]]] = {
    "All_Deals": [
        ("Deal_Id", "id"),
        ("Properties_Dealname_Value", "str"),
        ("Properties_Amount_Value", "double"),
        ("Properties_Dealstage_Value", "str"),
        ("Properties_Pipeline_Value", "str"),
        ("Properties_Closedate_Value", "ts"),
        ("Is_Deleted", "bool"),
    ],
    "Blog_Authors": [
        ("Id", "id"),
        ("Full_Name", "str"),
        ("Email", "str"),
        ("Bio", "str"),
        ("Website", "str"),
        ("Twitter_Username", "str"),
    ],
    "Blog_Comments": [
        ("Id", "id"),
        ("Content_Id", "long"),
        ("Comment", "str"),
        ("User_Name", "str"),
        ("User_Email", "str"),
        ("State", "str"),
    ],
    "Blog_Posts": [
        ("Id", "id"),
        ("Name", "str"),
        ("Blog_Author_Id", "long"),
        ("Slug", "str"),
        ("State", "str"),
        ("Publish_Date", "ts"),
    ],
    "Campaigns": [
        ("Id", "id"),
        ("App_Id", "long"),
        ("App_Name", "str"),
        ("Name", "str"),
        ("Type", "str"),
        ("Num_Included", "int"),
    ],
    "Companies": [
        ("Company_Id", "id"),
        ("Properties_Name_Value", "str"),
        ("Properties_Domain_Value", "str"),
        ("Properties_Industry_Value", "str"),
        ("Properties_City_Value", "str"),
        ("Properties_Numberofemployees_Value", "int"),
        ("Is_Deleted", "bool"),
    ],
    "Contact_Lists": [
        ("List_Id", "id"),
        ("Name", "str"),
        ("List_Type", "str"),
        ("Dynamic", "bool"),
        ("Metadata_Size", "int"),
    ],
    "Contacts": [
        ("Vid", "id"),
        ("Canonical_Vid", "long"),
        ("Properties_Firstname_Value", "str"),
        ("Properties_Lastname_Value", "str"),
        ("Properties_Email_Value", "str"),
        ("Properties_Company_Value", "str"),
        ("Properties_Lifecyclestage_Value", "str"),
        ("Is_Contact", "bool"),
        ("Added_At", "ts"),
    ],
    "Deal_Pipelines": [
        ("Pipeline_Id", "id"),
        ("Label", "str"),
        ("Display_Order", "int"),
        ("Active", "bool"),
    ],
    "Deals": [
        ("Deal_Id", "id"),
        ("Properties_Dealname_Value", "str"),
        ("Properties_Amount_Value", "double"),
        ("Properties_Dealstage_Value", "str"),
        ("Properties_Closedate_Value", "ts"),
        ("Associated_Company_Id", "long"),
        ("Is_Deleted", "bool"),
    ],
    "Email_Events": [
        ("Id", "id"),
        ("Recipient", "str"),
        ("Type", "str"),
        ("Email_Campaign_Id", "long"),
        ("Browser_Name", "str"),
    ],
    "Emails": [
        ("Id", "id"),
        ("Name", "str"),
        ("Subject", "str"),
        ("State", "str"),
        ("Publish_Date", "ts"),
    ],
    "Engagements": [
        ("Engagement_Id", "id"),
        ("Type", "str"),
        ("Owner_Id", "long"),
        ("Active", "bool"),
        ("Timestamp", "ts"),
    ],
    "Forms": [
        ("Guid", "str"),
        ("Name", "str"),
        ("Action", "str"),
        ("Method", "str"),
        ("Submit_Text", "str"),
    ],
    "Line_Items": [
        ("Id", "id"),
        ("Properties_Name_Value", "str"),
        ("Properties_Quantity_Value", "int"),
        ("Properties_Price_Value", "double"),
        ("Properties_Hs_Product_Id_Value", "long"),
    ],
    "Owners": [
        ("Owner_Id", "id"),
        ("First_Name", "str"),
        ("Last_Name", "str"),
        ("Email", "str"),
        ("Type", "str"),
        ("Is_Active", "bool"),
    ],
    "Products": [
        ("Id", "id"),
        ("Properties_Name_Value", "str"),
        ("Properties_Description_Value", "str"),
        ("Properties_Price_Value", "double"),
        ("Is_Deleted", "bool"),
    ],
    "Tickets": [
        ("Id", "id"),
        ("Properties_Subject_Value", "str"),
        ("Properties_Content_Value", "str"),
        ("Properties_Hs_Pipeline_Stage_Value", "str"),
        ("Properties_Hs_Ticket_Priority_Value", "str"),
        ("Is_Deleted", "bool"),
    ],
}

_FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Linus"]
_LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton"]
_WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
_STAGES = ["appointmentscheduled", "qualifiedtobuy", "contractsent", "closedwon", "closedlost"]
_LIFECYCLE = ["subscriber", "lead", "marketingqualifiedlead", "opportunity", "customer"]
_BASE_TIME = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def table_paths() -> list[str]:
    """All explorable table paths, sorted the way the real explore root lists them."""
    return [TABLE_PREFIX + name for name in sorted(TABLES)]


def table_name(path: str) -> str | None:
    """The table key for a path such as ``Hubspot.Contacts`` (case-sensitive, like the connector)."""
    if not path.startswith(TABLE_PREFIX):
        return None
    name = path[len(TABLE_PREFIX) :]
    return name if name in TABLES else None


def columns(name: str) -> list[tuple[str, str]]:
    """A table's ``(column, kind)`` pairs, the common tail (``Portal_Id``, ``Created_At``, ``Updated_At``) last."""
    return [*TABLES[name], *_COMMON_TAIL]


def _string_value(col: str, rng: random.Random, first: str, last: str) -> str:
    lowered = col.lower()
    if "email" in lowered or lowered == "recipient":
        return f"{first}.{last}@example.com".lower()
    if "firstname" in lowered or lowered == "first_name":
        return first
    if "lastname" in lowered or lowered == "last_name":
        return last
    if "full_name" in lowered or "user_name" in lowered:
        return f"{first} {last}"
    if "dealstage" in lowered or "pipeline_stage" in lowered:
        return rng.choice(_STAGES)
    if "lifecyclestage" in lowered:
        return rng.choice(_LIFECYCLE)
    if "domain" in lowered or "website" in lowered:
        return f"{rng.choice(_WORDS)}.example.com"
    if lowered == "portal_id":
        return "4821936"
    if lowered == "guid":
        return "%08x-%04x-4%03x-a%03x-%012x" % (  # noqa: UP031 - fixed-width hex fields
            rng.getrandbits(32),
            rng.getrandbits(16),
            rng.getrandbits(12),
            rng.getrandbits(12),
            rng.getrandbits(48),
        )
    return " ".join(rng.choice(_WORDS) for _ in range(2)).title()


def _value(col: str, kind: str, rng: random.Random, row: int, first: str, last: str) -> Any:
    if kind == "id":
        return 1000 + row * 7 + rng.randint(0, 6)
    if kind in ("int", "long"):
        return rng.randint(1, 5000)
    if kind == "double":
        return round(rng.uniform(10, 50000), 2)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "ts":
        moment = _BASE_TIME + dt.timedelta(seconds=rng.randint(0, 365 * 86400))
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return _string_value(col, rng, first, last)


def preview_rows(name: str, count: int = PREVIEW_ROWS) -> list[dict[str, Any]]:
    """Sample rows seeded by the table name, so every call (and every process) returns the same data."""
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        row = {col: _value(col, kind, rng, index, first, last) for col, kind in columns(name)}
        if row["Updated_At"] < row["Created_At"]:  # ISO strings of one format sort chronologically
            row["Created_At"], row["Updated_At"] = row["Updated_At"], row["Created_At"]
        rows.append(row)
    return rows


#: HubSpot (``help/sources/connectors/marketing-automation/hubspot.md``): tables ``Hubspot.<Table>``,
#: addressed by ``params.path``, ``xdm``-style columns, ``Updated_At`` on every table.
HUBSPOT = EmulatedSource(
    key="hubspot",
    spec=specs.HUBSPOT_SPEC,
    tables={name: columns(name) for name in TABLES},
    addressing="path",
    column_style="xdm",
    table_prefix=TABLE_PREFIX,
    delta_column="Updated_At",
    rows=preview_rows,
    docs="help/sources/tutorials/api/create/crm/hubspot.md",
)


def table_schema(name: str) -> dict[str, Any]:
    """``{"format": "flat", "schema": {"columns": [...]}}`` for one table (the ``xdm`` column style)."""
    return HUBSPOT.table_schema(name)
