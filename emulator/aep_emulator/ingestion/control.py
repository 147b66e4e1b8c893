"""Control calls that read what emulated runs wrote: ``GET /datasets/{id}/records`` and ``/failed-records``."""

from __future__ import annotations

from ..catalog.models import backend as catalog
from ..core.control_api import ControlEndpoint
from ..core.errors import ApiError
from ..core.messages import Request, Response
from ..core.state import EmulatorState, Store


def _stores_for(state: EmulatorState, req: Request) -> list[Store]:
    """Stores to read a dataset from: ``?org=``/``?sandbox=`` narrow them; without ``sandbox`` the ``prod``
    stores are tried first, then every other (so a single store, or the only one holding it, just works)."""
    org, sandbox = req.param("org"), req.param("sandbox")
    stores = [s for s in state.stores.values() if (org is None or s.org == org)]
    if sandbox is not None:
        return [s for s in stores if s.sandbox == sandbox]
    return sorted(stores, key=lambda s: s.sandbox != "prod")


def _dataset_records(state: EmulatorState, req: Request, dataset_id: str, kind: str) -> Response:
    """Landed records or rejected rows of a dataset, ``?batch=`` optional."""
    batch_id = req.param("batch") or None
    with state.lock:
        state.refresh_all()
        for store in _stores_for(state, req):
            backend = catalog(store)
            if backend.datasets.get(dataset_id) is None and dataset_id not in backend.landed:
                continue
            if kind == "records":
                return Response(200, backend.landed_records(dataset_id, batch_id))
            return Response(200, backend.failed_records(dataset_id, batch_id))
    raise ApiError(404, {"error": f"dataset {dataset_id} not found"})


def _landed(state: EmulatorState, req: Request, dataset_id: str) -> Response:
    return _dataset_records(state, req, dataset_id, "records")


def _failed(state: EmulatorState, req: Request, dataset_id: str) -> Response:
    return _dataset_records(state, req, dataset_id, "failed")


ENDPOINTS = (
    ControlEndpoint("/datasets/{dataset_id}/records", _landed, ("GET",), reads_state=True),
    ControlEndpoint("/datasets/{dataset_id}/failed-records", _failed, ("GET",), reads_state=True),
)
