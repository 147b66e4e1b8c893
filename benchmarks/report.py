"""Render results as a console table and as ``docs/benchmarks.md``."""

from __future__ import annotations

from typing import Any

from benchmarks.common import BenchResult

HEADERS = ("Benchmark", "Metric", "Measured", "Baseline", "Ratio", "Target", "Met")

METHODS = {
    "parse": (
        "Each sample is a fresh subprocess that first does, untimed, what Airflow's DAG processor has done "
        "before it forks a parser (import Airflow and `airflow.dag_processing.processor`, parse and serialise a "
        "warm-up DAG), then times one `BundleDagBag` load of the file and its serialisation "
        "(`DagSerialization.to_dict`), like the processor's `_parse_file`. Provider modules are therefore cold "
        "in every sample, as on a real processor (it pre-imports only `airflow.*` modules), and nothing leaks "
        "between samples; this was preferred over an in-process DagBag with purged modules, which would keep "
        "third-party modules (e.g. an HTTP library) warm after the first sample and hide their cost. The same "
        "file is parsed a second time in that process for the *warm* figure (task construction only). Example "
        "and baseline samples are interleaved in shuffled order; ratio = median / median. Baselines "
        "(`benchmarks/baseline_dags/empty_*.py`) are generated from the example's shape: same task ids, "
        "edges, dynamic task mapping and DAG params, every task an `EmptyOperator`. The import figure is "
        "`python -X importtime`: the sum of the cumulative times of the provider modules imported directly by "
        "non-provider code, after `import airflow.sdk` (and, second row, after what the processor has loaded). "
        "The *instructions (callgrind)* rows are the deterministic figure (wall-clock ratios move with the "
        "machine's load): when `valgrind` is on PATH, one cold load + serialise of the onboarding DAG, its "
        "EmptyOperator floor and the HttpOperator peer each run under `valgrind --tool=callgrind` "
        "(`PYTHONHASHSEED=0`, collection toggled around the load + serialise only, after the same untimed "
        "set-up; `benchmarks/parse_instructions.py`); skipped without `valgrind` and in `--smoke`. The "
        "*forked parser* rows (`benchmarks/first_parse.py`) measure the parse as Airflow 3's DAG processor pays "
        "it: each sample is a fresh process that does, untimed, what the `airflow dag-processor` process has "
        "done before it forks a parser (providers configuration, the manager and processor modules, the "
        "in-process execution API, `_pre_import_airflow_modules(file)`, `gc.freeze()`), then forks and times in "
        "the child the steps of `processor._parse_file` (stability check, `BundleDagBag` load, `_serialize_dags`, "
        "the result's msgpack frame), with no warm-up DAG, then the same steps again in that child (*second*). "
        "Example, EmptyOperator baseline and the example with its provider modules imported in the child before "
        "the parse are interleaved in shuffled order; ratio = median / median; CPU time is the parser process's "
        "`time.process_time`."
    ),
    "calls": (
        "`dags_examples/hubspot_onboarding.py` (a mapped task group `onboard_table` per table) runs three times "
        "through `dag.test()` in a child process (throwaway `AIRFLOW_HOME`, SQLite) against the emulator in "
        "another process: on an empty org (create paths); again with `teardown=True, teardown_data=True` (every "
        "lookup finds the existing resource; the deletes leave what this run reused); and under another "
        "`connection_name` with teardown (create paths, then every delete). `dag.test()` runs tasks one at a "
        "time, so each journal entry (Flow Service, Schema Registry, Catalog, Data Prep) is attributed to the "
        "task instance whose start/end window contains it. The API minimum per task is derived in "
        "`benchmarks/calls.py` (`MINIMUM`): a lookup by natural key + the POST when nothing was found, a found "
        "resource being whole in the lookup answer; a mapping set is validated before it is created; the "
        "tenant id is needed once per process; a delete is one DELETE only for what its run created. "
        "`dag.test()` also runs every task and the deferred sensor's trigger in one process, so the count of "
        "`POST /ims/token/v3` is the number of tokens per process."
    ),
    "triggers": (
        "The emulator runs in its own process. A dataflow (with the field group, schema, dataset and mapping "
        "set it needs) is made with the provider's operators, then N "
        "on-demand runs in batches with growing `run_duration`, so they end spread over minutes of emulator "
        "time; the clock is advanced faster than real time while the waits run. Deferred: N "
        "`AEPFlowRunTrigger.run()` in one asyncio loop in a fresh process (a triggerer). Poke: N threads "
        "calling `AEPFlowRunSensor.poke()` then sleeping. In Airflow a poking sensor holds a worker slot, "
        "i.e. a task process: a thread is the cheapest conceivable slot, so the thread figure is a lower "
        "bound, and the RSS of one process that has poked once is shown as the floor of a real slot. Memory = "
        "(peak RSS during the waits - RSS before) / N, sampled every 20 ms; `tracemalloc` runs in a separate "
        "pass because it slows the loop (off at 10,000 waits). Polls come from the emulator's request counter; "
        "the deferred worker also records when each poll was issued and answered (perf_counter, per wait), "
        "which splits the trigger's own lateness (issue delay: time past the poll's due time, itself the later "
        "of one interval after the previous issue and that poll's answer) from the answer time (shared "
        "connection queue + network + the emulator's queue and work). The emulator's process CPU over the "
        "measured window is read with psutil. Poke mode runs at most 1,000 threads (its figures are per wait)."
    ),
    "onboarding": (
        "`dags_examples/hubspot_onboarding.py` runs once per size through `dag.test()` in a child process "
        "(throwaway `AIRFLOW_HOME`, SQLite), each time against a fresh emulator process that declares that many "
        "extra HubSpot tables (`benchmarks/_scale_emulator.py`, the columns of `Contacts`), with every table "
        "selected, teardown off and runs that end at once. Requests are the emulator's journal for the DAG run; "
        "the API minimum is `benchmarks/calls.py`'s `MINIMUM` (create column) per task instance, the tenant id "
        "once, one `POST /runs` per run started and one GET per poll. A create's lookup uses the server-side "
        "filters Adobe documents (Flow Service `property=name==`, Schema Registry `property=title==`, Catalog "
        "`name=`, Data Prep `name=`), so it is one request however many resources the org holds: the list "
        "requests per table are the same at both sizes. Provider CPU is the CPU time spent inside the "
        "provider's operators' `execute()` (`task_runner._execute_task`: validation, HTTP client, JSON, XCom "
        "pushes); the whole process CPU (Airflow's `dag.test()` loop, SQLite, rendering) is given for context."
    ),
    "peers": (
        "The peers (`benchmarks/peers/`) are the example onboarding written the two ways a user would write it "
        "without this provider: `HttpOperator` tasks (apache-airflow-providers-http) with a hand-written IMS "
        "token task whose token every request pulls from XCom, and `@task` functions calling Adobe's `aepp` "
        "(FlowService, Schema, Catalog, DataPrep; imported inside the tasks). Both make the same resources per "
        "table, mapped over the tables, with a bare POST per create (as a first version is written); neither "
        "has the example's teardown tasks. aepp is pointed at the emulator with `configure(environment="
        "'support', endpoint=...)` plus one override, the IMS token URL (`oauthTokenEndpointV2`) in the config "
        "passed to its modules: aepp has no setting for it. Parse: as (a), the four files (ours, the two peers, "
        "the EmptyOperator floor) interleaved in shuffled order, cold load + serialise, median / median. Each "
        "DAG then runs once through `dag.test()` on an empty emulator org (2 tables): requests are the "
        "Platform journal entries of the run, polls (requests made while a `wait_for_run` instance ran) "
        "counted apart; tokens are its `POST /ims/token/v3`. Then once per fault with the emulator's "
        "`commit_then_drop` on the first POST of a collection (the create is performed, the connection is "
        "closed unanswered): duplicates are that collection's resources sharing a name beyond the first. Task "
        "retries wait 1 s there (`AEP_PEER_RETRY_DELAY`; the example's own retry delay stays 30 s)."
    ),
    "pagination": (
        "The emulator (own process) is seeded with N HubSpot base connections by bare POSTs. "
        "`FlowServiceClient.iter_resources('connections')` and a bare `requests` loop (`session.get` + "
        "`resp.json()`, following `_links.next.href`) list them with the same page size, headers and "
        "keep-alive session; repetitions alternate in shuffled order after an untimed warm-up. Memory is "
        "the `tracemalloc` peak of this process while counting the generator's items vs `list()`-ing them."
    ),
    "batch": (
        "A JSON-lines file (distinct records) goes into one batch of a dataset on the emulator (own process, batch "
        "processing pushed past the run: the upload is measured, not the emulator's parsing). Each upload runs in "
        "a fresh process (`benchmarks/_batch_worker.py`): *provider* is the provider's upload path "
        "(`BatchUpload` over `BatchIngestionClient`: plan the 256 MB parts at line boundaries, create, PUT each "
        "part streamed from the file, COMPLETE), what `IngestFilesOperator.execute` runs before it waits; "
        "*bare* POSTs the batch and PUTs the same byte ranges with a plain `requests` session. Repetitions "
        "alternate; ratio = bare median time / provider median time (throughput ratio). Memory: the provider "
        "process's peak RSS (`ru_maxrss`) minus its RSS when the upload started, at two file sizes. Requests: the "
        "emulator's journal of the provider's calls to the import API and Catalog's batches for one batch, "
        "against the API minimum (create + one PUT per part + COMPLETE; a first try sends its create without a "
        "lookup, a retry looks its `externalId` up first)."
    ),
    "query": (
        "The emulator runs in its own process. The rows are landed once with Query Service's CTAS over the "
        "PostgreSQL endpoint (`CREATE TABLE ... AS SELECT ... FROM range(n)`: a new dataset with an ad hoc schema "
        "and one batch of n records in Catalog), then read once, untimed, so the emulator builds its DuckDB table "
        "from the landed records before anything is timed. *SELECT*: fresh processes "
        "(`benchmarks/_query_worker.py`), each alternating hook and bare repetitions (which side goes first "
        "alternates too) after an untimed warm-up of each, every repetition on a new database connection: *hook* "
        "is `AEPQueryServiceHook().get_records(sql)` with a new hook each time (connection lookup, "
        "`GET /connection_parameters`, the process's cached IMS token as password, psycopg 3 as the PostgreSQL "
        "provider picks it with SQLAlchemy 2); *bare* is `psycopg.connect` with the same host, port, database, user "
        "and `sslmode`, a token fetched by the parent, `execute` + `fetchall`. Ratio = median / median over all "
        "processes. Tokens: `POST /ims/token/v3` in the emulator's journal while one worker process ran (every one "
        "counted is the hook's). *Memory*: one pass over the same rows in a fresh process each, "
        "`hook.iter_records(sql, batch_size=10_000)` (a server-side cursor) against `hook.get_records(sql)`, the "
        "two alternating; growth = peak RSS (`ru_maxrss`, at least the RSS before the pass) - RSS before the "
        "pass, after an untimed one-row warm-up of both. *Waits*: n queries submitted with `POST /queries` and "
        "held `IN_PROGRESS` by the "
        "emulator's query hold, then n `AEPQueryTrigger.run()` in one asyncio loop in a fresh process for a fixed "
        "window. Memory = (peak RSS during the window - RSS after an untimed warm-up wait) / n, sampled every "
        "20 ms. Polls due, on the trigger's own schedule: one when a wait first polls, the second at most one poll "
        "interval later (the trigger draws its first interval from 0.5-1x), then one per interval until the window "
        "ends (from the window's start for a wait that never polled); the worker records when each poll was "
        "issued and answered. Then the hold is released and each trigger must yield one `success` event within a "
        "bounded time. Emulator CPU over the window is read with psutil."
    ),
}

