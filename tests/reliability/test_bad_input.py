"""Bad input, one matrix: what a user sees for a wrong connection, a wrong argument or a strange AEP answer.

Every case names the exception type and a fragment of its message that points at the field, argument or
response problem. Problems detectable locally must not reach the network (the emulator's journal, or the
``responses`` stub's calls, stay empty); problems that need a read first (the tenant id, the mapping's
validation) must not let any create reach the emulator; and no case may leave a half-created resource behind.

The target-side cases (field group, schema, dataset, mapping set, and the cross-service checks of the target
connection and dataflow) set up real resources through the operators first, so every id a case does not
get wrong on purpose exists in the emulator.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import responses

from airflow_provider_aep.client.errors import AEPBadRequestError, AEPNotFoundError, AEPResponseError, AEPServerError
from airflow_provider_aep.client.schema_registry import TENANTS
from airflow_provider_aep.exceptions import AEPConnectionConfigError, AEPInvalidArgumentError
from tests.conftest import aep_conn_json, hubspot_conn_json
from tests.reliability.pipeline import RecordingTI
from tests.reliability.plan import CATALOG, CONVERSION, FS, SR

PLATFORM = "https://platform.adobe.io"
IMS_HOST = "https://ims-na1.adobelogin.com"
NOW = 1_790_000_000
TABLE = "Hubspot.Contacts"
#: Well-formed ids of nothing: only where a case is about an id that does not exist.
UNKNOWN_DATASET_ID = "5ed5639d798a22191b6987b2"
UNKNOWN_SCHEMA_ID = "https://ns.adobe.com/tenant/schemas/0123456789abcdef"
UNKNOWN_FIELD_GROUP_ID = "https://ns.adobe.com/tenant/mixins/0123456789abcdef"
UNKNOWN_MAPPING_SET_ID = "0123456789abcdef0123456789abcdef"


class Env:
    """What a case may touch: the emulator, the two Airflow connections, a ``responses`` stub of AEP."""

    def __init__(self, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.emulator = emulator
        self.monkeypatch = monkeypatch
        self.http: responses.RequestsMock | None = None
        self.ids: dict[str, str] = {}

    def aep_connection(self, change: Callable[[dict], None] | None = None, raw_extra: str | None = None) -> None:
        conn = json.loads(aep_conn_json(self.emulator.url, read_timeout=0.5))
        if change:
            change(conn)
        if raw_extra is not None:
            conn["extra"] = raw_extra
        self.monkeypatch.setenv("AIRFLOW_CONN_AEP_DEFAULT", json.dumps(conn))

    def hubspot_connection(self, change: Callable[[dict], None]) -> None:
        conn = json.loads(hubspot_conn_json())
        change(conn)
        self.monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", json.dumps(conn))

    def stub_aep(self) -> responses.RequestsMock:
        """``aep_default`` on Adobe's hosts, answered by ``responses`` (for bodies the emulator cannot send)."""
        self.aep_connection(lambda c: (c.update(host=PLATFORM), c["extra"].update(ims_url=IMS_HOST)))
        self.http = responses.RequestsMock(assert_all_requests_are_fired=False)
        self.http.add_passthru(self.emulator.url)  # the emulator's control plane (journal, state) stays real
        self.http.start()
        self.http.add(responses.POST, IMS_HOST + "/ims/token/v3", json={"access_token": "t" * 20, "expires_in": 86399})
        return self.http

    def base_connection(self) -> str:
        from airflow_provider_aep.operators.connections import CreateHubSpotConnectionOperator

        self.ids["base"] = execute(CreateHubSpotConnectionOperator(task_id="base", name="bad input base"))
        return self.ids["base"]

    def fault(self, method: str, path: str, status: int, body: Any) -> None:
        self.emulator.control.add_fault(method=method, path=path, status=status, body=body, count=10)

    # The target side, made by the operators (each step makes what the one before it needs).
    def explored(self) -> dict[str, Any]:
        """``Hubspot.Contacts`` as ``ExploreConnectionOperator(object_type="table")`` returns it."""
        from airflow_provider_aep.operators.explore import ExploreConnectionOperator

        base = self.ids.get("base") or self.base_connection()
        op = ExploreConnectionOperator(
            task_id="explore_table", base_connection_id=base, object_type="table", table=TABLE
        )
        self.table = execute(op)
        return self.table

    def schema(self) -> str:
        """A field group for the explored table and a schema with it."""
        from airflow_provider_aep.operators.schema_registry import CreateFieldGroupOperator, CreateSchemaOperator

        table = self.explored()
        ti = RecordingTI("bad_input")
        group = CreateFieldGroupOperator(task_id="create_field_group", table=table, title="bad input fields")
        self.ids["field_group"] = execute(group, ti)
        self.field_paths: dict[str, str] = ti.xcoms["field_paths"]
        group_id = self.ids["field_group"]
        self.ids["schema"] = execute(CreateSchemaOperator(task_id="s", title="bad input", field_group_ids=group_id))
        return self.ids["schema"]

    def dataset(self) -> str:
        """The schema, and a dataset for it."""
        from airflow_provider_aep.operators.catalog import CreateDatasetOperator

        schema = self.schema()
        self.ids["dataset"] = execute(CreateDatasetOperator(task_id="ds", name="bad input", schema_id=schema))
        return self.ids["dataset"]

    def dataset_and_other_schema(self) -> None:
        """The dataset, plus a second schema it is not for."""
        from airflow_provider_aep.operators.schema_registry import CreateSchemaOperator

        self.dataset()
        other = CreateSchemaOperator(task_id="s2", title="bad input 2", field_group_ids=self.ids["field_group"])
        self.ids["other_schema"] = execute(other)

    def source_connection(self) -> None:
        from airflow_provider_aep.operators.source_connections import CreateSourceConnectionOperator

        self.ids.get("base") or self.base_connection()
        op = CreateSourceConnectionOperator(task_id="src", base_connection_id=self.ids["base"], table_path=TABLE)
        self.ids["source"] = execute(op)


