"""Query Service (``/data/foundation/query``): the REST API (queries, templates, schedules, runs, connection
parameters) and a PostgreSQL endpoint, both running the SQL in DuckDB over the sandbox's datasets.

Layout: :mod:`.models` (state, the clock), :mod:`.queries`, :mod:`.templates`, :mod:`.schedules` (handlers),
:mod:`.listing` (list parameters), :mod:`.urls`, :mod:`.runner` (a query's SQL at its end), :mod:`.sql`
(statements), :mod:`.engine` (DuckDB over Catalog), :mod:`.duck_types`, :mod:`.duck_arrow` (records as Arrow
batches), :mod:`.writes` (CTAS/ITAS/DROP into Catalog), :mod:`.references` (the datasets a query read),
:mod:`.control` (the hold), :mod:`.wire` (the PostgreSQL protocol server).
"""

from __future__ import annotations

from .models import PREFIX, QueryBackend

__all__ = ["PREFIX", "QueryBackend"]