FINDINGS = """\
## Findings and changes made

* **Deferred waits: one TLS context per process** (`airflow_provider_aep/client/async_flow_service.py`).
  Every `AsyncFlowServiceClient` (one per trigger) built its own verifying `ssl.SSLContext` through
  `httpx.AsyncClient(verify=True)`, loading the whole CA bundle: about 35 ms of CPU and 0.7 MiB each.
  With 1,000 triggers in one loop this measured **879 KiB RSS per trigger, 35 polls/s and a 27 s stall of
  the event loop** (first run of this benchmark). The client now passes one cached context
  (`shared_ssl_context()`, built as `verify=True` would, honouring `SSL_CERT_FILE`/`SSL_CERT_DIR`), which
  gives the figures above.
* **Sensor module imports the trigger lazily** (`airflow_provider_aep/sensors/runs.py`): importing
  `airflow_provider_aep.sensors.runs` pulled in `airflow.triggers.base` (~5 ms) for every DAG file and
  every worker process, although only the deferrable path needs it. It is now imported where the sensor
  defers. (The DAG processor has `airflow.triggers.base` loaded already, so parse time is unchanged there.)
* **`links.py` imports `airflow.sdk.execution_time.xcom`**: measured free. `import airflow.sdk` (3.3.2)
  already loads that module (and `httpx`, `tenacity`), so the import adds nothing. `requests` is not
  loaded by any operator, sensor, link or hook module at import time (hooks import the client, and with it
  `requests`, only when a task first uses it); the emulator is never imported outside tests and benchmarks.
* **Parse ratio above 1.05x: one wrapper layer removed, the rest is Airflow's per-operator cost.** Airflow
  wraps every `__init__` of an operator's class hierarchy and deep-copies the DAG's `params` in each
  wrapper. `AEPBaseOperator` no longer defines an `__init__` (each operator takes `aep_conn_id` itself), which
  took the onboarding DAG (then 13 tasks, before the target side) from 33 to 28 params copies per parse and
  its load + serialise ratio from 1.24x to 1.19x. What remains is one wrapped `__init__` per operator
  (EmptyOperator has none of its own), the provider's module imports and serialising richer operators
  (template fields, extra links). 1.05x is not reachable for a DAG of real operators without giving up
  their own constructors.
* **Peers on a lost create answer, and their tokens** (`commit_then_drop` on the first POST of datasets
  or of base connections). The HttpOperator peer's task fails on the dropped connection and its Airflow
  retry POSTs again: a duplicate, in a green DAG run. aepp's `requests` session retries the POST itself
  (urllib3 `Retry` with POST in `allowed_methods`), inside the same try: a duplicate nobody is told about.
  This provider finds the committed resource by its name and adopts it: none. aepp fetches one IMS token per
  module instance (`FlowService()`, `Schema()`, ...; over 20 per run of 2 tables); the HttpOperator peer
  fetches one per DAG run but keeps it in XCom and in every task's rendered headers; this provider caches it
  per process (on a deployment, at most one per task process). The peers make about half the requests of
  this provider because they do not look a resource up before creating it, nor check what they would reuse:
  a second run of either duplicates every resource.
* **Parse cost against the peers and the floor (issue 14): profiled, then cut in the provider.** With
  the target side and `AEPOnboardingTaskGroup` (22 tasks), load + serialise had grown to about 1.5x the
  EmptyOperator floor. Profiled with cProfile call counts and callgrind instruction counts of one cold load
  + serialise in a processor-like child (deterministic, unlike wall time on a loaded 2-core machine):
  (1) Airflow caches `get_serialized_fields()` per class but builds it from a throw-away
  `BaseOperator(task_id="test")` whatever the class, so the first serialisation paid one extra operator
  construction (wrapped `__init__`, params deep copy) per provider class, 17 in the DAG; `AEPBaseOperator`
  and `OnboardingStep` now ask `BaseOperator` for it, built once. (2) The group's four `@task` steps
  (resource names, identity, table summary, summary) are `PythonOperator`s with four wrapped `__init__`
  levels each; they are now `OnboardingStep` tasks (`operators/steps.py`) with one, like `EmptyOperator`
  (same task ids, templated arguments, XComs, `multiple_outputs`, doc). (3) Delete operators had two
  wrapped levels (`AEPDeleteOperator` and the leaf); now only the leaf has an `__init__`. (4) A third of
  the provider's import cost in the processor was compiling the generated methods of three frozen
  dataclasses (`CreatedResource`, `FlowRun`, `FieldLayout`: 18 `exec` calls, 13 M of 40 M instructions);
  they moved to `client/_records.py` and `client/_xdm_layout.py`, still exported by `client.models` /
  `client.xdm` and imported on first use, so no DAG parse loads them; `client.errors` (every client error
  class) is no longer imported by `client.config`/`client.models` at import time either. What is left
  above the floor: defining the provider's operator classes (Airflow inspects every wrapped `__init__`'s
  signature at class creation), two wrapped `__init__` levels per operator (its own and `BaseOperator`'s;
  three for the sensor), and serialising 66 non-empty template fields (`serialize_template_field` reads
  `core.max_templated_field_length` from the config for each). The HttpOperator peer costs more to parse
  than ours: `airflow.providers.http` imports `aiohttp` and `requests_toolbelt` at module level.
* **Requests at the API minimum (issue 14 part 2): what a DAG run has read is handed on, not read again.**
  Before: 103 requests for the create + reuse runs against a minimum of 77 (1.34x; the issue's 65 vs 53 was
  the older 13-task DAG) and that minimum still counted a flow spec lookup per table and a base connection
  read per source connection. Changed: `create_base_connection` pushes the base connection (id, name,
  spec) and, with `flow_spec_name`, the flow spec it finds once per DAG run (before its create, so a failed
  try has created nothing); the connection operators push their connection spec id; `create_dataflow` takes
  the flow spec, the connection specs and the mapping set's version in one `hand_over` and pushes the
  flow's frequency, which `trigger_run` checks instead of reading the flow. Each hand-over goes through XCom
  (mapped tasks are separate processes on a real deployment) and is used only when it is what the task
  asks for (the same base connection id, the flow spec of that name); a reused resource is still verified
  field by field. `create_dataset`/`create_mapping_set` no longer look up twice (the client's
  `looked_up=True`; the lookup after an ambiguous failure stays); a reused field group or schema comes
  whole from the title lookup (`Accept: application/vnd.adobe.xed+json`, the same document as a lookup
  with `version=1`), a reused mapping set from the list item (`MapperSetPage.data` items are whole
  `MappingSet`s). Now every task is at the stricter minimum: 70 vs 70 for create + reuse, 123 vs 123 over
  the three runs. The polling paths were already at the floor (one GET per poll, one token and one tenant id
  per process).
* **10,000 deferred waits in one loop (issue 14 part 3).** Why 1,000 waits made only 0.82 of their polls:
  a trigger slept `poll_interval` *after* each answer, so every answer's latency (0.4 s under the bursts
  of waits started together) was added to every period. Triggers now poll on a fixed grid
  (`triggers/runs.py`, `next_poll_at`; a poll answered after the next tick skips the missed ticks, never
  two polls per interval) with a random 0.5-1x first interval, so a mapped group's waits spread out
  instead of polling in lockstep. Each `AsyncFlowServiceClient` had its own `httpx.AsyncClient`, so 10,000
  waits meant 10,000 sockets on each side; clients of one event loop now share 16 one-connection clients
  handed out by an `asyncio.Queue` (`client/async_flow_service.py`). One shared `AsyncClient` with
  `max_connections=100` was tried first and measured 13-32 ms of CPU per poll and loop stalls of 2.8-47 s
  at 1,000 waits (httpcore rescans its connections and queued requests on every change; 1,000 concurrent
  polls took 12.5 s of CPU against 1.1 s with the queue, 1.8 s with a client per trigger), so the queue
  sits in front of single-connection pools. py-spy of the 10,000-wait loop shows it idle in `select` or
  parsing answers (h11), not stalled. The token lock is not a
  factor: `atoken` takes the cached token without the lock (1 token per process). At 10,000 waits (poll
  60 s, the onboarding DAG's default) the trigger issued 23,133 of 23,133 polls on schedule (issue delay
  p99 27 ms), made 1.25 polls per poll due (the shorter first interval polls a little more, none missed),
  all 10,000 waits ended with 13.7 KiB RSS each; event-loop lag p99 61 ms, max 7.2 s once, while 10,000
  triggers started together. **What is slow is the answer, and it is the server's side and the shared
  CPU:** answers p50 1.3 s, p99 26 s, because all 10,000 first polls are issued in the same second and one
  Python process needs ~2.2 ms of CPU per poll (httpx + h11 + JSON, on a 2-core machine other jobs were
  loading) and the emulator ~1.6 ms per request: that burst takes ~25 s to drain. The emulator was also
  measured to be the bottleneck at first: its `GET /runs/{id}` refreshed every active run, O(active runs)
  per poll, 6.3 ms of emulator CPU per poll with 10,000 runs in flight (answers p50 157 s, 0.32 of the polls
  due); it now advances only the run asked for (`aep_emulator/flow_service/runs.py`), 1.6 ms per poll. The issue's old
  case, 1,000 waits polling every 2 s (500 polls/s), is beyond this machine either way: measured after the
  changes (separate run, load average ~3.5 from other jobs) deferred made 0.68 of its polls due and poke
  threads 0.88, both at ~210 polls/s; answers took p50 0.94 s, p90 4.2 s (more than the interval, so the
  grid skipped ticks) while the loop's lag stayed at p99 0.25 s. 500 polls/s at ~2 ms of client CPU and
  ~1.1 ms of emulator CPU each needs about 1.5 of the 2 cores; 10,000 waits at 60 s need a third of that.
* **200 tables in one DAG run (issue 14 part 4).** 3,605 requests against a minimum of 3,605 (1.00x); a
  create's lookup is one request whatever the org holds (Flow Service `property=name==`, Schema Registry
  `property=title==`, Catalog `name=`, Data Prep `name=`, all as Adobe documents them and as the emulator
  implements them), so list requests per table are the same at 20 and 200 tables (8.15 and 8.02; the
  shared lookups of the base connection and flow spec spread over more tables). Provider CPU inside the
  operators' `execute()` is ~310 ms per table at both sizes (1.02x: linear); the whole `dag.test()`
  process used ~4.3 s of CPU per table, and the 200-table run took 1,822 s on 2 cores (3,604 task
  instances run one after another), so `make bench` takes about 45 minutes; the smoke uses 1 and 2 tables.
* **The first parse as the DAG processor pays it (issue 19).** Airflow 3 parses each DAG file in a process
  forked from the dag-processor, where only `airflow.*` modules the file names are pre-imported. The *forked
  parser* rows measure that (`benchmarks/first_parse.py`). A measure from outside had found 2.9x the
  EmptyOperator twin (about 290 vs 100 ms): most of it was compiling the provider's modules in every fresh
  process, because that environment had `PYTHONDONTWRITEBYTECODE=1` and an editable install, so no `.pyc`
  was ever written (without bytecode the provider's 21 DAG-facing modules cost 43 ms of CPU against 9 ms with
  it; measured 1.50x on CPU time without `.pyc`). With bytecode, as a pip install has it, the first parse is
  1.1x to 1.3x the twin. Ship the provider compiled (`docs/deploy.md`). In the restructuring the provider's
  import in the parser grew from 28.6 M to 33.2 M instructions (the task group's builder records as frozen
  dataclasses, 12 M per parse; the owner lines and asset helpers imported by every DAG file); the records
  are NamedTuples now and `ownership`/`assets` are imported where they are used, so the import is back to
  28.2 M and the callgrind row below the tree before the restructuring measured in the same environment
  (611.6 M). The import and callgrind probes freeze the GC as the processor does before it forks: a full
  collection of the preloaded heap used to land in whichever provider module allocated at that moment (the
  "on top of the DAG processor" row read 131 ms with it, 8 ms without).
* **Batch ingestion (issue 21): streamed and split at the API minimum.** A 1 GiB JSON-lines file goes up as
  256 MB parts found by seeking back to a newline from each chunk boundary (no scan of the file), each part
  a file object over its byte range that `requests` sends block by block, so the upload process grows by a
  few MiB whatever the file's size; a first try sends its batch create without a lookup (nothing can have made
  its `externalId` yet), so one batch costs create + one PUT per part + COMPLETE.
* **Query Service (issue 22).** The hook's cost per new database connection is one `GET
  /connection_parameters` and the cached IMS token, about 1 % of a 100,000-row SELECT. Two emulator fixes came
  out of this benchmark: landed records reach DuckDB through Arrow in 10,000-row chunks (442 rows/s with
  `executemany`, now about 52,000), and a read of one query brings only that query up to the clock (1.51 ms of
  emulator CPU per poll with 1,000 held queries, now 0.36 ms), as the flow-run reads were fixed before. For a
  large result, `iter_records` reads through a server-side cursor (the emulator's endpoint keeps `DECLARE` /
  `FETCH` cursors since): the worker grows by one batch, 7.5 MiB against 33.6 MiB for `get_records` over the same
  100,000 rows, at 1.04x the time.
"""


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table_rows(results: list[BenchResult]) -> list[tuple[str, ...]]:
    rows = []
    for res in results:
        if res.skipped:
            rows.append((res.key, f"skipped: {res.skipped}", "", "", "", "", ""))
            continue
        for row in res.rows:
            rows.append((res.key, row.metric, row.value, row.baseline, row.ratio_text(), row.target, row.status()))
    return rows


