"""``AEPQueryServiceHook``: Query Service's PostgreSQL interface as a common-sql ``DbApiHook`` (a ``PostgresHook``).

An ``aep_query_service`` connection stores no client secret: it names the ``adobe_experience_platform``
connection to sign in with (extra ``aep_conn_id``, default ``aep_default``). Every new database connection reads
``GET /connection_parameters`` through it (host, port, database, username) and passes that connection's IMS
token as the password: the process-wide token cache hands out one token until it is about to expire, and a
token the service no longer accepts is replaced by the Platform client's 401 handling on that same request. A
non-expiring Query Service credential in the connection's password field is used instead of the token.

TLS is ``sslmode=require`` (Adobe supports nothing weaker), except on a loopback host (the emulator), where it
is ``prefer``. The token is registered with Airflow's secret masker and removed from connection errors.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.postgres.hooks.postgres import PostgresHook
from airflow.sdk.log import mask_secret

from airflow_provider_aep.client.config import is_loopback
from airflow_provider_aep.exceptions import AEPConnectionConfigError
from airflow_provider_aep.get_provider_info import AEP_QUERY_CONN_TYPE, AEP_QUERY_CONNECTION_TYPE
from airflow_provider_aep.hooks.connection_form import legacy_form_widgets, legacy_ui_field_behaviour

if TYPE_CHECKING:
    from airflow.providers.openlineage.sqlparser import DatabaseInfo
    from sqlalchemy.engine import URL

    from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook

DEFAULT_AEP_CONN_ID = "aep_default"
#: Schema Query Service shows every dataset in (``\\d`` lists them as ``public`` tables).
DEFAULT_SCHEMA = "public"


class AEPQueryServiceHook(PostgresHook):
    """Query Service over PostgreSQL (the PostgreSQL provider's driver: psycopg 3 where installed, else psycopg2),
    for ``SQLExecuteQueryOperator``, the ``SQL*CheckOperator``\\ s and ``get_records``/``get_first``/``get_df``;
    :meth:`iter_records` streams a large result.

    :param aep_query_conn_id: the ``aep_query_service`` connection (default ``aep_query_service_default``).
    :param database: overrides the connection's database (``<sandbox>:all``, or ``<sandbox>:<table>``).
    """

    conn_name_attr = "aep_query_conn_id"
    default_conn_name = "aep_query_service_default"
    conn_type = AEP_QUERY_CONN_TYPE
    hook_name = AEP_QUERY_CONNECTION_TYPE["hook-name"]
    supports_executemany = False  # Query Service has no UPDATE, and INSERT VALUES is not its way to write data

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parameters: dict[str, Any] | None = None

    # ------------------------------------------------------------------ where to connect
    @cached_property
    def aep_hook(self) -> AEPFlowServiceHook:
        """The ``adobe_experience_platform`` hook whose IMS token signs in (extra ``aep_conn_id``)."""
        from airflow_provider_aep.hooks.flow_service import AEPFlowServiceHook

        name = self.connection.extra_dejson.get("aep_conn_id") or DEFAULT_AEP_CONN_ID
        if not isinstance(name, str):
            conn_id = getattr(self, self.conn_name_attr)
            raise AEPConnectionConfigError(conn_id, "aep_conn_id", f"must be a connection id, got {name!r}")
        return AEPFlowServiceHook(aep_conn_id=name)

    def _redact(self, text: str) -> str:
        return self.aep_hook.platform.redact(text) if "aep_hook" in self.__dict__ else text

    def connection_arguments(self) -> dict[str, Any]:
        """The driver's ``connect()`` keywords for a new connection: read now, with a token valid now."""
        conn = self.connection
        client = self.aep_hook.query_service
        params = client.connection_parameters()
        self._parameters = {k: v for k, v in params.items() if k not in ("token", "compressedToken")}
        password = conn.password or client.auth.token()  # after the call above: a token the service just took
        mask_secret(password)
        client.add_secret(password)
        host = str(params["host"])
        arguments: dict[str, Any] = {
            "host": host,
            "port": int(params["port"]),
            "dbname": self.database or conn.schema or str(params["dbName"]),
            "user": conn.login or str(params["username"]),
            "password": password,
            "sslmode": "prefer" if is_loopback(host) else "require",
            "connect_timeout": max(1, int(self.aep_hook.settings.connect_timeout)),
            "application_name": "airflow-provider-aep",
        }
        return arguments

    def get_conn(self) -> Any:
        """A new database connection to Query Service (see the module docstring for where each value comes from)."""
        arguments = self.connection_arguments()
        raw_cursor = self.connection.extra_dejson.get("cursor")
        if raw_cursor:
            key, value = self._get_cursor_config(raw_cursor)
            arguments[key] = value
        try:
            self.conn = self._create_connection(arguments)
        except Exception as err:
            # libpq does not echo the password, but a proxy or driver message might: never let it out
            text = self._redact(str(err)).replace(str(arguments["password"]), "***")
            raise type(err)(text) if type(err).__module__.startswith("psycopg") else RuntimeError(text) from None
        return self.conn

    # ------------------------------------------------------------------ rows as a stream
    def iter_records(
        self, sql: str, parameters: Iterable[Any] | Mapping[str, Any] | None = None, *, batch_size: int = 10_000
    ) -> Iterator[Any]:
        """The rows of one query as they arrive, ``batch_size`` at a time, from a server-side cursor (``DECLARE``
        then ``FETCH FORWARD``): the worker holds one batch, where ``get_records`` and ``get_df`` hold the whole
        result. The query runs on a connection of its own, closed when the rows run out or the loop stops early.
        Query Service still returns at most 50,000 rows to a PostgreSQL client unless the query says ``LIMIT 0``.

        :param sql: one query that returns rows.
        :param parameters: its driver parameters (``%s`` / ``%(name)s``).
        :param batch_size: rows per ``FETCH`` (at least 1).
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a whole number of rows, at least 1, got {batch_size!r}")
        return self._fetch_in_batches(sql, parameters, batch_size)  # checked above, at the call, not at first row

    def _fetch_in_batches(self, sql: str, parameters: Any, batch_size: int) -> Iterator[Any]:
        conn = self.get_conn()
        try:
            with conn.cursor(name=f"aep_rows_{uuid.uuid4().hex[:12]}") as cursor:
                cursor.itersize = batch_size  # psycopg2 and psycopg 3 both FETCH this many rows per round trip
                cursor.execute(sql, parameters)
                yield from cursor
        finally:
            conn.close()  # a read-only transaction: closing it ends it and the cursor with it

    @property
    def sqlalchemy_url(self) -> URL:
        """The same target as :meth:`get_conn`, for ``get_sqlalchemy_engine``/``get_df`` through SQLAlchemy."""
        from sqlalchemy.engine import URL

        arguments = self.connection_arguments()
        return URL.create(
            drivername=self.sqlalchemy_scheme,
            username=arguments["user"],
            password=arguments["password"],
            host=arguments["host"],
            port=arguments["port"],
            database=arguments["dbname"],
            query={"sslmode": arguments["sslmode"]},
        )

    def get_uri(self) -> str:
        """Without the password: a URI is for display and lineage, and the token expires anyway."""
        url = self.sqlalchemy_url
        return url.set(password=None).render_as_string(hide_password=True)

    @property
    def parameters(self) -> Mapping[str, Any]:
        """The last ``connection_parameters`` answer (without the token), read on first use."""
        if self._parameters is None:
            self.connection_arguments()
        assert self._parameters is not None
        return self._parameters

    # ------------------------------------------------------------------ OpenLineage (common-sql reads these)
    def get_openlineage_database_info(self, connection: Any) -> DatabaseInfo:
        """``postgres://<Query Service host>:<port>``, database ``<sandbox>:all``, tables in ``public``."""
        from airflow.providers.openlineage.sqlparser import DatabaseInfo

        params = self.parameters
        return DatabaseInfo(
            scheme="postgres",
            authority=f"{params['host']}:{params['port']}",
            database=self.database or connection.schema or str(params["dbName"]),
        )

    def get_openlineage_database_dialect(self, connection: Any) -> str:
        return "postgres"

    def get_openlineage_default_schema(self) -> str | None:
        """Always ``public`` (no round trip: Query Service has no search path to change)."""
        return DEFAULT_SCHEMA

    # ------------------------------------------------------------------ the connection form
    def test_connection(self) -> tuple[bool, str]:  # type: ignore[override]  # common-sql declares None
        """Sign in and run ``SELECT 1``."""
        try:
            self.get_first("SELECT 1")
        except Exception as err:
            return False, self._redact(str(err))
        return True, f"Connected to Query Service at {self.parameters['host']}:{self.parameters['port']}"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return legacy_ui_field_behaviour(AEP_QUERY_CONNECTION_TYPE)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        return legacy_form_widgets(AEP_QUERY_CONNECTION_TYPE)


__all__ = ["AEPQueryServiceHook"]
