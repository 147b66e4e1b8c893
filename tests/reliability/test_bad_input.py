"""Bad input, one matrix: what a user sees for a wrong connection, a wrong argument or a strange AEP answer.

Every case names the exception type and a fragment of its message that points at the field, argument or
response problem. Problems detectable locally must not reach the network (the emulator's journal, or the
``responses`` stub's calls, stay empty), and no case may leave a half-created resource behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import responses

from airflow_provider_aep.client.errors import AEPResponseError, AEPServerError
from airflow_provider_aep.exceptions import AEPConnectionConfigError, AEPInvalidArgumentError
from tests.conftest import aep_conn_json, hubspot_conn_json
from tests.reliability.pipeline import DATASET_ID, SCHEMA_ID, RecordingTI
from tests.reliability.trials import FS

PLATFORM = "https://platform.adobe.io"
IMS_HOST = "https://ims-na1.adobelogin.com"
NOW = 1_790_000_000


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


def execute(op: Any) -> Any:
    from tests.reliability.pipeline import FastTaskRunner, PipelineResult, SleepRecorder, fast_policy

    runner = FastTaskRunner(retries=0, result=PipelineResult(), policy=fast_policy(SleepRecorder()))
    return runner._execute(runner._prepare(op), {"ti": RecordingTI()})


# --------------------------------------------------------------------------- actions
def create_base(name: str = "bad input") -> Callable[[Env], Any]:
    def run(env: Env) -> Any:
        from airflow_provider_aep.operators.connections import CreateHubSpotConnectionOperator

        return execute(CreateHubSpotConnectionOperator(task_id="create_base_connection", name=name))

    return run


def explore(tables: Any) -> Callable[[Env], Any]:
    def run(env: Env) -> Any:
        from airflow_provider_aep.operators.explore import AEPExploreConnectionOperator

        op = AEPExploreConnectionOperator(
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
        return execute(CreateDataflowOperator(task_id="create_dataflow", **{**args, **kwargs}))

    return run


def create_target(**kwargs: Any) -> Callable[[Env], Any]:
    def run(env: Env) -> Any:
        from airflow_provider_aep.operators.target_connections import CreateTargetConnectionOperator

        args = {"dataset_id": DATASET_ID, "schema_id": SCHEMA_ID}
        return execute(CreateTargetConnectionOperator(task_id="create_target_connection", **{**args, **kwargs}))

    return run


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
    id: str
    action: Callable[[Env], Any]
    error: type[BaseException]
    fragment: str
    local: bool = True
    setup: Callable[[Env], None] | None = None


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
    ),
    Case(
        "arg-schema-alt-id",
        create_target(schema_id="_tenant.schemas.0123abcd"),
        AEPInvalidArgumentError,
        "(that looks like a meta:altId; use the schema's $id)",
    ),
    Case(
        "arg-run-window-reversed",
        trigger_run(window_start_time=NOW, window_end_time=NOW - 3600),
        AEPInvalidArgumentError,
        "argument 'window_start_time' is after window_end_time",
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


def test_the_matrix_is_big_and_varied():
    assert len(CASES) >= 20 and len({c.id for c in CASES}) == len(CASES)
    assert {c.id.split("-")[0] for c in CASES} == {"conn", "arg", "api"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, fault_emulator, monkeypatch):
    env = Env(fault_emulator, monkeypatch)
    control = fault_emulator.control
    try:
        if case.setup is not None:
            case.setup(env)
        before = control.state()
        control.clear_journal()
        with pytest.raises(case.error) as err:
            case.action(env)
        message = str(err.value)
        assert case.fragment in message, message
        assert type(err.value) is case.error or issubclass(type(err.value), case.error)
        if case.local:
            assert control.journal() == [], "a problem detectable locally reached the emulator"
            assert env.http is None or env.http.calls == [], "a problem detectable locally reached AEP"
        else:
            assert control.journal() or (env.http is not None and env.http.calls)
        assert control.state() == before, "a half-created resource was left behind"
    finally:
        if env.http is not None:
            env.http.stop()
            env.http.reset()
