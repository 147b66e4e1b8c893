"""Which ``Accept`` values the registry serves: every GET names a format, lookups a version as well.

The registry takes the ``xed`` and ``xdm`` spellings of a format alike ("A valid Accept value should look like
application/vnd.adobe.{xed|xdm}+json", the spec's ``acceptErrorList``/``acceptErrorLookup``); aepp sends
``xdm-full`` for schema, class and union lookups, ``xdm-id`` for class and data type lists, ``xdm`` for field
group lists and ``version=1.0`` for behaviours. Descriptors only know the ``xdm`` family.
"""

from __future__ import annotations

from ..core.accept import AdobeMediaType, parse_media_type
from ..core.errors import ApiError, platform_error
from ..core.messages import Request
from .xdm_errors import error

#: Resource lists: short items or full documents.
LIST_VARIANTS = ("-id", "")
#: One resource: raw, resolved, without titles (and descriptions), resolved with descriptions only.
LOOKUP_VARIANTS = ("", "-full", "-notext", "-full-notext", "-full-desc")
RESOURCE_FAMILIES = ("xed", "xdm")
DESCRIPTOR_LIST_FORMATS = ("xdm-id", "xdm-link", "xdm", "xdm-v2", "xdm-v2-id", "xdm-v2-link")
#: The only major version of every resource; ``version=1`` (or ``1.0``) is the latest minor.
MAJOR_VERSION = "1"


def _accept(req: Request) -> tuple[str, AdobeMediaType | None]:
    raw = req.headers.get("accept", "")
    return raw, parse_media_type(raw)


def _not_acceptable(value: str) -> ApiError:
    return platform_error(406, "NotAcceptableError", f"The Accept format/version '{value}' is not available.")


def list_accept(req: Request) -> str:
    """``xed-id`` (short items) or ``xed`` (full documents), whichever family the client spelled."""
    raw, media = _accept(req)
    if media is None or media.version is not None or media.family not in RESOURCE_FAMILIES:
        raise error(
            "XDM-1006-400",
            "Accept header invalid",
            f"The supplied Accept header is not valid: {raw or '(none)'} - a listing call needs an unversioned "
            "value such as application/vnd.adobe.xed-id+json",
        )
    if media.variant not in LIST_VARIANTS:
        raise _not_acceptable(raw)
    return f"xed{media.variant}"


def lookup_accept(req: Request) -> str:
    """The lookup format in its ``xed`` spelling (``xdm-full`` -> ``xed-full``)."""
    raw, media = _accept(req)
    if media is None or media.version is None or media.family not in RESOURCE_FAMILIES:
        raise error(
            "XDM-1007-400",
            "Accept header invalid",
            f"The supplied Accept header is not valid: {raw or '(none)'} - a lookup needs a versioned value "
            "such as application/vnd.adobe.xed+json; version=1 (Version should be specified)",
        )
    if media.major_version != MAJOR_VERSION or media.variant not in LOOKUP_VARIANTS:
        raise _not_acceptable(raw)
    return f"xed{media.variant}"


def descriptor_list_accept(req: Request) -> str:
    raw, media = _accept(req)
    if media is None or media.version is not None or media.family != "xdm":
        raise error(
            "XDM-1008-400",
            "Accept header invalid",
            f"The supplied Accept header is not valid: {raw or '(none)'} - descriptor lists need a value such "
            "as application/vnd.adobe.xdm-id+json",
        )
    if media.format not in DESCRIPTOR_LIST_FORMATS:
        raise _not_acceptable(raw)
    return media.format


def descriptor_lookup_accept(req: Request) -> None:
    """Descriptors are not versioned: no Accept, a generic one or the ``xdm`` family; ``xed`` is refused."""
    raw, media = _accept(req)
    if media is not None and media.family != "xdm":
        raise error(
            "XDM-1009-400",
            "Accept header invalid",
            f"The supplied Accept header is not valid: {raw} - a descriptor lookup needs application/vnd.adobe."
            "xdm+json (or no Accept header)",
        )
