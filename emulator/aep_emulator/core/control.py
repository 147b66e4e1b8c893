"""Python client for the emulator's ``/__emulator/`` control plane (works for thread and subprocess mode)."""

from __future__ import annotations

import time
from typing import Any

import requests


class EmulatorControlError(RuntimeError):
    """The control plane refused a request."""


class EmulatorControl:
    """Thin ``requests`` wrapper; every method is one HTTP call to the control plane.

    ``token`` is sent as ``x-emulator-token``: only needed from a non-loopback host, against a server started
    with ``--control-from-anywhere --control-token TOKEN``.
    """

    def __init__(self, url: str, timeout: float = 10.0, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        if token:
            self._session.headers["x-emulator-token"] = token

    def __repr__(self) -> str:
        return f"EmulatorControl({self.url!r})"

    def _call(self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        response = self._session.request(
            method, f"{self.url}/__emulator{path}", json=json, params=params, timeout=self.timeout
        )
        if response.status_code >= 400:
            raise EmulatorControlError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json() if response.content else None

    # -- lifecycle ---------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def wait_until_ready(self, timeout: float = 15.0, interval: float = 0.02) -> None:
        """Poll ``/health`` until it answers or the deadline passes."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                self._session.get(f"{self.url}/__emulator/health", timeout=1.0).raise_for_status()
                return
            except requests.RequestException as exc:
                last = exc
                time.sleep(interval)
        raise TimeoutError(f"AEP emulator at {self.url} not ready after {timeout}s: {last!r}")

    def reset(self) -> None:
        """Clear resources, journal, faults, tokens, forced outcomes, clock offset and config changes."""
        self._call("POST", "/reset")

    def config(self) -> dict[str, Any]:
        return self._call("GET", "/config")

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change ``EmulatorConfig`` fields on the running server until the next :meth:`reset`."""
        return self._call("PATCH", "/config", json=changes)

    # -- journal ------------------------------------------------------------------------------------
    def journal(
        self, method: str | None = None, path: str | None = None, include_secrets: bool = False
    ) -> list[dict[str, Any]]:
        """Recorded non-control requests, oldest first; optionally filtered by method and path regex.

        Secrets are masked (IMS ``client_secret``, bearer tokens as ``Bearer <redacted token #N>``, secret
        ``auth.params``) unless ``include_secrets`` is true, as in :meth:`state`.
        """
        params = {k: v for k, v in (("method", method), ("path", path)) if v}
        if include_secrets:
            params["secrets"] = "true"
        return self._call("GET", "/journal", params=params or None)

    def clear_journal(self) -> None:
        self._call("DELETE", "/journal")

    # -- faults -------------------------------------------------------------------------------------
    def add_fault(
        self,
        method: str | None = "POST",
        path: str = "/data/foundation/flowservice/connections",
        count: int = 1,
        status: int | None = None,
        retry_after: str | int | None = None,
        latency: float = 0.0,
        action: str = "respond",
        body: Any = None,
        commit_after: float | None = None,
    ) -> str:
        """Add a fault rule; returns its id.

        ``action``: ``respond``, ``drop``, ``commit_then_fail``, ``commit_then_drop``, ``delay``,
        ``commit_later`` or ``hold`` (wait until :meth:`release`, at most ``latency`` seconds, default 300).
        ``status=None`` means 503 (respond), 500 (commit_then_fail) or 504 (commit_later).

        ``commit_later`` answers at once with ``status`` (and ``body``, by default the gateway's own error) and
        performs the real request ``commit_after`` seconds (default 2.0) later **on the emulator clock**, with
        the caller, org and sandbox it arrived with: before the next data-plane request, or the next
        :meth:`state`, :meth:`journal`, :meth:`stats`, :meth:`clock`, :meth:`landed_records` /
        :meth:`failed_records` or :meth:`advance_clock` call after that time. Its journal entry has the rule's
        ``fault`` id and ``committed_late: True``. :meth:`reset`, :meth:`clear_faults` and
        :meth:`remove_fault` drop commits still pending; ``stats()["pending_commits"]`` counts them.
        """
        rule = {
            "method": method,
            "path": path,
            "count": count,
            "status": status,
            "retry_after": None if retry_after is None else str(retry_after),
            "latency": latency,
            "action": action,
            "body": body,
        }
        if commit_after is not None:
            rule["commit_after"] = commit_after
        return self._call("POST", "/faults", json=rule)["id"]

    def held(self, fault_id: str) -> dict[str, Any]:
        """``{"held": n waiting now, "passed": n let through, "released": bool}`` of a ``hold`` rule."""
        return self._call("GET", f"/faults/{fault_id}/held")

    def release(self, fault_id: str) -> dict[str, Any]:
        """Let the requests a ``hold`` rule keeps waiting (and any later match) go on."""
        return self._call("POST", f"/faults/{fault_id}/release")

    def wait_held(self, fault_id: str, count: int, timeout: float = 120.0) -> int:
        """Block until ``count`` requests wait on the ``hold`` rule at once; returns how many wait."""
        deadline = time.monotonic() + timeout
        while (held := self.held(fault_id)["held"]) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {held} request(s) held by fault {fault_id} after {timeout}s, not {count}")
            time.sleep(0.05)
        return held

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "/faults")

    def remove_fault(self, fault_id: str) -> None:
        self._call("DELETE", f"/faults/{fault_id}")

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    # -- time, tokens, runs -------------------------------------------------------------------------
    def clock(self) -> dict[str, float]:
        return self._call("GET", "/clock")

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator clock forward; returns the new emulator time (epoch seconds)."""
        return self._call("POST", "/clock/advance", json={"seconds": seconds})["now"]

    def expire_tokens(self) -> int:
        return self._call("POST", "/tokens/expire")["expired"]

    def issue_token(self, client_id: str = "emulator-client", scope: str = "openid,AdobeID") -> str:
        """A valid access token without going through IMS (for tests that are not about auth)."""
        return self._call("POST", "/tokens", json={"client_id": client_id, "scope": scope})["access_token"]

    def set_run_outcome(
        self,
        outcome: str = "failed",
        flow_id: str | None = None,
        run_id: str | None = None,
        failed_records: int = 0,
    ) -> int:
        """Force the outcome of unfinished runs (and, without ``run_id``, of later runs); returns count changed."""
        payload = {"outcome": outcome, "flow_id": flow_id, "run_id": run_id, "failed_records": failed_records}
        return self._call("POST", "/runs/outcome", json=payload)["updated"]

    def touch_rows(self, table: str, rows: int = 1, *, source: str | None = None) -> dict[str, Any]:
        """Change the first ``rows`` sample rows of ``table`` (``Hubspot.Contacts``, ``Contact``...): their delta
        column becomes the emulator's now, so the next incremental run of a flow reading it copies them.
        Returns ``{"source", "table", "rows", "column", "value"}``."""
        return self._call("POST", "/sources/rows/touch", json={"table": table, "rows": rows, "source": source})

    # -- inspection ---------------------------------------------------------------------------------
    def state(self, include_secrets: bool = False) -> dict[str, list[dict[str, Any]]]:
        params = {"secrets": "true"} if include_secrets else None
        return self._call("GET", "/state", params=params)

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/stats")

    # -- emulated ingestion -------------------------------------------------------------------------
    def _dataset_params(self, batch_id: str | None, org: str | None, sandbox: str | None) -> dict[str, str]:
        params = {"batch": batch_id, "org": org, "sandbox": sandbox}
        return {k: v for k, v in params.items() if v}

    def landed_records(
        self, dataset_id: str, *, batch_id: str | None = None, org: str | None = None, sandbox: str | None = "prod"
    ) -> list[dict[str, Any]]:
        """Records emulated runs landed in a dataset (every batch in order, or one batch).

        ``org=None`` searches every org; ``sandbox=None`` tries ``prod`` first, then the others.
        """
        params = self._dataset_params(batch_id, org, sandbox)
        return self._call("GET", f"/datasets/{dataset_id}/records", params=params)

    def failed_records(
        self, dataset_id: str, *, batch_id: str | None = None, org: str | None = None, sandbox: str | None = "prod"
    ) -> list[dict[str, Any]]:
        """Rows emulated runs rejected: ``{"row", "source", "errors": [{"code", "message", ...}], "batch"}``."""
        params = self._dataset_params(batch_id, org, sandbox)
        return self._call("GET", f"/datasets/{dataset_id}/failed-records", params=params)