class From:
    """An action argument taken from what the setup made: ``From("schema")`` is ``env.ids["schema"]``."""

    def __init__(self, key: str, pick: Callable[[Env], Any] | None = None) -> None:
        self.key = key
        self.pick = pick

    def __call__(self, env: Env) -> Any:
        return self.pick(env) if self.pick is not None else env.ids[self.key]


def resolve(env: Env, values: Any) -> Any:
    """``values`` with every :class:`From` in it (dict keys and values included) replaced."""
    if isinstance(values, From):
        return values(env)
    if isinstance(values, dict):
        return {resolve(env, key): resolve(env, value) for key, value in values.items()}
    return values


def execute(op: Any, ti: RecordingTI | None = None) -> Any:
    from tests.reliability.pipeline import FastTaskRunner, PipelineResult, SleepRecorder, fast_policy

    runner = FastTaskRunner(retries=0, result=PipelineResult(), policy=fast_policy(SleepRecorder()), run_id="bad_input")
    return runner._execute(runner._prepare(op), {"ti": ti or RecordingTI("bad_input")})


# --------------------------------------------------------------------------- actions
def create_base(name: str = "bad input") -> Callable[[Env], Any]:
    def run(env: Env) -> Any:
        from airflow_provider_aep.operators.connections import CreateHubSpotConnectionOperator

        return execute(CreateHubSpotConnectionOperator(task_id="create_base_connection", name=name))

    return run


def explore(tables: Any) -> Callable[[Env], Any]:
    def run(env: Env) -> Any:
        from airflow_provider_aep.operators.explore import ExploreConnectionOperator

        op = ExploreConnectionOperator(
            task_id="explore_tables", base_connection_id=env.ids["base"], table_filter=tables, return_paths=True
        )
        return execute(op)

    return run


def create_source(env: Env) -> Any:
    from airflow_provider_aep.operators.source_connections import CreateSourceConnectionOperator

    op = CreateSourceConnectionOperator(
        task_id="create_source_connection", base_connection_id=env.ids["base"], table_path="Hubspot.Contacts"
    )
    return execute(op)


def create_dataflow(**kwargs: Any) -> Callable[[Env], Any]:
    def run(env: Env) -> Any:
        from airflow_provider_aep.operators.flows import CreateDataflowOperator

        args = {"source_connection_ids": "src", "target_connection_id": "tgt", "delta_column": "Updated_At"}
        return execute(CreateDataflowOperator(task_id="create_dataflow", **resolve(env, {**args, **kwargs})))

    return run


