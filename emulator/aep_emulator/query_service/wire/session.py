"""One PostgreSQL client connection: startup (SSLRequest answered with TLS when a certificate is available,
GSSENCRequest refused), cleartext-password authentication against the emulator's IMS tokens, then the simple
query protocol (several statements per message) and the extended one (Parse/Bind/Describe/Execute/Sync).

Rows are sent as they are fetched from DuckDB (``fetchmany``), with the socket flushed every chunk, so a large
result never sits whole in memory. Errors carry SQLSTATE codes; after an error in the extended protocol the
messages up to the next Sync are skipped, as PostgreSQL does.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import ssl
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...core.state import EmulatorState
from .. import sql as sqltext
from ..sql import SqlError, Statement
from . import protocol
from .statements import REPORTED, Result, SessionState, default_settings, describe, run

log = logging.getLogger(__name__)
_FLUSH_BYTES = 64 * 1024


class Disconnect(Exception):
    """The client went away (or must be sent away)."""


@dataclass
class Portal:
    """A bound statement: its parameters and, once started, its result (rows are pulled on Execute)."""

    statement: Statement
    params: list[Any]
    result: Result | None = None
    sent: int = 0


@dataclass
class Prepared:
    statement: Statement
    oids: list[int]
    count: int


@dataclass(eq=False)
class Connection:
    """The protocol conversation on one socket (``serve`` runs until the client terminates)."""

    sock: socket.socket
    state: EmulatorState
    tls: ssl.SSLContext | None
    out: bytearray = field(default_factory=bytearray)
    session: SessionState | None = None
    prepared: dict[str, Prepared] = field(default_factory=dict)
    portals: dict[str, Portal] = field(default_factory=dict)
    skipping: bool = False

    # -- bytes ------------------------------------------------------------------------------------------
    def _read(self, n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise Disconnect()
            data += chunk
        return bytes(data)

    def _message(self) -> tuple[bytes, bytes]:
        header = self._read(5)
        length = struct.unpack("!i", header[1:])[0]
        return header[:1], self._read(length - 4)

    def send(self, data: bytes) -> None:
        self.out += data
        if len(self.out) >= _FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.out:
            self.sock.sendall(bytes(self.out))
            self.out.clear()

    def fatal(self, code: str, text: str) -> Disconnect:
        self.send(protocol.error(code, text, "FATAL"))
        self.flush()
        return Disconnect()

    # -- startup ----------------------------------------------------------------------------------------
    def _startup(self) -> dict[str, str]:
        while True:
            length = struct.unpack("!i", self._read(4))[0]
            body = self._read(length - 4)
            code = struct.unpack("!i", body[:4])[0]
            if code == protocol.SSL_REQUEST:
                if self.tls is None:
                    self.sock.sendall(b"N")
                else:
                    self.sock.sendall(b"S")
                    self.sock = self.tls.wrap_socket(self.sock, server_side=True)
                continue
            if code == protocol.GSSENC_REQUEST:
                self.sock.sendall(b"N")
                continue
            if code == protocol.CANCEL_REQUEST:
                raise Disconnect()  # queries run to completion; a cancel request has nothing to stop
            if code != protocol.PROTOCOL_3:
                raise self.fatal("08P01", f"Unsupported frontend protocol {code >> 16}.{code & 0xFFFF}")
            parts = body[4:].split(b"\x00")
            return {parts[i].decode(): parts[i + 1].decode() for i in range(0, len(parts) - 1, 2) if parts[i]}

    def _authenticate(self, params: dict[str, str]) -> SessionState:
        self.send(protocol.authentication(3))  # AuthenticationCleartextPassword, the only method offered
        self.flush()
        kind, payload = self._message()
        if kind != b"p":
            raise self.fatal("28000", "Invalid authorization type: expected a cleartext password message")
        password = payload.rstrip(b"\x00").decode(errors="replace")
        with self.state.lock:
            token = self.state.valid_token(password)
        if token is None:
            raise self.fatal("28P01", "Invalid password: the IMS access token is not valid or has expired")
        user = params.get("user", "")
        if not user.endswith("@AdobeOrg"):
            raise self.fatal("28000", f"Invalid user '{user}': expected the organization id (<id>@AdobeOrg)")
        database = params.get("database", "")
        sandbox, _, scope = database.partition(":")
        allowed = self.state.config.sandboxes
        if scope != "all" or not sandbox or (allowed is not None and sandbox not in allowed):
            raise self.fatal("42P12", f"No tables found for dbName '{database}': expected '<sandbox>:all'")
        return SessionState(self.state, user, sandbox, token.client_id, default_settings(params))

    # -- the conversation -------------------------------------------------------------------------------
    def serve(self) -> None:
        try:
            params = self._startup()
            self.session = self._authenticate(params)
            self.send(protocol.authentication(0))
            for name in REPORTED:
                self.send(protocol.parameter_status(name, self.session.settings[name]))
            self.send(protocol.message(b"K", struct.pack("!ii", id(self) & 0x7FFFFFFF, 0)))
            self.send(protocol.ready("I"))
            self.flush()
            while True:
                kind, payload = self._message()
                if kind == b"X":
                    return
                self._dispatch(kind, payload)
        except (Disconnect, ConnectionError, ssl.SSLError, OSError):
            return
        finally:
            if self.session is not None:
                self.session.close_cursors(keep_held=False)
            with contextlib.suppress(OSError):
                self.sock.close()

    def _dispatch(self, kind: bytes, payload: bytes) -> None:
        if kind == b"Q":
            self._simple(payload.rstrip(b"\x00").decode())
            return
        if kind == b"S":
            self.skipping = False
            self.send(protocol.ready(self._status()))
            self.flush()
            return
        if kind == b"H":
            self.flush()
            return
        if self.skipping:
            return
        handler = {b"P": self._parse, b"B": self._bind, b"D": self._describe, b"E": self._execute, b"C": self._close}
        try:
            if kind not in handler:
                raise SqlError("08P01", f"Unsupported message type {kind!r}")
            handler[kind](payload)
        except SqlError as exc:
            self._error(exc)
            self.skipping = True

    def _status(self) -> str:
        assert self.session is not None
        return self.session.transaction

    def _error(self, exc: SqlError) -> None:
        self.send(protocol.error(exc.code, exc.message))
        assert self.session is not None
        if self.session.transaction == "T":
            self.session.transaction = "E"

    # -- simple query -----------------------------------------------------------------------------------
    def _simple(self, text: str) -> None:
        statements = sqltext.split(text)
        if not statements:
            self.send(protocol.message(b"I"))
        for piece in statements:
            statement = sqltext.classify(piece)
            try:
                result = self._run(statement, [])
                if result.columns is not None:
                    self.send(protocol.row_description(result.columns))
                self._send_rows(result, statement, 0)
            except SqlError as exc:
                self._error(exc)
                break
        self.send(protocol.ready(self._status()))
        self.flush()

    def _run(self, statement: Statement, params: Sequence[Any]) -> Result:
        assert self.session is not None
        try:
            return run(self.session, statement, params)
        except SqlError as exc:
            self.session.record(statement.text, statement, 0, exc)
            raise

    def _send_rows(self, result: Result, statement: Statement, limit: int, portal: Portal | None = None) -> None:
        """Up to ``limit`` rows (0: all), then CommandComplete, or PortalSuspended when rows remain."""
        assert self.session is not None
        auto_json = self.session.auto_to_json
        sent = 0
        if result.rows is not None:
            try:
                for row in result.rows:
                    self.send(protocol.encode_row(row, auto_json))
                    sent += 1
                    if limit and sent >= limit:
                        break
            except SqlError as exc:
                self.session.record(statement.text, statement, sent, exc)
                raise
            total = sent + (portal.sent if portal else 0)
            if limit and sent >= limit:
                if portal is not None:
                    portal.sent = total
                self.send(protocol.message(b"s"))
                return
            tag = protocol.command_tag(result.word, total) if result.tag in ("SELECT", "SHOW", "FETCH") else result.tag
            self.session.record(statement.text, statement, total, None)
            self.send(protocol.command_complete(tag))
            return
        self.session.record(statement.text, statement, result.count, None)
        self.send(protocol.command_complete(result.tag))

    # -- extended query ---------------------------------------------------------------------------------
    def _parse(self, payload: bytes) -> None:
        name, rest = _cstring(payload)
        query, rest = _cstring(rest)
        count = struct.unpack("!h", rest[:2])[0]
        oids = list(struct.unpack(f"!{count}i", rest[2 : 2 + 4 * count])) if count else []
        statements = sqltext.split(query)
        if len(statements) > 1:
            raise SqlError("42601", "cannot insert multiple commands into a prepared statement")
        statement = sqltext.classify(statements[0] if statements else "")
        used = max((int(n) for n in _placeholders(query)), default=0)
        self.prepared[name] = Prepared(statement, oids + [0] * max(0, used - len(oids)), used)
        self.send(protocol.message(b"1"))

    def _bind(self, payload: bytes) -> None:
        portal_name, rest = _cstring(payload)
        name, rest = _cstring(rest)
        prepared = self.prepared.get(name)
        if prepared is None:
            raise SqlError("26000", f'prepared statement "{name}" does not exist')
        nformats = struct.unpack("!h", rest[:2])[0]
        formats = list(struct.unpack(f"!{nformats}h", rest[2 : 2 + 2 * nformats]))
        rest = rest[2 + 2 * nformats :]
        nparams = struct.unpack("!h", rest[:2])[0]
        rest = rest[2:]
        values: list[Any] = []
        for i in range(nparams):
            length = struct.unpack("!i", rest[:4])[0]
            raw = None if length < 0 else rest[4 : 4 + length]
            rest = rest[4 + max(length, 0) :]
            binary = (formats[i] if len(formats) > 1 else (formats[0] if formats else 0)) == 1
            oid = prepared.oids[i] if i < len(prepared.oids) else 0
            values.append(protocol.decode_parameter(raw, oid, binary))
        self.portals[portal_name] = Portal(prepared.statement, values)
        self.send(protocol.message(b"2"))

    def _describe(self, payload: bytes) -> None:
        assert self.session is not None
        target, name = payload[:1], payload[1:].rstrip(b"\x00").decode()
        if target == b"S":
            prepared = self.prepared.get(name)
            if prepared is None:
                raise SqlError("26000", f'prepared statement "{name}" does not exist')
            self.send(protocol.parameter_description([o or protocol.TEXT_OID for o in prepared.oids]))
            columns = describe(self.session, prepared.statement, prepared.count)
        elif name not in self.portals and name in self.session.cursors:
            columns = self.session.cursors[name].columns  # a declared cursor is a portal too (psycopg 3 asks)
        else:
            portal = self._portal(name)
            if portal.result is None:
                portal.result = self._run(portal.statement, portal.params)
            columns = portal.result.columns
        self.send(protocol.message(b"n") if columns is None else protocol.row_description(columns))

    def _portal(self, name: str) -> Portal:
        portal = self.portals.get(name)
        if portal is None:
            raise SqlError("34000", f'portal "{name}" does not exist')
        return portal

    def _execute(self, payload: bytes) -> None:
        name, rest = _cstring(payload)
        limit = struct.unpack("!i", rest[:4])[0]
        portal = self._portal(name)
        if not portal.statement.text.strip():
            self.send(protocol.message(b"I"))
            return
        if portal.result is None:
            portal.result = self._run(portal.statement, portal.params)
        self._send_rows(portal.result, portal.statement, max(limit, 0), portal)

    def _close(self, payload: bytes) -> None:
        target, name = payload[:1], payload[1:].rstrip(b"\x00").decode()
        (self.prepared if target == b"S" else self.portals).pop(name, None)
        self.send(protocol.message(b"3"))


def _cstring(data: bytes) -> tuple[str, bytes]:
    end = data.index(b"\x00")
    return data[:end].decode(), data[end + 1 :]


def _placeholders(query: str) -> list[str]:
    return re.findall(r"\$(\d+)", query)
