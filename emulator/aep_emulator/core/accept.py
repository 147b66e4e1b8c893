"""Adobe's versioned media types in ``Accept``: ``application/vnd.adobe.<format>+json[; version=N]``.

The Schema Registry picks a response shape from them (``xed-id``, ``xdm-full``, ``xdm-v2-link``...), and other
Platform APIs (Catalog's ``schemaRef.contentType``) use the same spelling, so parsing lives here and each service
decides which formats and versions it serves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_VND = re.compile(r"application/vnd\.adobe\.([a-z0-9-]+)\+json", re.IGNORECASE)


@dataclass(frozen=True)
class AdobeMediaType:
    """One ``application/vnd.adobe.<format>+json[; version=N]`` value, ``format`` lowercased."""

    format: str
    version: str | None = None

    @property
    def family(self) -> str:
        """The part before the first ``-`` (``xed``, ``xdm``): ``xdm-full-notext`` -> ``xdm``."""
        return self.format.split("-", 1)[0]

    @property
    def variant(self) -> str:
        """The rest, with its leading ``-`` (``-full-notext``), ``""`` for the bare family."""
        family = self.family
        return self.format[len(family) :]

    @property
    def major_version(self) -> str | None:
        """``version=1.0`` -> ``"1"`` (clients send both spellings of the one major version)."""
        if self.version is None:
            return None
        major, _, minor = self.version.partition(".")
        return major if not minor or minor.isdigit() else self.version


def parse_media_type(value: str) -> AdobeMediaType | None:
    """The first Adobe media type in an ``Accept`` (or ``Content-Type``) value, else ``None``.

    ``*/*``, ``application/json`` and other generic values give ``None``: they name no Adobe format.
    """
    for part in value.split(","):
        media, *params = part.split(";")
        match = _VND.fullmatch(media.strip())
        if match is None:
            continue
        version = None
        for param in params:
            key, _, val = param.partition("=")
            if key.strip().lower() == "version":
                version = val.strip().strip('"')
        return AdobeMediaType(match.group(1).lower(), version)
    return None


def media_type_value(fmt: str, version: str | None = None) -> str:
    """The header value for a format: ``("xed-full", "1")`` -> ``application/vnd.adobe.xed-full+json; version=1``."""
    suffix = f"; version={version}" if version is not None else ""
    return f"application/vnd.adobe.{fmt}+json{suffix}"