def create_target(**kwargs: Any) -> Callable[[Env], Any]:
    """The target connection for the setup's dataset and schema (``Env.dataset``), with ``kwargs`` changed."""

    def run(env: Env) -> Any:
        from airflow_provider_aep.operators.target_connections import CreateTargetConnectionOperator

        args = resolve(env, {"dataset_id": From("dataset"), "schema_id": From("schema"), **kwargs})
        return execute(CreateTargetConnectionOperator(task_id="create_target_connection", **args))

    return run


def create_field_group(**kwargs: Any) -> Callable[[Env], Any]:
    """A field group for the explored table (``Env.explored``), with ``kwargs`` changed."""

    def run(env: Env) -> Any:
        from airflow_provider_aep.operators.schema_registry import CreateFieldGroupOperator

        args = resolve(env, {"table": From("table", lambda env: env.table), "title": "bad input fields", **kwargs})
        return execute(CreateFieldGroupOperator(task_id="create_field_group", **args))

    return run


def create_schema(**kwargs: Any) -> Callable[[Env], Any]:
    """A schema without field groups, with ``kwargs`` changed (constructor checks need no setup)."""

    def run(env: Env) -> Any:
        from airflow_provider_aep.operators.schema_registry import CreateSchemaOperator

        return execute(CreateSchemaOperator(task_id="create_schema", **resolve(env, {"title": "bad input", **kwargs})))

    return run


def create_dataset(**kwargs: Any) -> Callable[[Env], Any]:
    """A dataset for the setup's schema (``Env.schema``), with ``kwargs`` changed."""

    def run(env: Env) -> Any:
        from airflow_provider_aep.operators.catalog import CreateDatasetOperator

        args = resolve(env, {"name": "bad input", "schema_id": From("schema"), **kwargs})
        return execute(CreateDatasetOperator(task_id="create_dataset", **args))

    return run


def create_mapping_set(**kwargs: Any) -> Callable[[Env], Any]:
    """A mapping set from the explored table to the setup's schema (``Env.schema``), with ``kwargs`` changed."""

    def run(env: Env) -> Any:
        from airflow_provider_aep.operators.data_prep import CreateMappingSetOperator

        defaults = {"schema_id": From("schema"), "table": From("table", lambda env: env.table), "name": "bad input"}
        args = resolve(env, {**defaults, **kwargs})
        return execute(CreateMappingSetOperator(task_id="create_mapping_set", **args))

    return run


def field_path(column: str) -> From:
    """The XDM path the setup's field group gave ``column``."""
    return From(column, lambda env: env.field_paths[column])


def trigger_run(**kwargs: Any) -> Callable[[Env], Any]:
    def run(env: Env) -> Any:
        from airflow_provider_aep.operators.runs import TriggerFlowRunOperator

        return execute(TriggerFlowRunOperator(task_id="trigger_run", flow_id="flow-1", **kwargs))

    return run


def wait_for_run(env: Env) -> Any:
    from airflow_provider_aep.sensors.runs import AEPFlowRunSensor

    return execute(AEPFlowRunSensor(task_id="wait_for_run", run_id="run-1", deferrable=False, poke_interval=0))


# --------------------------------------------------------------------------- the matrix
@dataclass
class Case:
    """``reach``: what may reach the emulator: ``none`` (detected locally), ``reads`` (e.g. the tenant id or
    the mapping's validation, but no create, update or delete) or ``any`` (AEP itself refuses, or answers
    strangely)."""

    id: str
    action: Callable[[Env], Any]
    error: type[BaseException]
    fragment: str
    local: bool = True
    setup: Callable[[Env], None] | None = None
    reach: str = ""
    marks: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        self.reach = self.reach or ("none" if self.local else "any")
        self.local = self.reach == "none"


def _then(*setups: Callable[[Env], None]) -> Callable[[Env], None]:
    def setup(env: Env) -> None:
        for step in setups:
            step(env)

    return setup


def _drop(key: str) -> Callable[[dict], None]:
    return lambda conn: conn.pop(key)


