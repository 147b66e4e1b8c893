"""Provider registration and the declarative connection-form metadata (what the Airflow 3.3 UI renders)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import airflow
import jsonschema
import pytest

from airflow_provider_aep.get_provider_info import (
    AEP_CONN_TYPE,
    AEP_CONNECTION_TYPE,
    EXTRA_LINKS,
    HUBSPOT_CONN_TYPE,
    HUBSPOT_CONNECTION_TYPE,
    PACKAGE_NAME,
    get_provider_info,
)

AIRFLOW_DIR = Path(airflow.__file__).parent
CONNECTION_TYPES = {AEP_CONN_TYPE: AEP_CONNECTION_TYPE, HUBSPOT_CONN_TYPE: HUBSPOT_CONNECTION_TYPE}
STANDARD_FIELDS = {"description", "host", "port", "login", "password", "schema", "extra"}


def import_string(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _hook_class(conn_type: str) -> type:
    return import_string(CONNECTION_TYPES[conn_type]["hook-class-name"])


@pytest.fixture(scope="module")
def providers_manager():
    from airflow.providers_manager import ProvidersManager

    return ProvidersManager()


# --- registration -------------------------------------------------------------------------------------


def test_provider_is_registered(providers_manager) -> None:
    assert PACKAGE_NAME in providers_manager.providers
    info = providers_manager.providers[PACKAGE_NAME]
    assert info.data["package-name"] == PACKAGE_NAME
    assert info.data["name"] == "Adobe Experience Platform"


def test_provider_info_matches_the_runtime_schema() -> None:
    schema = json.loads((AIRFLOW_DIR / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_connection_types_match_the_provider_yaml_schema() -> None:
    """The runtime schema ignores conn-fields/ui-field-behaviour; the provider.yaml schema checks them."""
    schema = json.loads((AIRFLOW_DIR / "provider.yaml.schema.json").read_text())
    jsonschema.validate(get_provider_info()["connection-types"], schema["properties"]["connection-types"])


@pytest.mark.parametrize("conn_type", sorted(CONNECTION_TYPES))
def test_hooks_are_importable_and_testable(providers_manager, conn_type: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "ProvidersManager.hooks is deprecated" (still what the API server uses)
        hook_info = providers_manager.hooks[conn_type]
    assert hook_info is not None, f"ProvidersManager dropped the {conn_type} hook (see its warnings)"
    hook_class = _hook_class(conn_type)
    assert hook_info.hook_class_name == CONNECTION_TYPES[conn_type]["hook-class-name"]
    assert hook_info.connection_testable
    assert hook_class.conn_type == conn_type
    assert hook_class.hook_name == CONNECTION_TYPES[conn_type]["hook-name"]
    # models.Connection.get_hook() instantiates hooks as hook_class(**{conn_name_attr: conn_id}).
    hook = hook_class(**{hook_class.conn_name_attr: "some_conn"})
    assert getattr(hook, hook_class.conn_name_attr) == "some_conn"


def test_extra_links_are_registered_and_importable(providers_manager) -> None:
    from airflow.sdk import BaseOperatorLink

    assert set(EXTRA_LINKS) <= set(providers_manager.extra_links_class_names)
    names = set()
    for path in EXTRA_LINKS:
        link = import_string(path)()
        assert isinstance(link, BaseOperatorLink)
        names.add(link.name)
    assert len(names) == len(EXTRA_LINKS), "extra link names must be unique: the UI keys buttons by name"


def test_every_public_operator_is_in_a_declared_module() -> None:
    """The Registry and Airflow's docs list operators from the declared modules: a public operator (not a
    base class, not the task group's own steps) defined anywhere else would be missing there."""
    import pkgutil

    from airflow.sdk import BaseOperator

    import airflow_provider_aep.operators as package

    declared = set(get_provider_info()["operators"][0]["python-modules"])
    found = {}
    for module_info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, BaseOperator) and value.__module__ == module.__name__:
                found[name] = module.__name__
    public = {name: module for name, module in found.items() if not name.startswith(("_", "AEP", "OnboardingStep"))}
    assert set(public.values()) == declared
    assert "CreateHubSpotConnectionOperator" in public


def test_no_deprecated_aliases() -> None:
    """0.1.0 is the first release: nothing has an old name to keep."""
    import airflow_provider_aep.operators.explore as explore

    with pytest.raises(AttributeError):
        explore.AEPExploreConnectionOperator  # noqa: B018


