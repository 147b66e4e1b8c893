"""CreateDataflowOperator / DeleteDataflowOperator: schedule rules, flow spec checks, idempotency."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import responses

from airflow_provider_aep.exceptions import AEPInvalidArgumentError
from airflow_provider_aep.operators.flows import CreateDataflowOperator, DeleteDataflowOperator, validate_schedule

from .conftest import FS, PLATFORM, owned, sent_bodies, stub_gone, stub_owned

HUBSPOT = "cc6a4487-9e91-433e-a3a3-9cf6626c1806"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_TO_AEP = {
    "id": "14518937-270c-4525-bdec-c2ba7cce3860",
    "name": "CRMToAEP",
    "version": "1.0",
    "sourceConnectionSpecIds": [HUBSPOT],
    "targetConnectionSpecIds": [DATA_LAKE],
}
SOURCE = {"id": "src-1", "name": "Hubspot.Contacts source connection", "connectionSpec": {"id": HUBSPOT}}
TARGET = {"id": "tgt-1", "name": "Data Lake dataset X", "connectionSpec": {"id": DATA_LAKE}}
NOW = 1_700_000_000


def create(**kwargs) -> CreateDataflowOperator:
    kwargs.setdefault("source_connection_ids", "src-1")
    kwargs.setdefault("target_connection_id", "tgt-1")
    kwargs.setdefault("delta_column", "Updated_At")
    return CreateDataflowOperator(task_id="flow", **kwargs)


@pytest.fixture
def specs(aep_http):
    """Flow spec, source and target as AEP returns them; no flow exists yet."""
    aep_http.add(responses.GET, FS + "/flowSpecs", json={"items": [CRM_TO_AEP], "_links": {}})
    aep_http.add(responses.GET, FS + "/sourceConnections/src-1", json={"items": [SOURCE]})
    aep_http.add(responses.GET, FS + "/targetConnections/tgt-1", json={"items": [TARGET]})
    return aep_http


@pytest.fixture
def no_flows(specs):
    specs.add(responses.GET, FS + "/flows", json={"items": [], "_links": {}})
    specs.add(responses.POST, FS + "/flows", json={"id": "flow-1", "etag": '"e"'}, status=201)
    return specs


# --------------------------------------------------------------------------- schedule rules
@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (None, {"startTime": NOW, "frequency": "once"}),
        ({"frequency": "once", "startTime": 1591043454}, {"startTime": 1591043454, "frequency": "once"}),
        ({"frequency": "minute", "interval": 15}, {"startTime": NOW, "frequency": "minute", "interval": 15}),
        (
            {"frequency": "day", "interval": 1, "backfill": False},
            {"startTime": NOW, "frequency": "day", "interval": 1, "backfill": False},
        ),
        (
            {"frequency": "week", "interval": 2, "startTime": datetime(2024, 1, 1, tzinfo=timezone.utc)},
            {"startTime": 1704067200, "frequency": "week", "interval": 2},
        ),
    ],
)
def test_valid_schedules(schedule, expected):
    assert validate_schedule(create(), schedule, now=NOW) == expected


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"frequency": "monthly", "interval": 1}, "frequency must be one of"),
        ({"frequency": "once", "interval": 15}, "must not have 'interval'"),  # Adobe's own example does this
        ({"frequency": "once", "backfill": True}, "must not have 'backfill'"),
        ({"frequency": "minute", "interval": 5}, "at least 15"),
        ({"frequency": "hour", "interval": 0}, "at least 1"),
        ({"frequency": "hour"}, "interval is required"),
        ({"frequency": "hour", "interval": "15"}, "as an integer"),
        ({"frequency": "hour", "interval": True}, "as an integer"),
        ({"frequency": "once", "startTime": "1591043454"}, "epoch seconds as an integer"),
        ({"frequency": "once", "startTime": 1591043454000}, "milliseconds"),
        ({"frequency": "once", "startTime": -1}, "negative"),
        ({"frequency": "once", "startTime": datetime(2024, 1, 1)}, "timezone-aware"),
        ({"frequency": "day", "interval": 1, "backfill": "true"}, "backfill must be a boolean"),
        ({"frequency": "once", "timeUnit": "day"}, "unknown keys"),
    ],
)
def test_invalid_schedules_fail_when_the_dag_is_parsed(schedule, message):
    with pytest.raises(AEPInvalidArgumentError, match=message) as err:
        create(schedule=schedule)
    assert err.value.argument.startswith("schedule")


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"delta_column": None}, "delta_column"),
        ({"delta_column": {"name": "x", "format": "y"}}, "delta_column"),
        ({"delta_column": {"dateFormat": "YYYY"}}, "delta_column.name"),
        ({"hand_over": {"mapping_version": 1}}, "hand_over"),
        ({"hand_over": {"flow_spec_id": "x"}}, "hand_over"),
        ({"if_exists": "replace"}, "if_exists"),
    ],
)
def test_invalid_transformations_fail_when_the_dag_is_parsed(kwargs, argument):
    with pytest.raises(AEPInvalidArgumentError) as err:
        create(**kwargs)
    assert err.value.argument == argument


def test_templated_schedule_is_checked_after_rendering_before_any_request(aep_http, context):
    op = create(schedule={"frequency": "{{ params.frequency }}"})
    op.schedule = {"frequency": "hourly"}
    with pytest.raises(AEPInvalidArgumentError, match="frequency"):
        op.execute(context)
    assert not aep_http.calls


# --------------------------------------------------------------------------- requests
def test_body_has_copy_mapping_and_integer_schedule(no_flows, context):
    # Without a handed-over mapping version the flow takes the mapping set's current version from Data Prep.
    no_flows.add(
        responses.GET,
        PLATFORM + "/data/foundation/conversion/mappingSets/500a9b747fcf4908a21917d49bd61780",
        json={"id": "500a9b747fcf4908a21917d49bd61780", "version": 2},
    )
    op = create(
        delta_column={"name": "Updated_At", "dateFormat": "yyyy-MM-dd HH:mm:ss", "timezone": "UTC"},
        mapping_id="500a9b747fcf4908a21917d49bd61780",
        schedule={"frequency": "once", "startTime": 1591043454},
        description="collecting Hubspot.Contacts",
    )
    assert op.execute(context) == "flow-1"
    assert sent_bodies(no_flows, "POST", "/flows") == [
        {
            "name": "Hubspot.Contacts source connection to Data Lake dataset X",
            "flowSpec": {"id": CRM_TO_AEP["id"], "version": "1.0"},
            "sourceConnectionIds": ["src-1"],
            "targetConnectionIds": ["tgt-1"],
            "transformations": [
                {
                    "name": "Copy",
                    "params": {
                        "deltaColumn": {"name": "Updated_At", "dateFormat": "yyyy-MM-dd HH:mm:ss", "timezone": "UTC"}
                    },
                },
                {"name": "Mapping", "params": {"mappingId": "500a9b747fcf4908a21917d49bd61780", "mappingVersion": "2"}},
            ],
            "scheduleParams": {"startTime": 1591043454, "frequency": "once"},
            "description": owned("flow", "collecting Hubspot.Contacts"),
        }
    ]
    flow_spec_query = next(c.request.url for c in no_flows.calls if "/flowSpecs" in c.request.url)
    assert "CRMToAEP" in flow_spec_query
    assert context["ti"].xcoms["aep_dataflow"]["id"] == "flow-1"


def test_source_spec_not_in_the_flow_spec_is_rejected_before_the_post(aep_http, context):
    s3 = {"id": "src-1", "name": "s3", "connectionSpec": {"id": "ecadc60c-7455-4d87-84dc-2a0e293d997b"}}
    aep_http.add(responses.GET, FS + "/flowSpecs", json={"items": [CRM_TO_AEP], "_links": {}})
    aep_http.add(responses.GET, FS + "/sourceConnections/src-1", json={"items": [s3]})
    with pytest.raises(AEPInvalidArgumentError, match="does not support") as err:
        create().execute(context)
    assert err.value.argument == "source_connection_ids"
    assert not sent_bodies(aep_http, "POST", "/flows")


def test_unknown_flow_spec(aep_http, context):
    from airflow_provider_aep.client.errors import AEPNotFoundError

    aep_http.add(responses.GET, FS + "/flowSpecs", json={"items": [], "_links": {}})
    with pytest.raises(AEPNotFoundError, match="CRMToAEP"):
        create().execute(context)


def test_reuses_the_same_dataflow(specs, context):
    existing = {
        "id": "flow-old",
        "name": "Hubspot.Contacts source connection to Data Lake dataset X",
        "flowSpec": {"id": CRM_TO_AEP["id"]},
        "sourceConnectionIds": ["src-1"],
        "targetConnectionIds": ["tgt-1"],
        "transformations": [{"name": "Copy", "params": {"deltaColumn": {"name": "Updated_At"}}}],
    }
    specs.add(responses.GET, FS + "/flows", json={"items": [existing], "_links": {}})
    assert create().execute(context) == "flow-old"
    assert not sent_bodies(specs, "POST", "/flows")


@pytest.mark.parametrize(
    ("transformations", "field"),
    [
        ([{"name": "Copy", "params": {"deltaColumn": {"name": "Created_At"}}}], "deltaColumn"),
        (
            [
                {"name": "Copy", "params": {"deltaColumn": {"name": "Updated_At"}}},
                {"name": "Mapping", "params": {"mappingId": "other-mapping", "mappingVersion": "0"}},
            ],
            "mappingId",
        ),
    ],
)
def test_a_reused_dataflow_with_other_transformations_fails_naming_the_field(specs, context, transformations, field):
    from airflow_provider_aep.exceptions import AEPResourceMismatchError

    existing = {
        "id": "flow-old",
        "name": "Hubspot.Contacts source connection to Data Lake dataset X",
        "flowSpec": {"id": CRM_TO_AEP["id"]},
        "sourceConnectionIds": ["src-1"],
        "targetConnectionIds": ["tgt-1"],
        "transformations": transformations,
    }
    specs.add(responses.GET, FS + "/flows", json={"items": [existing], "_links": {}})
    with pytest.raises(AEPResourceMismatchError, match=f"exists with {field}"):
        create().execute(context)


def test_a_same_named_dataflow_between_other_connections_is_an_error(specs, context):
    from airflow.sdk.exceptions import AirflowException

    other = {
        "id": "flow-x",
        "name": "mine",
        "flowSpec": {"id": CRM_TO_AEP["id"]},
        "sourceConnectionIds": ["src-9"],
        "targetConnectionIds": ["tgt-1"],
    }
    specs.add(responses.GET, FS + "/flows", json={"items": [other], "_links": {}})
    with pytest.raises(AirflowException, match="already exists but connects"):
        create(name="mine").execute(context)


def test_delete(aep_http, context):
    stub_owned(aep_http, "flows", "flow-1")
    aep_http.add(responses.GET, FS + "/runs", json={"items": []})  # no run in progress
    aep_http.add(responses.DELETE, FS + "/flows/flow-1", status=204)
    stub_gone(aep_http, "flows", "flow-2")
    assert DeleteDataflowOperator(task_id="d", flow_id="flow-1").execute(context) is True
    assert DeleteDataflowOperator(task_id="d", flow_id="flow-2").execute(context) is False


def test_delete_leaves_a_flow_another_dag_run_created_or_whose_run_is_in_progress(aep_http, context):
    stub_owned(aep_http, "flows", "theirs", run_id="manual__another_run")
    stub_owned(aep_http, "flows", "busy")
    aep_http.add(
        responses.GET,
        FS + "/runs",
        json={
            "items": [
                {
                    "id": "run-9",
                    "flowId": "busy",
                    "createdAt": 1,
                    "metrics": {"statusSummary": {"status": "inProgress"}},
                }
            ]
        },
    )
    aep_http.add(responses.PATCH, FS + "/flows/busy", json={"id": "busy", "etag": '"e2"'})
    assert DeleteDataflowOperator(task_id="d", flow_id="theirs").execute(context) is False
    assert DeleteDataflowOperator(task_id="d", flow_id="busy").execute(context) is False
    assert not [c for c in aep_http.calls if c.request.method == "DELETE"]
    # its own busy flow is released to the teardowns of the runs that use it (its owner line marked)
    (release,) = sent_bodies(aep_http, "PATCH", "/flows/busy")
    assert release[0]["path"] == "/description" and '"released": true' in release[0]["value"]


# --------------------------------------------------------------------------- against the emulator
def test_emulator_dataflow_is_created_once(emulator, context, pipeline):
    flows = emulator.control.state()["flows"]
    assert [f["id"] for f in flows] == [pipeline["flow"]]
    assert flows[0]["transformations"][0] == {"name": "Copy", "params": {"deltaColumn": {"name": "Updated_At"}}}
    assert flows[0]["transformations"][1]["params"]["mappingId"] == pipeline["mapping"]
    assert flows[0]["scheduleParams"]["frequency"] == "once"
    again = create(
        source_connection_ids=[pipeline["source"]],
        target_connection_id=pipeline["target"],
        mapping_id=pipeline["mapping"],
    )
    assert again.execute(context) == pipeline["flow"]
    assert len(emulator.control.state()["flows"]) == 1
    # The same name asked for without the mapping set is a different dataflow: refused, naming the field.
    from airflow_provider_aep.exceptions import AEPResourceMismatchError

    with pytest.raises(AEPResourceMismatchError, match="exists with mappingId"):
        create(source_connection_ids=[pipeline["source"]], target_connection_id=pipeline["target"]).execute(context)


def test_emulator_accepts_a_recurring_schedule(emulator, context, pipeline):
    flow_id = create(
        name="every 15 minutes",
        source_connection_ids=pipeline["source"],
        target_connection_id=pipeline["target"],
        schedule={"frequency": "minute", "interval": 15, "backfill": True},
    ).execute(context)
    flow = next(f for f in emulator.control.state()["flows"] if f["id"] == flow_id)
    assert flow["scheduleParams"]["interval"] in (15, "15")


def test_emulator_delete_flow_twice(emulator, context, pipeline):
    op = DeleteDataflowOperator(task_id="d", flow_id=pipeline["flow"])
    assert op.execute(context) is False  # its first run is still in progress: left
    assert len(emulator.control.state()["flows"]) == 1
    emulator.control.advance_clock(24 * 3600)  # the run ends
    assert (op.execute(context), op.execute(context)) == (True, False)
    assert emulator.control.state()["flows"] == []


# --------------------------------------------------------------------------- hand-overs from upstream XComs
def handed_over(mapping_id: str | None = None, **given) -> CreateDataflowOperator:
    """The dataflow as ``AEPOnboardingTaskGroup`` makes it: with what upstream tasks read (``hand_over``)."""
    hand_over = {"flow_spec": CRM_TO_AEP, "source_connection_spec_ids": HUBSPOT, "target_connection_spec_id": DATA_LAKE}
    return create(name="contacts dataflow", mapping_id=mapping_id, hand_over={**hand_over, **given})


def test_handed_over_specs_are_not_read_again(aep_http, context):
    aep_http.add(responses.GET, FS + "/flows", json={"items": [], "_links": {}})
    aep_http.add(responses.POST, FS + "/flows", json={"id": "flow-1", "etag": '"e"'}, status=201)
    assert handed_over().execute(context) == "flow-1"
    paths = [call.request.path_url.split("?")[0] for call in aep_http.calls if "/flowservice/" in call.request.url]
    # lookup, POST, and the key listed again (convergence with racing DAG runs)
    assert paths == ["/data/foundation/flowservice/flows"] * 3
    [body] = sent_bodies(aep_http, "POST", "/flows")
    assert body["flowSpec"] == {"id": CRM_TO_AEP["id"], "version": "1.0"}
    assert context["ti"].xcoms["frequency"] == "once"


def test_a_handed_over_connection_spec_is_still_checked_against_the_flow_spec(aep_http, context):
    with pytest.raises(AEPInvalidArgumentError, match="does not support") as err:
        handed_over(target_connection_spec_id=HUBSPOT).execute(context)
    assert err.value.argument == "target_connection_id"
    assert not sent_bodies(aep_http, "POST", "/flows")


def test_a_handed_over_flow_spec_of_another_name_is_not_used(aep_http, context):
    aep_http.add(responses.GET, FS + "/flowSpecs", json={"items": [CRM_TO_AEP], "_links": {}})
    aep_http.add(responses.GET, FS + "/flows", json={"items": [], "_links": {}})
    aep_http.add(responses.POST, FS + "/flows", json={"id": "flow-1", "etag": '"e"'}, status=201)
    handed_over(flow_spec={**CRM_TO_AEP, "id": "other", "name": "Other"}).execute(context)
    [body] = sent_bodies(aep_http, "POST", "/flows")
    assert body["flowSpec"]["id"] == CRM_TO_AEP["id"]  # looked up by flow_spec_name instead


def test_a_handed_over_mapping_version_is_not_read_again(aep_http, context):
    aep_http.add(responses.GET, FS + "/flows", json={"items": [], "_links": {}})
    aep_http.add(responses.POST, FS + "/flows", json={"id": "flow-1", "etag": '"e"'}, status=201)
    handed_over(mapping_id="0123456789abcdef0123456789abcdef", mapping_version=3).execute(context)
    [body] = sent_bodies(aep_http, "POST", "/flows")
    assert body["transformations"][1]["params"]["mappingVersion"] == "3"
    assert not [c for c in aep_http.calls if "/conversion/" in c.request.url]
