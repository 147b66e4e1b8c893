"""Salesforce objects as the CRM explore endpoint shows them, with deterministic sample records.

Docs (AdobeDocs/experience-platform.en): ``help/sources/tutorials/api/explore/crm.md`` (``objectType=root``
answers a bare array of tables; ``objectType=table`` a ``flat`` schema whose columns are
``{"name", "type", "meta": {"originalType"}}``, without the ``xdm`` block of other tabular sources) and
``help/sources/tutorials/api/collect/crm.md`` (a source connection names ``params.tableName`` and lists
``params.columns``). Column kinds are Salesforce field types as its describe API names them (``id``,
``reference``, ``string``, ``picklist``, ``email``, ``phone``, ``currency``, ``double``, ``boolean``,
``date``, ``datetime``); each becomes the column's ``meta.originalType``.

Values look like the Salesforce REST API's: 18-character record ids (a 3-character key prefix per object, a
15-character case-sensitive id and its 3-character checksum), ``null`` for empty fields, dates as
``2024-03-01`` and date-times as ``2024-03-01T10:15:00.000+0000`` (which Data Prep's default
``yyyy-MM-dd'T'HH:mm:ss.SSSX`` format parses). ``LastModifiedDate`` is on every object, is never before
``CreatedDate`` and is the delta column.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from typing import Any

from .. import specs
from .registry import EmulatedSource

DELTA_COLUMN = "LastModifiedDate"
_AUDIT = [("CreatedDate", "datetime"), (DELTA_COLUMN, "datetime")]

TABLES: dict[str, list[tuple[str, str]]] = {
    "Account": [
        ("Id", "id"),
        ("Name", "string"),
        ("AccountNumber", "string"),
        ("Industry", "picklist"),
        ("AnnualRevenue", "currency"),
        ("BillingCity", "string"),
        ("ParentId", "reference"),
        *_AUDIT,
    ],
    "Contact": [
        ("Id", "id"),
        ("AccountId", "reference"),
        ("FirstName", "string"),
        ("LastName", "string"),
        ("Email", "email"),
        ("Phone", "phone"),
        ("MailingCity", "string"),
        *_AUDIT,
        ("LastActivityDate", "date"),
    ],
    "Lead": [
        ("Id", "id"),
        ("Company", "string"),
        ("FirstName", "string"),
        ("LastName", "string"),
        ("Email", "email"),
        ("Status", "picklist"),
        ("IsConverted", "boolean"),
        ("ConvertedDate", "date"),
        *_AUDIT,
    ],
    "Opportunity": [
        ("Id", "id"),
        ("AccountId", "reference"),
        ("Name", "string"),
        ("Amount", "currency"),
        ("StageName", "picklist"),
        ("CloseDate", "date"),
        ("IsWon", "boolean"),
        *_AUDIT,
    ],
}

#: Salesforce key prefixes (the first three characters of a record id) of the emulated objects.
KEY_PREFIXES = {"Account": "001", "Contact": "003", "Lead": "00Q", "Opportunity": "006"}
#: Contacts and opportunities reference the first accounts (present whenever 10 or more rows are read).
ACCOUNT_POOL = 10

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_COMPANIES = [
    "Acme Robotics",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Industries",
    "Wayne Enterprises",
    "Hooli",
    "Soylent Foods",
    "Cyberdyne Systems",
    "Tyrell Corporation",
]
_INDUSTRIES = ["Technology", "Manufacturing", "Healthcare", "Finance", "Retail", "Energy", "Education"]
_CITIES = ["San Francisco", "New York", "Chicago", "Austin", "Seattle", "Boston", "Denver", "Atlanta"]
_FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Linus"]
_LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton"]
_LEAD_STATUSES = ["Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"]
_STAGES = [
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
]
_PRODUCTS = ["Platform Licenses", "Support Renewal", "Onboarding Services", "Data Add-on", "Expansion"]
_BASE_TIME = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def record_id(object_name: str, index: int) -> str:
    """The 18-character id of the ``index``-th record of an object: ``0015g00000AbCdEXYZ``-like, deterministic.

    Salesforce ids are a key prefix, a pod/instance part and a case-sensitive counter (15 characters), plus a
    checksum of three characters telling which letters of each five-character chunk are upper case.
    """
    digest = int.from_bytes(hashlib.sha256(f"{object_name}:{index}".encode()).digest()[:8], "big")
    unique = ""
    for _ in range(6):
        digest, rest = divmod(digest, 62)
        unique = _BASE62[rest] + unique
    short = f"{KEY_PREFIXES[object_name]}5g0000{unique}"
    suffix = ""
    for chunk in range(3):
        flags = sum(1 << bit for bit, char in enumerate(short[chunk * 5 : chunk * 5 + 5]) if char.isupper())
        suffix += _CHECKSUM[flags]
    return short + suffix


def account_name(index: int) -> str:
    """The ``Name`` of the ``index``-th account (opportunity names refer to it)."""
    base = _COMPANIES[index % len(_COMPANIES)]
    return base if index < len(_COMPANIES) else f"{base} {index // len(_COMPANIES) + 1}"


def _datetime(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _date(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def _person(rng: random.Random, company: str) -> tuple[str, str, str]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    domain = company.lower().replace(" ", "-") + ".example.com"
    return first, last, f"{first}.{last}@{domain}".lower()


def _row(table: str, index: int, rng: random.Random) -> dict[str, Any]:
    created = _BASE_TIME + dt.timedelta(seconds=rng.randint(0, 300 * 86400))
    modified = created + dt.timedelta(seconds=rng.randint(0, 60 * 86400))
    row: dict[str, Any] = {"Id": record_id(table, index)}
    if table == "Account":
        parent = rng.randrange(index) if index >= 3 and rng.random() < 0.3 else None
        row.update(
            Name=account_name(index),
            AccountNumber=f"CD{rng.randint(100000, 999999)}",
            Industry=rng.choice(_INDUSTRIES),
            AnnualRevenue=float(rng.randint(5, 5000) * 100000),
            BillingCity=rng.choice(_CITIES),
            ParentId=None if parent is None else record_id("Account", parent),
        )
    elif table == "Contact":
        account = rng.randrange(ACCOUNT_POOL)
        first, last, email = _person(rng, account_name(account))
        activity = modified + dt.timedelta(days=rng.randint(0, 20)) if rng.random() < 0.7 else None
        row.update(
            AccountId=record_id("Account", account),
            FirstName=first,
            LastName=last,
            Email=email,
            Phone=f"({rng.randint(201, 989)}) 555-{rng.randint(100, 199):04d}",
            MailingCity=rng.choice(_CITIES),
            LastActivityDate=None if activity is None else _date(activity),
        )
    elif table == "Lead":
        company = rng.choice(_COMPANIES)
        first, last, email = _person(rng, company)
        status = rng.choice(_LEAD_STATUSES)
        converted = status == "Closed - Converted"
        row.update(
            Company=company,
            FirstName=first,
            LastName=last,
            Email=email,
            Status=status,
            IsConverted=converted,
            ConvertedDate=_date(modified) if converted else None,
        )
    elif table == "Opportunity":
        account = rng.randrange(ACCOUNT_POOL)
        stage = rng.choice(_STAGES)
        row.update(
            AccountId=record_id("Account", account),
            Name=f"{account_name(account)} - {rng.choice(_PRODUCTS)}",
            Amount=float(rng.randint(10, 2500) * 100),
            StageName=stage,
            CloseDate=_date(created + dt.timedelta(days=rng.randint(14, 120))),
            IsWon=stage == "Closed Won",
        )
    row.update(CreatedDate=_datetime(created), LastModifiedDate=_datetime(modified))
    return row


def sample_rows(table: str, count: int = 5) -> list[dict[str, Any]]:
    """``count`` records of ``table`` (a key of :data:`TABLES`), in column order, the same in every process."""
    seed = int.from_bytes(hashlib.sha256(f"salesforce:{table}".encode()).digest()[:8], "big")
    rng = random.Random(seed)
    columns = [name for name, _ in TABLES[table]]
    rows = []
    for index in range(count):
        row = _row(table, index, rng)
        rows.append({name: row[name] for name in columns})
    return rows


#: Salesforce (``help/sources/tutorials/api/create/crm/salesforce.md``, ``.../explore/crm.md``,
#: ``.../collect/crm.md``): objects by API name, addressed by ``params.tableName`` + ``params.columns``,
#: ``crm``-style columns, ``LastModifiedDate`` as the delta column.
SALESFORCE = EmulatedSource(
    key="salesforce",
    spec=specs.SALESFORCE_SPEC,
    tables=TABLES,
    addressing="tableName",
    column_style="crm",
    delta_column=DELTA_COLUMN,
    rows=sample_rows,
    docs="help/sources/tutorials/api/create/crm/salesforce.md",
)