def console_table(results: list[BenchResult]) -> str:
    rows = [HEADERS, *table_rows(results)]
    widths = [min(max(len(str(r[i])) for r in rows), 70 if i == 1 else 40) for i in range(len(HEADERS))]

    def fmt(row: tuple[str, ...]) -> str:
        cells = []
        for i, cell in enumerate(row):
            text = str(cell)
            if len(text) > widths[i]:
                text = text[: widths[i] - 1] + "~"
            cells.append(text.ljust(widths[i]))
        return " | ".join(cells).rstrip()

    line = "-+-".join("-" * w for w in widths)
    return "\n".join([fmt(rows[0]), line, *(fmt(r) for r in rows[1:])])


def _markdown_table(headers: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def _calls_detail(res: BenchResult) -> list[str]:
    lines: list[str] = []
    for run in res.details.get("runs", []):
        lines += [f"Run `{run['path']}` (conf `{run['conf']}`, DAG run {run['state']}):", ""]
        rows = [
            (  # one row per task; a mapped task group's tasks add up their instances (one per table)
                f"`{t['task']}`",
                t["instances"],
                t["requests"],
                t["minimum"],
                ", ".join(f"{k} x{v}" for k, v in sorted(t["calls"].items())) or "-",
                t["why"],
            )
            for t in run["tasks"]
        ]
        headers = ("Task", "Instances", "Requests", "API minimum", "Requests made", "Minimum because")
        lines += _markdown_table(headers, rows)
        lines.append("")
    return lines


def markdown(results: list[BenchResult], machine: dict[str, str], *, command: str, smoke: bool) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m benchmarks`); do not edit by hand. Every ratio compares two figures",
        "measured in the same run on the same machine; absolute times are context only. Nothing here is asserted",
        "by the test suite (`tests/benchmarks/test_bench_smoke.py` only checks that a tiny run is well formed).",
        "",
        "Run it with `make bench` (about 50 minutes on 2 cores, most of it the 200-table `dag.test()` run; all",
        "traffic stays on 127.0.0.1). Options:",
        "`python -m benchmarks --only parse,pagination` for a subset, `--smoke` for tiny sizes, `--output`/`--json`",
        "for other destinations (raw figures go to `benchmarks/results/latest.json`, which git ignores).",
        "`make bench` installs the `bench` extra first: the peers (`benchmarks/peers/`) need",
        "apache-airflow-providers-http and aepp.",
        "",
    ]
    if smoke:
        lines += ["> **Smoke run** (tiny sizes): the figures below are not meaningful.", ""]
    lines += ["## Machine", ""]
    lines += _markdown_table(("", ""), list(machine.items()))
    lines += ["", f"Command: `{command}`", "", "## Summary", ""]
    lines += _markdown_table(HEADERS, table_rows(results))
    lines += ["", FINDINGS.rstrip()]
    for res in results:
        lines += ["", f"## {res.title}", ""]
        if res.skipped:
            lines += [f"Skipped: {res.skipped}"]
            continue
        lines += [METHODS.get(res.key, ""), ""]
        if res.key == "calls":
            lines += _calls_detail(res)
        for note in res.notes:
            lines.append(f"* {note}")
        lines.append(f"* Took {res.seconds:.0f} s.")
    return "\n".join(lines).rstrip() + "\n"