def test_link_config_section_is_registered() -> None:
    from airflow.configuration import conf
    from airflow.providers_manager import ProvidersManager

    from airflow_provider_aep.get_provider_info import DEFAULT_LINK_TEMPLATES

    # What every Airflow command does first; 3.1 loads the providers' config defaults only then (3.3 also lazily).
    ProvidersManager().initialize_providers_configuration()
    options = get_provider_info()["config"]["aep"]["options"]
    assert set(DEFAULT_LINK_TEMPLATES) | {"ui_tenant", "ui_base"} == set(options)
    for key, template in DEFAULT_LINK_TEMPLATES.items():
        assert conf.get("aep", key) == template
    assert conf.get("aep", "ui_base") == ""  # empty: automatic (the emulator's pages for a loopback host)


# --- legacy hook methods derive from the declarative metadata -----------------------------------------


@pytest.mark.parametrize("conn_type", sorted(CONNECTION_TYPES))
def test_legacy_field_behaviour_matches_declarative(conn_type: str) -> None:
    declared = CONNECTION_TYPES[conn_type]["ui-field-behaviour"]
    legacy = _hook_class(conn_type).get_ui_field_behaviour()
    assert legacy == {
        "hidden_fields": declared["hidden-fields"],
        "relabeling": declared["relabeling"],
        "placeholders": declared["placeholders"],
    }


@pytest.mark.parametrize("conn_type", sorted(CONNECTION_TYPES))
def test_ui_field_behaviour_is_consistent(conn_type: str) -> None:
    behaviour = CONNECTION_TYPES[conn_type]["ui-field-behaviour"]
    hidden = set(behaviour["hidden-fields"])
    assert hidden <= STANDARD_FIELDS
    assert not hidden & set(behaviour["relabeling"]), "a hidden field needs no label"
    assert not hidden & set(behaviour["placeholders"]), "a hidden field needs no placeholder"
    # Airflow 3.3's _ensure_prefix_for_placeholders turns any other key (even "description") into an
    # extra-field placeholder, so it would silently never show.
    assert set(behaviour["placeholders"]) <= {"host", "schema", "login", "password", "port", "extra"}
    assert "login" not in hidden and "password" not in hidden  # both hooks read them
    assert "schema" in hidden  # neither hook reads it


def test_hidden_fields_are_the_unused_ones() -> None:
    # AEP: host + port form the Platform URL; HubSpot: AEP talks to HubSpot, so no host or port.
    assert AEP_CONNECTION_TYPE["ui-field-behaviour"]["hidden-fields"] == ["schema"]
    assert sorted(HUBSPOT_CONNECTION_TYPE["ui-field-behaviour"]["hidden-fields"]) == ["host", "port", "schema"]


def test_required_fields() -> None:
    from airflow_provider_aep.client.config import _ORG_RE
    from airflow_provider_aep.get_provider_info import ORG_ID_PATTERN

    required = {
        (conn_type, name)
        for conn_type, spec in CONNECTION_TYPES.items()
        for name, field in spec["conn-fields"].items()
        if field["schema"]["type"] == "string"
    }
    assert required == {
        (AEP_CONN_TYPE, "org_id"),
        (HUBSPOT_CONN_TYPE, "access_token"),
        (HUBSPOT_CONN_TYPE, "refresh_token"),
    }
    assert _ORG_RE.pattern == ORG_ID_PATTERN
    assert AEP_CONNECTION_TYPE["conn-fields"]["org_id"]["schema"]["pattern"] == ORG_ID_PATTERN


@pytest.mark.parametrize("conn_type", sorted(CONNECTION_TYPES))
def test_conn_fields_are_documented(conn_type: str) -> None:
    for name, spec in CONNECTION_TYPES[conn_type]["conn-fields"].items():
        assert spec["label"] and spec["label"][0].isupper(), name
        assert len(spec.get("description", "")) > 30, f"{name}: say where the value comes from"


def test_secrets_are_password_fields() -> None:
    secret = {
        (conn_type, name)
        for conn_type, spec in CONNECTION_TYPES.items()
        for name, field in spec["conn-fields"].items()
        if field["schema"].get("format") == "password"
    }
    assert secret == {(HUBSPOT_CONN_TYPE, "access_token"), (HUBSPOT_CONN_TYPE, "refresh_token")}


