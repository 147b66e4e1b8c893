"""Shared helpers: result records, robust statistics, machine info and the throwaway Airflow environment."""

from __future__ import annotations

import atexit
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent
BASELINE_DAGS = BENCH_DIR / "baseline_dags"
EXAMPLE_DAGS = REPO / "dags_examples"
MIB = 1024 * 1024

ORG_ID = "0123456789ABCDEF01234567@AdobeOrg"
CLIENT_ID = "bench-client-id"
CLIENT_SECRET = "bench-client-secret-value"


@dataclass
class Row:
    """One line of the summary table. ``ratio`` is the headline; ``value``/``baseline`` give context."""

    metric: str
    value: str
    baseline: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None  # None: no target, or not comparable

    def ratio_text(self) -> str:
        return "" if self.ratio is None else f"{self.ratio:.2f}x"

    def status(self) -> str:
        return {None: "", True: "yes", False: "NO"}[self.met]


@dataclass
class BenchResult:
    key: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None  # reason, when the benchmark could not run
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------------- statistics
def summary(samples: Sequence[float]) -> dict[str, float]:
    """Median with p10/p90 (inclusive quantiles; with fewer than 2 samples all three are the sample)."""
    values = sorted(float(v) for v in samples)
    if not values:
        raise ValueError("no samples")
    if len(values) == 1:
        return {"n": 1, "median": values[0], "p10": values[0], "p90": values[0], "min": values[0], "max": values[0]}
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p10": deciles[0],
        "p90": deciles[8],
        "min": values[0],
        "max": values[-1],
    }


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def fmt_spread_ms(stats: dict[str, float]) -> str:
    """``12.3 ms (p10 11.9 / p90 13.0)``."""
    return f"{stats['median'] * 1000:.1f} ms (p10 {stats['p10'] * 1000:.1f} / p90 {stats['p90'] * 1000:.1f})"


def fmt_mib(n_bytes: float) -> str:
    return f"{n_bytes / MIB:.2f} MiB"


def fmt_kib(n_bytes: float) -> str:
    return f"{n_bytes / 1024:.1f} KiB"


def ratio(value: float, baseline: float) -> float | None:
    return None if not baseline else value / baseline


