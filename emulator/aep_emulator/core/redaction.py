"""Secrets masked in what the control plane shows: journal entries and the resource pages.

The journal stores requests as they arrived. ``GET /__emulator/journal`` answers a masked copy unless
``?secrets=true`` is given, as ``/state`` does for stored connections:

* the IMS form (and query) fields that look secret (``client_secret``);
* the credential of ``Authorization``/``Proxy-Authorization`` headers (``Bearer <redacted token #N>``, where
  ``N`` numbers the tokens the emulator issued since the last reset, so tests can still tell tokens apart),
  ``Cookie`` and ``x-emulator-token``;
* secret ``auth.params`` of connection bodies (``format: password`` in the auth spec, or a secret-looking
  name: the HubSpot ``clientSecret``, ``accessToken`` and ``refreshToken``, the Salesforce ``password``,
  ``securityToken`` and ``clientSecret``), also in JSON Patch operations on
  ``/auth...``;
* ``"name": "value"`` / ``name=value`` pairs with secret-looking names in bodies that are not valid JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

MASK = "<redacted>"
#: Parameter names treated as secrets whatever the spec says (the same rule ``/state`` applies).
SECRET_HINT = re.compile(r"secret|password|token|private|passphrase|key$", re.IGNORECASE)
IMS_TOKEN_PATH = "/ims/token/v3"
_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization")
_SECRET_HEADERS = ("cookie", "x-emulator-token")
_TEXT_SECRETS = (
    re.compile(r'("[^"]*(?:secret|password|token|private|passphrase|key)"\s*:\s*)"(?:[^"\\]|\\.)*"', re.IGNORECASE),
    re.compile(r"((?:^|[&\s?])[^=&\s]*(?:secret|password|token|passphrase)[^=&\s]*=)[^&\s]*", re.IGNORECASE),
)


#: ``(connection spec id, auth spec name) -> secret parameter names``; an unknown spec id (or ``None``) gives the
#: secret names of every spec. Flow Service provides it (``EmulatorState.secret_names``).
SecretNames = Callable[[Any, Any], set[str]]


def no_secret_names(spec_id: Any, spec_name: Any) -> set[str]:
    return set()


def _is_secret(name: str, names: set[str]) -> bool:
    return name in names or bool(SECRET_HINT.search(name))


def _blank(value: Any) -> bool:
    return value is None or value == ""


def mask_params(params: Mapping[str, Any], names: set[str]) -> dict[str, Any]:
    """``auth.params`` with every non-empty secret value replaced by :data:`MASK`."""
    return {k: (MASK if _is_secret(str(k), names) and not _blank(v) else v) for k, v in params.items()}


def _mask_auth(auth: Mapping[str, Any], spec_id: Any, secrets: SecretNames) -> dict[str, Any]:
    out = dict(auth)
    if isinstance(auth.get("params"), Mapping):
        out["params"] = mask_params(auth["params"], secrets(spec_id, auth.get("specName")))
    return out


def _is_patch_op(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("op"), str) and isinstance(value.get("path"), str)


def _mask_patch_op(op: Mapping[str, Any], secrets: SecretNames) -> dict[str, Any]:
    out = dict(op)
    segments = op["path"].split("/")[1:]
    if not segments or segments[0] != "auth" or "value" not in op:
        return mask_document(out, secrets)
    value = op["value"]
    if len(segments) == 1 and isinstance(value, Mapping):
        out["value"] = _mask_auth(value, None, secrets)
    elif segments[1:] == ["params"] and isinstance(value, Mapping):
        out["value"] = mask_params(value, secrets(None, None))
    elif len(segments) >= 3 and segments[1] == "params" and _is_secret(segments[2], secrets(None, None)):
        out["value"] = value if _blank(value) else MASK
    return out


def mask_document(value: Any, secrets: SecretNames = no_secret_names) -> Any:
    """A copy of a JSON value with the secrets of every ``auth`` block (and JSON Patch op) masked."""
    if isinstance(value, list):
        return [_mask_patch_op(v, secrets) if _is_patch_op(v) else mask_document(v, secrets) for v in value]
    if not isinstance(value, Mapping):
        return value
    spec = value.get("connectionSpec")
    spec_id = spec.get("id") if isinstance(spec, Mapping) else None
    return {
        k: (_mask_auth(v, spec_id, secrets) if k == "auth" and isinstance(v, Mapping) else mask_document(v, secrets))
        for k, v in value.items()
    }


def mask_text(text: str) -> str:
    """Best effort for bodies that are not JSON: secret-looking ``"name": "value"`` and ``name=value`` pairs."""
    for pattern in _TEXT_SECRETS:
        text = pattern.sub(lambda m: m.group(1) + (f'"{MASK}"' if m.group(1).rstrip().endswith(":") else MASK), text)
    return text


def _mask_header(name: str, value: str, token_serials: Mapping[str, int]) -> str:
    if name in _SECRET_HEADERS:
        return MASK if value else value
    scheme, _, credential = value.strip().partition(" ")
    credential = credential.strip()
    if not credential:  # a bare credential without a scheme, or a scheme alone
        return MASK if scheme and scheme.lower() not in ("bearer", "basic") else value
    serial = token_serials.get(credential) if scheme.lower() == "bearer" else None
    return f"{scheme} <redacted token #{serial}>" if serial else f"{scheme} {MASK}"


def journal_entry(
    entry: Mapping[str, Any], token_serials: Mapping[str, int], secrets: SecretNames = no_secret_names
) -> dict[str, Any]:
    """The journal entry as ``GET /journal`` shows it by default (the stored entry is not changed)."""
    out = dict(entry)
    headers = entry.get("headers") or {}
    out["headers"] = {
        k: (_mask_header(k, v, token_serials) if k in _CREDENTIAL_HEADERS + _SECRET_HEADERS else v)
        for k, v in headers.items()
    }
    body = entry.get("body")
    ims = entry.get("path") == IMS_TOKEN_PATH
    if ims:
        out["query"] = {
            k: ([MASK if v else v for v in values] if SECRET_HINT.search(k) else values)
            for k, values in (entry.get("query") or {}).items()
        }
    if isinstance(body, str):
        out["body"] = mask_text(body)
    elif ims and isinstance(body, Mapping):
        out["body"] = {k: (MASK if SECRET_HINT.search(k) and not _blank(v) else v) for k, v in body.items()}
    else:
        out["body"] = mask_document(body, secrets)
    return out