def _extra(**values: Any) -> Callable[[dict], None]:
    return lambda conn: conn["extra"].update(values)


def _fault(method: str, path: str, status: int, body: Any) -> Callable[[Env], None]:
    def setup(env: Env) -> None:
        if "{base}" in path:
            env.base_connection()
        env.fault(method, path.format(base=env.ids.get("base", "")), status, body)

    return setup


def _stub(method: str, url: str, **reply: Any) -> Callable[[Env], None]:
    return lambda env: env.stub_aep().add(method, url, **reply)


CONN = "Airflow connection 'aep_default', field "
CASES = [
    # --- connection fields
    Case(
        "conn-missing-login",
        create_base(),
        AEPConnectionConfigError,
        CONN + "'login (client id)': is required",
        setup=lambda env: env.aep_connection(_drop("login")),
    ),
    Case(
        "conn-missing-password",
        create_base(),
        AEPConnectionConfigError,
        CONN + "'password (client secret)': is required",
        setup=lambda env: env.aep_connection(_drop("password")),
    ),
    Case(
        "conn-missing-org",
        create_base(),
        AEPConnectionConfigError,
        CONN + "'org_id': is required",
        setup=lambda env: env.aep_connection(lambda c: c["extra"].pop("org_id")),
    ),
    Case(
        "conn-org-not-an-org-id",
        create_base(),
        AEPConnectionConfigError,
        "is not an IMS org id",
        setup=lambda env: env.aep_connection(_extra(org_id="0123456789ABCDEF01234567")),
    ),
    Case(
        "conn-org-wrong-type",
        create_base(),
        AEPConnectionConfigError,
        CONN + "'org_id': must be a string",
        setup=lambda env: env.aep_connection(_extra(org_id=123456)),
    ),
    Case(
        "conn-timeout-wrong-type",
        create_base(),
        AEPConnectionConfigError,
        CONN + "'read_timeout': must be a number of seconds, got 'fast'",
        setup=lambda env: env.aep_connection(_extra(read_timeout="fast")),
    ),
    Case(
        "conn-extra-malformed-json",
        create_base(),
        AEPConnectionConfigError,
        CONN + "'extra': is not valid JSON",
        setup=lambda env: env.aep_connection(raw_extra='{"org_id": "x@AdobeOrg",'),
    ),
    Case(
        "conn-uppercase-sandbox",
        create_base(),
        AEPConnectionConfigError,
        CONN + "'sandbox_name': 'Prod' is not a sandbox name",
        setup=lambda env: env.aep_connection(_extra(sandbox_name="Prod")),
    ),
    Case(
        "conn-http-non-loopback-host",
        create_base(),
        AEPConnectionConfigError,
        CONN + "'host': plain http is only allowed for loopback hosts",
        setup=lambda env: env.aep_connection(lambda c: c.update(host="http://platform.example.com")),
    ),
    Case(
        "conn-unknown-ims-url",
        create_base(),
        AEPConnectionConfigError,
        CONN + "'ims_url': host 'ims.example.com' is not an Adobe host",
        setup=lambda env: env.aep_connection(_extra(ims_url="https://ims.example.com")),
    ),
    Case(
        "conn-hubspot-missing-token",
        create_base(),
        AEPConnectionConfigError,
        "Airflow connection 'hubspot_default', field 'access_token': is required",
        setup=lambda env: env.hubspot_connection(lambda c: c["extra"].pop("access_token")),
    ),
    # --- operator arguments
    Case(
        "arg-empty-connection-name",
        create_base(name="  "),
        AEPInvalidArgumentError,
        "create_base_connection: argument 'name' must be a non-empty string",
    ),
    Case(
        "arg-unknown-table",
        explore(["Hubspot.Contacts", "Hubspot.Contactz"]),
        AEPInvalidArgumentError,
        "argument 'table_filter' names tables that do not exist: ['Hubspot.Contactz']",
        local=False,
        setup=Env.base_connection,
    ),
    Case(
        "arg-schedule-frequency",
        create_dataflow(schedule={"frequency": "daily"}),
        AEPInvalidArgumentError,
        "argument 'schedule' frequency must be one of ('once', 'minute', 'hour', 'day', 'week'), got 'daily'",
    ),
    Case(
        "arg-schedule-interval-string",
        create_dataflow(schedule={"frequency": "hour", "interval": "1"}),
        AEPInvalidArgumentError,
        "interval is required for frequency 'hour' as an integer, got '1'",
    ),
    Case(
        "arg-schedule-interval-too-small",
        create_dataflow(schedule={"frequency": "minute", "interval": 5}),
        AEPInvalidArgumentError,
        "interval must be at least 15 for frequency 'minute', got 5",
    ),
    Case(
        "arg-schedule-interval-with-once",
        create_dataflow(schedule={"frequency": "once", "interval": 15}),
        AEPInvalidArgumentError,
        "must not have 'interval' with frequency 'once'",
    ),
    Case(
        "arg-schedule-start-time-string",
        create_dataflow(schedule={"frequency": "day", "interval": 1, "startTime": "2026-01-01"}),
        AEPInvalidArgumentError,
        "argument 'schedule.startTime' must be epoch seconds as an integer, got '2026-01-01'",
    ),
    Case(
        "arg-schedule-start-time-millis",
        create_dataflow(schedule={"frequency": "day", "interval": 1, "startTime": NOW * 1000}),
        AEPInvalidArgumentError,
        "looks like milliseconds; AEP wants seconds",
    ),
    Case(
        "arg-dataset-id",
        create_target(dataset_id="my-dataset"),
        AEPInvalidArgumentError,
        "argument 'dataset_id' must be a Catalog dataset id (24 hex digits",
        setup=Env.dataset,
    ),
    Case(
        "arg-schema-alt-id",
        create_target(schema_id="_tenant.schemas.0123abcd"),
        AEPInvalidArgumentError,
        "(that looks like a meta:altId; use the schema's $id)",
        setup=Env.dataset,
    ),
    Case(
        "arg-run-window-reversed",
        trigger_run(window_start_time=NOW, window_end_time=NOW - 3600),
        AEPInvalidArgumentError,
        "argument 'window_start_time' is after window_end_time",
    ),
    # --- operator arguments: the target side
    Case(
        "arg-field-group-table-not-explored",
        create_field_group(table=TABLE),
        AEPInvalidArgumentError,
        "create_field_group: argument 'table' must be the result of ExploreConnectionOperator(object_type='table'), "
        "got 'Hubspot.Contacts'",
    ),
    Case(
        "arg-field-group-table-without-columns",
        create_field_group(table={"path": "Hubspot.Empty", "columns": []}),
        AEPInvalidArgumentError,
        "create_field_group: argument 'table.columns' table 'Hubspot.Empty' has no columns",
        reach="reads",  # the tenant id (GET /stats) comes first
    ),
    Case(
        "arg-field-group-class-alt-id",
        create_field_group(class_id="_xdm.context.profile"),
        AEPInvalidArgumentError,
        "argument 'class_id' must be an XDM $id, https://ns.adobe.com/..., got '_xdm.context.profile' (that looks "
        "like a meta:altId; use the $id)",
        setup=Env.explored,
    ),
    Case(
        "arg-schema-class-id",
        create_schema(class_id="XDM Individual Profile"),
        AEPInvalidArgumentError,
        "create_schema: argument 'class_id' must be an XDM $id, https://ns.adobe.com/..., got 'XDM Individual Profile'",
    ),
    Case(
        "arg-schema-field-group-title-not-id",
        create_schema(field_group_ids=["bad input fields"]),
        AEPInvalidArgumentError,
        "argument 'field_group_ids' must be an XDM $id, https://ns.adobe.com/..., got 'bad input fields'",
    ),
    Case(
        "arg-schema-profile-without-primary-identity",
        create_schema(enable_profile=True, identity={"path": "personalEmail.address", "namespace": "Email"}),
        AEPInvalidArgumentError,
        "create_schema: argument 'enable_profile' needs identity={'path': ..., 'namespace': ..., 'primary': True}",
    ),
    Case(
        "arg-schema-identity-unknown-key",
        create_schema(identity={"path": "personalEmail.address", "namespace": "Email", "isPrimary": True}),
        AEPInvalidArgumentError,
        "argument 'identity' has unknown keys ['isPrimary']; allowed: ('path', 'namespace', 'primary')",
    ),
    Case(
        "arg-schema-identity-primary-string",
        create_schema(identity={"path": "personalEmail.address", "namespace": "Email", "primary": "yes"}),
        AEPInvalidArgumentError,
        "argument 'identity.primary' must be a boolean, got 'yes'",
    ),
    Case(
        "arg-dataset-schema-alt-id",
        create_dataset(schema_id="_tenant.schemas.0123abcd"),
        AEPInvalidArgumentError,
        "create_dataset: argument 'schema_id' must be the schema $id, https://ns.adobe.com/..., got "
        "'_tenant.schemas.0123abcd' (that looks like a meta:altId; use the schema's $id)",
    ),
    Case(
        "arg-dataset-empty-name",
        create_dataset(name=" "),
        AEPInvalidArgumentError,
        "create_dataset: argument 'name' must be a non-empty string, got ' '",
        setup=Env.schema,
    ),
    Case(
        "arg-mapping-table-not-explored",
        create_mapping_set(table=["Vid", "Email"]),
        AEPInvalidArgumentError,
        "create_mapping_set: argument 'table' must be the result of ExploreConnectionOperator(object_type='table')",
        setup=Env.schema,
    ),
    Case(
        "arg-mapping-schema-title-not-id",
        create_mapping_set(schema_id="bad input"),
        AEPInvalidArgumentError,
        "create_mapping_set: argument 'schema_id' must be the schema $id, https://ns.adobe.com/..., got 'bad input'",
        setup=Env.explored,
    ),
    Case(
        "arg-mapping-unknown-override-column",
        create_mapping_set(mapping_overrides={"Properties_Emial_Value": "personalEmail.address"}),
        AEPInvalidArgumentError,
        "create_mapping_set: argument 'mapping_overrides' names columns the table does not have: "
        "['Properties_Emial_Value']",
        setup=Env.schema,
        reach="none",  # checked before the tenant lookup
    ),
    Case(
        "arg-mapping-override-not-a-path",
        create_mapping_set(mapping_overrides={"Vid": "person / id"}),
        AEPInvalidArgumentError,
        "argument 'mapping_overrides' destination 'person / id' is not a dot path such as person.name.firstName",
        setup=Env.schema,
        reach="none",  # checked before the tenant lookup
    ),
    Case(
        "arg-mapping-destination-not-in-schema",
        create_mapping_set(mapping_overrides={"Vid": "person.nothing.here"}),
        AEPInvalidArgumentError,
        "argument 'mapping_overrides' gives mappings Data Prep rejects: person.nothing.here <- Vid: The destination "
        "'person.nothing.here' does not exist in the output schema",
        setup=Env.schema,
        reach="reads",  # POST /mappingSets/validate stores nothing
    ),
    Case(
        "arg-mapping-calculated-field-without-expression",
        create_mapping_set(calculated_fields={"personalEmail.address": " "}),
        AEPInvalidArgumentError,
        "argument 'calculated_fields' 'personalEmail.address' needs a Data Prep expression, got ' '",
        setup=Env.schema,
        reach="none",  # checked before the tenant lookup
    ),
    Case(
        "arg-mapping-calculated-field-bad-expression",
        create_mapping_set(mapping_overrides={"Vid": None}, calculated_fields={field_path("Vid"): "nosuchfn(Vid)"}),
        AEPInvalidArgumentError,
        "argument 'calculated_fields'",
        setup=Env.schema,
        reach="reads",
    ),
    Case(
        "arg-mapping-constant-destination-not-in-schema",
        create_mapping_set(constants={"person.nothing.here": "hubspot"}),
        AEPInvalidArgumentError,
        "argument 'constants'",
        setup=Env.schema,
        reach="reads",
    ),
    # --- AEP refuses: the cross-service checks of the target side
    Case(
        "api-dataset-schema-unknown",
        create_dataset(schema_id=UNKNOWN_SCHEMA_ID),
        AEPBadRequestError,
        f"/catalog/dataSets failed with HTTP 400: The schema '{UNKNOWN_SCHEMA_ID}' referenced by schemaRef.id "
        "does not exist in this sandbox",
        local=False,
    ),
    Case(
        "api-schema-field-group-unknown",
        create_schema(field_group_ids=UNKNOWN_FIELD_GROUP_ID),
        AEPNotFoundError,
        f"/schemaregistry/tenant/schemas failed with HTTP 404 [XDM-1011-404]: The requested field group resource "
        f"{UNKNOWN_FIELD_GROUP_ID} with version 1 is not found",
        local=False,
    ),
    Case(
        "api-field-group-title-of-a-schema",
        create_field_group(title="bad input"),
        AEPBadRequestError,
        "/schemaregistry/tenant/fieldgroups failed with HTTP 400 [XDM-1521-400]: Object titles must be unique",
        local=False,
        setup=Env.schema,  # the schema is titled 'bad input'
    ),
    Case(
        "api-target-dataset-not-in-catalog",
        create_target(dataset_id=UNKNOWN_DATASET_ID),
        AEPBadRequestError,
        f"Invalid value for field 'params.dataSetId': the dataset with the ID {UNKNOWN_DATASET_ID} could not be "
        "found in sandbox 'prod'",
        local=False,
        setup=Env.schema,
    ),
    Case(
        "api-target-schema-not-the-datasets",
        create_target(schema_id=From("other_schema")),
        AEPBadRequestError,
        "Invalid value for field 'data.schema.id'",
        local=False,
        setup=Env.dataset_and_other_schema,
    ),
    Case(
        "api-dataflow-mapping-set-unknown",
        create_dataflow(mapping_id=UNKNOWN_MAPPING_SET_ID),
        AEPNotFoundError,
        f"/conversion/mappingSets/{UNKNOWN_MAPPING_SET_ID} failed with HTTP 404: The mapping set "
        f"'{UNKNOWN_MAPPING_SET_ID}' was not found",
        reach="reads",
    ),
    # --- AEP answers strangely: the target side
    Case(
        "api-stats-without-tenant-id",
        create_field_group(),
        AEPResponseError,
        "/schemaregistry/stats answered 200 with an unexpected body: no 'tenantId' in /stats",
        reach="reads",
        setup=_then(Env.explored, _fault("GET", f"{SR}/stats", 200, {"imsOrg": "x"})),
    ),
    Case(
        "api-registry-list-without-results",
        create_field_group(),
        AEPResponseError,
        "answered 200 with an unexpected body: expected a list with 'results'",
        reach="reads",
        setup=_then(Env.explored, _fault("GET", f"{SR}/tenant/fieldgroups", 200, {"items": []})),
    ),
    Case(
        "api-dataset-create-without-ref",
        create_dataset(),
        AEPResponseError,
        "answered 201 with an unexpected body: no '@/dataSets/<id>' in the create response",
        local=False,
        setup=_then(Env.schema, _fault("POST", f"{CATALOG}/dataSets", 201, [])),
    ),
    Case(
        "api-mapping-list-not-a-page",
        create_mapping_set(),
        AEPResponseError,
        "answered 200 with an unexpected body: expected a page with 'data'",
        reach="reads",
        setup=_then(Env.schema, _fault("GET", f"{CONVERSION}/mappingSets", 200, {"items": []})),
    ),
    Case(
        "api-mapping-validation-without-results",
        create_mapping_set(),
        AEPResponseError,
        "/conversion/mappingSets/validate answered 200 with an unexpected body: expected 'validationResponse'",
        reach="reads",
        setup=_then(Env.schema, _fault("POST", f"{CONVERSION}/mappingSets/validate", 200, {"valid": True})),
    ),
    # --- API responses
    Case(
        "api-html-from-a-gateway",
        create_base(),
        AEPResponseError,
        "answered 200 with an unexpected body: body is not JSON (starts with '<html><body>Upstream",
        local=False,
        setup=_stub(
            responses.GET,
            PLATFORM + FS + "/connections",
            body="<html><body>Upstream is down</body></html>",
            content_type="text/html",
        ),
    ),
    Case(
        "api-html-error-page-5xx",
        create_base(),
        AEPServerError,
        "failed with HTTP 502: non-JSON error body: '<html><head><title>502 Bad Gateway",
        local=False,
        setup=_stub(
            responses.GET,
            PLATFORM + FS + "/connections",
            status=502,
            body="<html><head><title>502 Bad Gateway</title></head></html>",
            content_type="text/html",
        ),
    ),
    Case(
        "api-truncated-json",
        create_base(),
        AEPResponseError,
        'body is not JSON (starts with \'{"items": [{"id"',
        local=False,
        setup=_stub(responses.GET, PLATFORM + FS + "/connections", body='{"items": [{"id": "abc", "na'),
    ),
    Case(
        "api-create-without-id",
        create_base(),
        AEPResponseError,
        "/connections answered 201 with an unexpected body: no 'id' in the create response",
        local=False,
        setup=_fault("POST", f"{FS}/connections", 201, {"etag": '"e1"'}),
    ),
    Case(
        "api-lookup-without-items",
        create_base(),
        AEPResponseError,
        "expected a list envelope with 'items'",
        local=False,
        setup=_fault("GET", f"{FS}/connections", 200, {"results": []}),
    ),
    Case(
        "api-get-unexpected-envelope",
        create_source,
        AEPResponseError,
        "expected an {'items': [...]} envelope",
        local=False,
        setup=_fault("GET", FS + "/connections/{base}", 200, {"connection": {"id": "x"}}),
    ),
    Case(
        "api-explore-not-a-list",
        explore(["Hubspot.Contacts"]),
        AEPResponseError,
        "explore root did not return a list",
        local=False,
        setup=_fault("GET", FS + "/connections/{base}/explore", 200, {"tables": ["Hubspot.Contacts"]}),
    ),
    Case(
        "api-unknown-run-status",
        wait_for_run,
        AEPResponseError,
        "run run-1: unknown run status 'exploded'",
        local=False,
        setup=_fault(
            "GET",
            f"{FS}/runs/run-1",
            200,
            {"items": [{"id": "run-1", "metrics": {"statusSummary": {"status": "exploded"}}}]},
        ),
    ),
]


