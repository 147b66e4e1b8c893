"""Validated settings for talking to AEP, independent of where they come from (Airflow, env, code)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_PLATFORM_URL = "https://platform.adobe.io"
DEFAULT_IMS_URL = "https://ims-na1.adobelogin.com"
DEFAULT_SANDBOX = "prod"
DEFAULT_SCOPES = "openid,session,AdobeID,read_organizations,additional_info.projectedProductContext"
FLOW_SERVICE_PATH = "/data/foundation/flowservice"
SCHEMA_REGISTRY_PATH = "/data/foundation/schemaregistry"
CATALOG_PATH = "/data/foundation/catalog"
DATA_PREP_PATH = "/data/foundation/conversion"
QUERY_SERVICE_PATH = "/data/foundation/query"
IMS_TOKEN_PATH = "/ims/token/v3"

_SANDBOX_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_ORG_RE = re.compile(r"^[A-Za-z0-9]+@AdobeOrg$")
# The client secret is sent to the IMS host, so it must be Adobe's (or the local emulator).
_IMS_HOST_SUFFIX = ".adobelogin.com"
_PLATFORM_HOST_SUFFIX = ".adobe.io"


def _config_error(field_name: str, problem: str) -> Exception:
    """``AEPConfigError``, imported when raised: DAG files load this module (``links.is_loopback``) on every
    parse, and ``client.errors`` (every error class of the client) is not needed for that."""
    from airflow_provider_aep.client.errors import AEPConfigError

    return AEPConfigError(field_name, problem)


def is_loopback(host: str | None) -> bool:
    """True for localhost and 127.0.0.0/8 / ::1, the only hosts allowed over plain http."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalize_url(value: str, *, field_name: str, host_suffix: str) -> str:
    """Return ``scheme://host[:port]`` or raise naming the field.

    https is required except on loopback hosts (the emulator); non-loopback hosts must be Adobe's, so a
    typo cannot send credentials or tokens to a stranger.
    """
    raw = (value or "").strip()
    if not raw:
        raise _config_error(field_name, "is empty")
    if "://" not in raw:
        raw = "https://" + raw
    parts = urlsplit(raw)
    host = parts.hostname
    if not host:
        raise _config_error(field_name, f"{value!r} has no host name")
    if parts.scheme not in ("https", "http"):
        raise _config_error(field_name, f"scheme {parts.scheme!r} is not supported; use https")
    loopback = is_loopback(host)
    if parts.scheme == "http" and not loopback:
        raise _config_error(
            field_name, f"plain http is only allowed for loopback hosts (the emulator), not {host!r}; use https"
        )
    if not loopback and not (host == host_suffix[1:] or host.endswith(host_suffix)):
        raise _config_error(field_name, f"host {host!r} is not an Adobe host (*{host_suffix}) or loopback")
    if parts.path.strip("/") or parts.query:
        raise _config_error(field_name, f"{value!r} must be a base URL without a path or query")
    try:
        port = parts.port
    except ValueError as err:
        raise _config_error(field_name, f"{value!r} has an invalid port") from err
    netloc = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{netloc}" + (f":{port}" if port else "")


@dataclass(frozen=True)
class AEPSettings:
    """Everything needed to authenticate and address one org + sandbox. Validated on construction."""

    client_id: str
    client_secret: str = field(repr=False)
    org_id: str
    sandbox_name: str = DEFAULT_SANDBOX
    platform_url: str = DEFAULT_PLATFORM_URL
    ims_url: str = DEFAULT_IMS_URL
    scopes: str = DEFAULT_SCOPES
    connect_timeout: float = 10.0
    read_timeout: float = 60.0

    def __post_init__(self) -> None:
        for name in ("client_id", "client_secret", "org_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise _config_error(name, "is required")
        if not _ORG_RE.match(self.org_id.strip()):
            raise _config_error("org_id", f"{self.org_id!r} is not an IMS org id (expected XXXX@AdobeOrg)")
        if not isinstance(self.sandbox_name, str) or not _SANDBOX_RE.match(self.sandbox_name):
            raise _config_error(
                "sandbox_name",
                f"{self.sandbox_name!r} is not a sandbox name: AEP sandbox names are lowercase "
                "letters, digits and hyphens (e.g. 'prod')",
            )
        scopes = [s.strip() for s in str(self.scopes or "").split(",") if s.strip()]
        if not scopes:
            raise _config_error("scopes", "is empty; copy the scopes from the Developer Console credential")
        for name in ("connect_timeout", "read_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise _config_error(name, f"must be a positive number of seconds, got {value!r}")
        object.__setattr__(self, "client_id", self.client_id.strip())
        object.__setattr__(self, "org_id", self.org_id.strip())
        object.__setattr__(self, "scopes", ",".join(scopes))
        object.__setattr__(
            self,
            "platform_url",
            normalize_url(self.platform_url, field_name="host", host_suffix=_PLATFORM_HOST_SUFFIX),
        )
        object.__setattr__(
            self, "ims_url", normalize_url(self.ims_url, field_name="ims_url", host_suffix=_IMS_HOST_SUFFIX)
        )

    @property
    def flow_service_url(self) -> str:
        return self.platform_url + FLOW_SERVICE_PATH

    @property
    def token_url(self) -> str:
        return self.ims_url + IMS_TOKEN_PATH

    @property
    def timeout(self) -> tuple[float, float]:
        return (float(self.connect_timeout), float(self.read_timeout))
