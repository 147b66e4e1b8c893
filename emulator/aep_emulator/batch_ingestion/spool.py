"""Uploaded batch files on disk: one temporary directory per emulator state, removed on reset and shutdown.

Uploads, large-file parts, stitched files and the failed-record files processing writes live here, never in
Python memory; batch documents only keep the spool keys (file names) and sizes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

#: Chunk size when copying or streaming spooled files.
CHUNK = 1024 * 1024


class Spool:
    """A directory of spooled files, shared by every sandbox (``state.backend(Spool)``).

    :param state: the emulator state (unused; the signature of a state backend factory).
    """

    def __init__(self, state: Any = None) -> None:
        self._dir: tempfile.TemporaryDirectory[str] | None = tempfile.TemporaryDirectory(prefix="aep-emulator-spool-")

    @property
    def root(self) -> Path:
        if self._dir is None:
            raise RuntimeError("the spool is closed")
        return Path(self._dir.name)

    def path(self, key: str) -> Path:
        """The file of ``key`` (keys are generated names, never client paths)."""
        return self.root / key

    def write(self, data: bytes) -> str:
        """Store ``data`` in a new file; returns its key."""
        key = uuid.uuid4().hex
        with open(self.path(key), "wb") as handle:
            handle.write(data)
        return key

    def stitch(self, keys: Iterable[str]) -> tuple[str, int]:
        """Concatenate the files of ``keys`` into a new file (streamed chunk by chunk); returns ``(key, size)``."""
        key = uuid.uuid4().hex
        with open(self.path(key), "wb") as out:
            for part in keys:
                with open(self.path(part), "rb") as source:
                    shutil.copyfileobj(source, out, CHUNK)
            size = out.tell()
        return key, size

    def writer(self) -> tuple[str, IO[bytes]]:
        """A new file open for writing (the caller closes it): ``(key, handle)``."""
        key = uuid.uuid4().hex
        return key, open(self.path(key), "wb")

    def size(self, key: str) -> int:
        return os.path.getsize(self.path(key))

    def remove(self, key: str) -> None:
        if self._dir is not None:
            self.path(key).unlink(missing_ok=True)

    def chunks(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The bytes of ``key`` from ``start`` (``length`` of them, or to the end), chunk by chunk."""
        try:
            handle = open(self.path(key), "rb")  # noqa: SIM115 - closed below, also when the reader stops early
        except (OSError, RuntimeError):
            return  # removed meanwhile (reset): the answer ends early
        with handle:
            handle.seek(start)
            left = length
            while left is None or left > 0:
                data = handle.read(CHUNK if left is None else min(CHUNK, left))
                if not data:
                    return
                if left is not None:
                    left -= len(data)
                yield data

    def close(self) -> None:
        """Delete every spooled file (on reset and at shutdown)."""
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