def test_aep_defaults_match_the_client_defaults() -> None:
    from airflow_provider_aep.client.config import DEFAULT_IMS_URL, DEFAULT_SANDBOX, DEFAULT_SCOPES, AEPSettings

    fields = AEP_CONNECTION_TYPE["conn-fields"]
    assert fields["sandbox_name"]["schema"]["default"] == DEFAULT_SANDBOX
    assert fields["scopes"]["schema"]["default"] == DEFAULT_SCOPES
    assert fields["ims_url"]["schema"]["default"] == DEFAULT_IMS_URL
    defaults = AEPSettings(client_id="c", client_secret="s", org_id="0123456789ABCDEF01234567@AdobeOrg")
    assert fields["connect_timeout"]["schema"]["default"] == defaults.connect_timeout
    assert fields["read_timeout"]["schema"]["default"] == defaults.read_timeout


# --- conn-fields == what the hooks actually read ------------------------------------------------------


class _RecordingDict(dict):
    """A dict that remembers which keys were looked up."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)


def _record_extra_reads(monkeypatch: pytest.MonkeyPatch, module: Any) -> list[_RecordingDict]:
    from airflow_provider_aep.hooks import flow_service

    seen: list[_RecordingDict] = []
    original = flow_service.connection_extras

    def recording(conn: Any, conn_type: str) -> _RecordingDict:
        extras = _RecordingDict(original(conn, conn_type))
        seen.append(extras)
        return extras

    monkeypatch.setattr(module, "connection_extras", recording)
    return seen


def test_aep_hook_reads_exactly_the_declared_conn_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_aep.hooks import flow_service

    seen = _record_extra_reads(monkeypatch, flow_service)
    conn = SimpleNamespace(
        conn_id="aep_x",
        host="https://platform.adobe.io",
        port=None,
        login="client",
        password="secret-value",
        extra=json.dumps(
            {
                "org_id": "0123456789ABCDEF01234567@AdobeOrg",
                "sandbox_name": "dev-1",
                "scopes": "openid,AdobeID",
                "ims_url": "https://ims-na1.adobelogin.com",
                "connect_timeout": 3,
                "read_timeout": 7,
            }
        ),
    )
    settings = flow_service.settings_from_connection(conn)
    assert (settings.sandbox_name, settings.scopes, settings.timeout) == ("dev-1", "openid,AdobeID", (3.0, 7.0))
    assert set().union(*(extras.read for extras in seen)) == set(AEP_CONNECTION_TYPE["conn-fields"])


def test_hubspot_hook_reads_exactly_the_declared_conn_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_aep.hooks import hubspot, sources

    seen = _record_extra_reads(monkeypatch, sources)
    monkeypatch.setenv(
        "AIRFLOW_CONN_HS_X",
        json.dumps(
            {
                "conn_type": "hubspot",
                "login": "cid",
                "password": "client-secret-1",
                "extra": {"access_token": "access-token-1", "refresh_token": "refresh-token-1"},
            }
        ),
    )
    creds = hubspot.HubSpotHook(hubspot_conn_id="hs_x").get_credentials()
    assert creds.access_token == "access-token-1"
    assert set().union(*(extras.read for extras in seen)) == set(HUBSPOT_CONNECTION_TYPE["conn-fields"])


def test_every_declared_source_hook_reads_exactly_its_declared_conn_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_aep.hooks import sources as source_hooks
    from airflow_provider_aep.sources import sources

    seen = _record_extra_reads(monkeypatch, source_hooks)
    for kind in sources():
        form = kind.connection_type()
        extras = {
            name: ("true" if spec["schema"]["type"] == ["boolean", "null"] else f"{name}-value-123")
            for name, spec in form["conn-fields"].items()
        }
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{kind.name.upper()}_X",
            json.dumps(
                {
                    "conn_type": kind.conn_type,
                    "host": "https://x.example.com",
                    "login": "cid",
                    "password": "secret-123",
                    "extra": extras,
                }
            ),
        )
        seen.clear()
        params = source_hooks.hook_for(kind)(f"{kind.name}_x").get_auth_params()
        assert set(params) == {p.param for p in kind.auth_params}, kind.name
        assert set().union(*(e.read for e in seen)) == set(form["conn-fields"]), kind.name


# --- what GET /ui/connections/hook_meta returns -------------------------------------------------------


@pytest.fixture(scope="module")
def hook_meta() -> dict[str, Any]:
    """The answer as an api-server computes it at its first request: in a fresh process. (Airflow 3.1 builds it
    from the hook methods, which it imports under mocked FAB classes, unless the process had imported them.)"""
    code = (
        "import json; from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService; "
        "print(json.dumps({m.connection_type: m.model_dump(mode='json') for m in HookMetaService.hook_meta_data()}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("conn_type", sorted(CONNECTION_TYPES))
def test_hook_meta_names_and_standard_fields(hook_meta: dict[str, Any], conn_type: str) -> None:
    declared = CONNECTION_TYPES[conn_type]
    meta = hook_meta[conn_type]
    assert meta["hook_name"] == declared["hook-name"]
    assert meta["hook_class_name"] == declared["hook-class-name"]
    behaviour = declared["ui-field-behaviour"]
    api_name = {"schema": "url_schema"}
    for field in ("description", "host", "port", "login", "password", "schema"):
        shown = meta["standard_fields"][api_name.get(field, field)]
        hidden = field in behaviour["hidden-fields"]
        if shown is None:
            assert not hidden and field not in behaviour["relabeling"] and field not in behaviour["placeholders"]
            continue
        assert shown["hidden"] is hidden, field
        assert shown["title"] == behaviour["relabeling"].get(field), field
        assert shown["placeholder"] == behaviour["placeholders"].get(field), field


def test_hook_meta_aep_labels(hook_meta: dict[str, Any]) -> None:
    std = hook_meta[AEP_CONN_TYPE]["standard_fields"]
    # Required standard fields carry the form's own required mark in their label (Airflow has no flag for them).
    assert std["login"]["title"] == "Client ID (API key) *"
    assert std["password"]["title"] == "Client secret *"
    assert std["host"]["title"] == "Platform URL (no port)"
    assert std["port"]["title"] == "Platform port" and not std["port"]["hidden"]
    assert std["url_schema"]["hidden"]


def test_aep_placeholders_are_short_enough_to_show_whole() -> None:
    """The 3.3 form cuts a placeholder at about 60 characters and hides it once typing starts: only examples
    go there; what must stay visible is in the labels."""
    placeholders = CONNECTION_TYPES[AEP_CONN_TYPE]["ui-field-behaviour"]["placeholders"]
    assert placeholders and all(len(text) <= 50 for text in placeholders.values()), placeholders


def test_hook_meta_hubspot_labels(hook_meta: dict[str, Any]) -> None:
    std = hook_meta[HUBSPOT_CONN_TYPE]["standard_fields"]
    assert std["login"]["title"] == "Client ID"
    assert std["password"]["title"] == "Client secret"
    assert std["host"]["hidden"] and std["port"]["hidden"] and std["url_schema"]["hidden"]


@pytest.mark.parametrize("conn_type", sorted(CONNECTION_TYPES))
def test_hook_meta_extra_fields(hook_meta: dict[str, Any], conn_type: str) -> None:
    declared = CONNECTION_TYPES[conn_type]["conn-fields"]
    extra = hook_meta[conn_type]["extra_fields"]
    assert list(extra) == list(declared), "the UI renders extra fields in declaration order"
    for name, spec in declared.items():
        field = extra[name]
        assert field["schema"]["title"] == spec["label"]
        assert field["description"] == spec["description"]
        default = spec["schema"].get("default")
        if "number" in spec["schema"]["type"] and "string" in field["schema"]["type"]:
            assert field["value"] == str(default)  # Airflow 3.1: a text field (the hook parses the number)
        else:
            assert field["value"] == default
        assert field["schema"].get("format") == spec["schema"].get("format")


def test_hook_meta_marks_hubspot_tokens_as_passwords(hook_meta: dict[str, Any]) -> None:
    extra = hook_meta[HUBSPOT_CONN_TYPE]["extra_fields"]
    assert extra["access_token"]["schema"]["format"] == "password"
    assert extra["refresh_token"]["schema"]["format"] == "password"
    aep = hook_meta[AEP_CONN_TYPE]["extra_fields"]
    assert aep["org_id"]["schema"]["title"] == "IMS Org ID"
    assert aep["sandbox_name"]["schema"]["title"] == "Sandbox name"
    assert aep["sandbox_name"]["value"] == "prod"
    assert all("format" not in field["schema"] for field in aep.values())


def test_sensitive_extra_fields_are_masked_by_airflow(providers_manager) -> None:
    """``is_sensitive`` widgets are redacted in the connection API's extra JSON."""
    if not hasattr(providers_manager, "_connection_form_widgets_from_metadata"):
        pytest.skip("Airflow 3.1 has no declarative widgets; it hides these extras by name (tests/hooks/test_masking)")
    widgets = providers_manager._connection_form_widgets_from_metadata
    sensitive = {key for key, widget in widgets.items() if widget.is_sensitive and HUBSPOT_CONN_TYPE in key}
    assert sensitive == {f"extra__{HUBSPOT_CONN_TYPE}__access_token", f"extra__{HUBSPOT_CONN_TYPE}__refresh_token"}