TARGET_SIDE_OPERATORS = ("create_field_group", "create_schema", "create_dataset", "create_mapping_set")
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def creates_in(journal: list[dict[str, Any]]) -> list[str]:
    """Requests that could create, change or delete something (the token and the mapping's validation cannot)."""
    return [
        f"{e['method']} {e['path']}"
        for e in journal
        if e["method"] in WRITES and not e["path"].startswith("/ims/") and not e["path"].endswith("/validate")
    ]


def test_the_matrix_is_big_and_varied():
    assert len(CASES) >= 50 and len({c.id for c in CASES}) == len(CASES)
    assert {c.id.split("-")[0] for c in CASES} == {"conn", "arg", "api"}
    assert {c.reach for c in CASES} == {"none", "reads", "any"}
    # Every new operator has bad-argument cases, and so do the cross-service checks.
    names = " ".join(c.id for c in CASES)
    for resource in ("field-group", "schema", "dataset", "mapping", "target", "dataflow"):
        assert f"arg-{resource}" in names or f"api-{resource}" in names, resource


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_bad_input(case: Case, fault_emulator, monkeypatch):
    env = Env(fault_emulator, monkeypatch)
    control = fault_emulator.control
    try:
        if case.setup is not None:
            case.setup(env)
        before = control.state()
        control.clear_journal()
        TENANTS.clear()  # each Airflow task is a new process: it looks the tenant id up again
        with pytest.raises(case.error) as err:
            case.action(env)
        message = str(err.value)
        assert case.fragment in message, message
        assert type(err.value) is case.error or issubclass(type(err.value), case.error)
        journal = control.journal()
        if case.reach == "none":
            assert journal == [], "a problem detectable locally reached the emulator"
            assert env.http is None or env.http.calls == [], "a problem detectable locally reached AEP"
        elif case.reach == "reads":
            assert journal, "the case was meant to need a read first"
            assert creates_in(journal) == [], "a create reached the emulator before the problem was found"
        else:
            assert journal or (env.http is not None and env.http.calls)
        assert control.state() == before, "a half-created resource was left behind"
    finally:
        if env.http is not None:
            env.http.stop()
            env.http.reset()