# ---------------------------------------------------------------------------------------------------- environment
def bench_env(airflow_home: Path, **extra: str) -> dict[str, str]:
    """Environment for a child Python that runs Airflow code: a private AIRFLOW_HOME, no examples, no
    inherited ``AIRFLOW_CONN_*`` (connections are passed explicitly), repo on ``PYTHONPATH``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW__")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(airflow_home / "dags"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    env.update(extra)
    return env


def make_airflow_home(prefix: str) -> Path:
    """A throwaway ``AIRFLOW_HOME`` (with a ``dags`` folder), removed when this process exits."""
    home = Path(tempfile.mkdtemp(prefix=f"aep-bench-{prefix}-"))
    (home / "dags").mkdir()
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    return home


def aep_conn(url: str) -> str:
    import json

    return json.dumps(
        {
            "conn_type": "adobe_experience_platform",
            "host": url,
            "login": CLIENT_ID,
            "password": CLIENT_SECRET,
            "extra": {"org_id": ORG_ID, "sandbox_name": "prod", "ims_url": url},
        }
    )


def hubspot_conn() -> str:
    import json

    return json.dumps(
        {
            "conn_type": "hubspot",
            "login": "bench-hubspot-client",
            "password": "bench-hubspot-secret",
            "extra": {"access_token": "bench-hubspot-access", "refresh_token": "bench-hubspot-refresh"},
        }
    )


def settings_for(url: str):
    """``AEPSettings`` pointing at an emulator URL (client and IMS on the same loopback server)."""
    from airflow_provider_aep.client.config import AEPSettings

    return AEPSettings(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, org_id=ORG_ID, platform_url=url, ims_url=url)


# ---------------------------------------------------------------------------------------------------- machine info
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{rev}{' (uncommitted changes)' if dirty else ''}" if rev else "unknown"


def machine_info() -> dict[str, str]:
    import psutil

    physical = psutil.cpu_count(logical=False)
    return {
        "Date (UTC)": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "CPU": _cpu_model(),
        "Cores": f"{os.cpu_count()} logical" + (f", {physical} physical" if physical else ""),
        "Memory": f"{psutil.virtual_memory().total / (1024**3):.1f} GiB",
        "OS": platform.platform(),
        "Python": f"{platform.python_version()} ({platform.python_implementation()})",
        "Airflow": _version("apache-airflow"),
        "Task SDK": _version("apache-airflow-task-sdk"),
        "requests / httpx": f"{_version('requests')} / {_version('httpx')}",
        "airflow-provider-aep": f"{_version('airflow-provider-aep')} at git {_git_revision()}",
    }


def python() -> str:
    return sys.executable


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


#: Where a benchmark worker's JSON result starts in its stdout (whatever Airflow printed before it).
RESULT_MARKER = "@@RESULT@@"


def run_worker(module: str, *args: str, env: dict[str, str], timeout: float, what: str) -> Any:
    """Run ``python -m <module> <args>`` (a benchmark worker) and return the JSON after its result marker;
    ``timeout`` is a hang guard, and a failed worker raises with the tail of its stderr."""
    proc = subprocess.run(
        [python(), "-m", module, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    marker = proc.stdout.rfind(RESULT_MARKER)
    if proc.returncode != 0 or marker < 0:
        raise RuntimeError(f"{what} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout[marker + len(RESULT_MARKER) :])


def stream_worker(
    module: str,
    mode: str,
    spec: dict[str, Any],
    env: dict[str, str],
    *,
    timeout: float,
    what: str,
    on: dict[str, Callable[[], None]] | None = None,
) -> dict[str, Any]:
    """Run ``python -m <module> MODE @SPEC_FILE`` and return the JSON on its result line. ``on[name]()`` runs the
    moment the worker prints a line ``@@name@@``, so the parent can act mid-run (read the emulator's counters, start
    its clock, release a hold). ``timeout`` is a hang guard from the start; a failed worker raises with the tail of
    its stderr."""
    handlers = on or {}
    # The spec goes in a file: 10,000 ids do not fit in an argument list. Stderr goes to a file too: read only at
    # the end, a pipe could fill up and block the worker.
    with tempfile.TemporaryFile("w+") as err, tempfile.NamedTemporaryFile("w", suffix=".json") as spec_file:
        json.dump(spec, spec_file)
        spec_file.flush()
        proc = subprocess.Popen(
            [python(), "-m", module, mode, "@" + spec_file.name],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        assert proc.stdout is not None
        result = None
        deadline = time.monotonic() + timeout
        try:
            for line in proc.stdout:
                if line.startswith(RESULT_MARKER):
                    result = json.loads(line[len(RESULT_MARKER) :])
                elif line.startswith("@@") and (name := line.strip().strip("@")) in handlers:
                    handlers[name]()
            proc.wait(max(1.0, deadline - time.monotonic()))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.returncode != 0 or result is None:
            err.seek(0)
            raise RuntimeError(f"{what} failed ({proc.returncode}):\n{err.read()[-4000:]}")
        return result


def emulator_mark(emu: Any) -> dict[str, float]:
    """The emulator's counters now (requests served, IMS tokens issued), the CPU seconds of its own process (user +
    system; 0.0 for a handle without one) and this process's ``perf_counter``: two marks bound a window."""
    import psutil

    stats = emu.control.stats()
    process = getattr(emu, "process", None)
    times = psutil.Process(process.pid).cpu_times() if process is not None else None
    return {
        "requests": stats["requests"],
        "tokens": stats["tokens_issued"],
        "cpu": times.user + times.system if times is not None else 0.0,
        "t": time.perf_counter(),
    }


def run_dag_worker(
    dag_file: Path, dag_id: str, emulator_url: str, confs: list, env: dict[str, str], *, timeout: float = 900
) -> dict[str, Any]:
    """One ``dag.test()`` per conf in ``benchmarks._dag_worker`` against the emulator; its report."""
    return run_worker(
        "benchmarks._dag_worker",
        str(dag_file),
        dag_id,
        emulator_url,
        json.dumps(confs),
        env=env,
        timeout=timeout,
        what=f"dag.test() of {dag_id}",
    )
