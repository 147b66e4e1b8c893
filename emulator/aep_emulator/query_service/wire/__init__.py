"""Query Service's PostgreSQL endpoint: a small threaded server speaking protocol 3.0 on 127.0.0.1, next to the
HTTP server (started and stopped with the app's lifespan). Written here rather than on ``buenavista`` because
the password must be checked against the emulator's IMS tokens, the database name mapped to a sandbox, and
``SHOW TABLES``/``SET``/``SHOW`` answered the way Query Service does (see the emulator README).

TLS: an ``SSLRequest`` is answered with TLS using a self-signed certificate for 127.0.0.1 made at start when
``cryptography`` is importable (drivers default to ``sslmode=prefer``; Adobe requires TLS), else with ``N``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import logging
import socket
import ssl
import tempfile
import threading
from pathlib import Path

from ...core.state import EmulatorState
from ..wire_address import set_address
from .session import Connection

log = logging.getLogger(__name__)
HOST = "127.0.0.1"


def self_signed_context(directory: Path) -> ssl.SSLContext | None:
    """A server TLS context with a fresh certificate for 127.0.0.1 (``None`` without ``cryptography``)."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        return None
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "pg.crt", directory / "pg.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


class PgEndpoint:
    """The PostgreSQL endpoint of one emulator.

    :param state: the emulator state whose tokens, sandboxes and datasets it serves.
    :param port: the port on 127.0.0.1; 0 lets the OS pick a free one.
    """

    def __init__(self, state: EmulatorState, port: int = 0) -> None:
        self.state = state
        self.port = port
        self.address: tuple[str, int] | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[Connection] = set()
        self._lock = threading.Lock()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._tls: ssl.SSLContext | None = None

    def start(self) -> None:
        if self._sock is not None:
            return
        self._tmp = tempfile.TemporaryDirectory(prefix="aep-emulator-pg-")
        self._tls = self_signed_context(Path(self._tmp.name))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, self.port))
        sock.listen(64)
        self._sock = sock
        self.address = (HOST, sock.getsockname()[1])
        set_address(self.state, self.address)
        self._thread = threading.Thread(target=self._accept, name=f"aep-emulator-pg-{self.address[1]}", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        assert self._sock is not None
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:  # closed by stop()
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = Connection(client, self.state, self._tls)
            with self._lock:
                self._connections.add(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: Connection) -> None:
        try:
            connection.serve()
        except Exception:  # a bug must not kill the endpoint; the client sees its connection close
            log.exception("query service: PostgreSQL connection failed")
        finally:
            with self._lock:
                self._connections.discard(connection)

    def stop(self) -> None:
        """Stop listening and close every open connection."""
        sock, self._sock = self._sock, None
        if sock is None:
            return
        set_address(self.state, None)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)
                connection.sock.close()
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(5)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


__all__ = ["HOST", "PgEndpoint"]
