"""How a batch's input files become the files AEP receives: split at record boundaries, each part a byte range.

Batch Ingestion takes at most 256 MB in one PUT, so an input larger than the chunk size is cut into parts of at
most that size. JSON lines and CSV are cut at record boundaries (a CSV part repeats the header, so every part is a
file of its own); a JSON array or a Parquet file cannot be cut without rewriting it, so it stays one file and goes
up through the large-file calls, ``chunk_size`` bytes per PATCH. Nothing is read whole: boundaries are found by
seeking (JSON lines) or by one streamed pass counting quotes (CSV), and a part is sent as a :class:`PartReader`
over its byte range.

The plan depends only on the inputs' names, sizes and bytes, so a retry that plans again gets the same parts with
the same names, and :func:`plan_digest` tells whether it is still the same input.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import IO, Literal

FileFormat = Literal["json", "csv", "parquet"]
FILE_FORMATS: tuple[FileFormat, ...] = ("json", "csv", "parquet")
MB = 1024 * 1024
MAX_PUT_BYTES = 256 * MB
"""Adobe's size threshold of one small-file PUT (gateway limits)."""
MAX_PATCH_BYTES = 512_000_000
"""The largest range one large-file PATCH may carry (the spec's ``0-512000000``)."""
MAX_FILES_PER_BATCH = 1500
MAX_BATCH_BYTES = 100 * 1024 * MB
"""100 GB, Adobe's largest batch."""
_SCAN_BLOCK = 4 * MB
_EXTENSIONS = {"json": ".json", "csv": ".csv", "parquet": ".parquet"}


class PlanError(ValueError):
    """An input that cannot be ingested as asked; ``argument`` names the operator argument to fix."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(message)
        self.argument = argument


@dataclass(frozen=True)
class Source:
    """One input: a display name, its size and a way to open it (binary, seekable) as often as needed."""

    name: str
    size: int
    open: Callable[[], IO[bytes]]


@dataclass(frozen=True)
class Part:
    """One file of the batch: ``length`` bytes of input ``source`` from ``offset``, after ``header``.

    ``large`` parts (inputs that cannot be cut) go up through INITIALIZE / PATCH / COMPLETE.
    """

    name: str
    source: int
    offset: int
    length: int
    header: bytes = b""
    large: bool = False

    @property
    def size(self) -> int:
        return len(self.header) + self.length


class PartReader:
    """A file object over ``header`` + ``length`` bytes of ``stream`` from ``offset`` (what ``requests`` streams).

    It has a length and no ``fileno``, so ``requests`` sends ``Content-Length`` and reads it block by block.
    """

    def __init__(self, stream: IO[bytes], offset: int, length: int, header: bytes = b"") -> None:
        self._stream = stream
        self._header = header
        self._left = length
        self._length = len(header) + length
        stream.seek(offset)

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        out = b""
        if self._header:
            take = len(self._header) if size < 0 else min(size, len(self._header))
            out, self._header = self._header[:take], self._header[take:]
            if size >= 0:
                size -= take
        if self._left > 0 and size != 0:
            want = self._left if size < 0 else min(size, self._left)
            data = self._stream.read(want)
            self._left -= len(data)
            out += data
        return out

    def close(self) -> None:
        self._stream.close()


def part_reader(source: Source, part: Part, offset: int | None = None, length: int | None = None) -> PartReader:
    """A reader of ``part`` (or of ``length`` bytes of a large part from ``offset``), opening its input."""
    if offset is None:
        return PartReader(source.open(), part.offset, part.length, part.header)
    return PartReader(source.open(), part.offset + offset, part.length - offset if length is None else length)


def _first_bytes(source: Source, count: int = 4096) -> bytes:
    with source.open() as stream:
        return stream.read(count)


def _check_content(source: Source, file_format: FileFormat, multiline_json: bool) -> None:
    head = _first_bytes(source)
    if file_format == "parquet":
        if not head.startswith(b"PAR1"):
            raise PlanError("files", f"{source.name} is not a Parquet file (no PAR1 magic bytes)")
        return
    text = head.lstrip()
    if not text:
        raise PlanError("files", f"{source.name} holds only whitespace")
    if file_format == "json":
        expected = b"[" if multiline_json else b"{"
        if text[:1] != expected:
            shape = "a JSON array" if multiline_json else "JSON lines (one object per line)"
            raise PlanError("files", f"{source.name} is not {shape}: it starts with {text[:20]!r}")
    elif head.split(b"\n", 1)[0].strip(b"\r\n\t ,") == b"":
        raise PlanError("files", f"{source.name} has an empty CSV header row")


def _line_cuts(source: Source, chunk_size: int) -> list[int]:
    """Offsets where JSON-lines parts start: the byte after the last newline within each ``chunk_size`` window."""
    cuts = [0]
    with source.open() as stream:
        while source.size - cuts[-1] > chunk_size:
            window_end = cuts[-1] + chunk_size
            back = min(chunk_size, _SCAN_BLOCK)
            stream.seek(window_end - back)
            block = stream.read(back)
            newline = block.rfind(b"\n")
            position = window_end - back
            while newline < 0 and position > cuts[-1]:
                step = min(_SCAN_BLOCK, position - cuts[-1])
                position -= step
                stream.seek(position)
                block = stream.read(step)
                newline = block.rfind(b"\n")
            if newline < 0:
                raise PlanError("chunk_size", f"{source.name} has a record longer than chunk_size ({chunk_size} bytes)")
            cuts.append(position + newline + 1)
    return cuts


def _csv_cuts(source: Source, chunk_size: int, header_length: int) -> list[int]:
    """Offsets where CSV parts start, at newlines outside quoted fields (RFC 4180: quotes are doubled, so a
    newline ends a record when the quotes before it are even), each part at most ``chunk_size`` with header."""
    budget = chunk_size - header_length
    if budget <= 0:
        raise PlanError("chunk_size", f"chunk_size ({chunk_size} bytes) leaves no room after the CSV header")
    too_long = PlanError("chunk_size", f"{source.name} has a record longer than chunk_size ({chunk_size} bytes)")
    cuts = [0]
    part_start = last_boundary = header_length  # the current part's first record; the last record end seen
    quotes = 0
    position = header_length
    with source.open() as stream:
        stream.seek(header_length)
        while block := stream.read(_SCAN_BLOCK):
            start = 0
            while (newline := block.find(b"\n", start)) >= 0:
                quotes += block.count(b'"', start, newline)
                start = newline + 1
                if quotes % 2:
                    continue
                boundary = position + start
                if boundary - part_start > budget:
                    if last_boundary == part_start:
                        raise too_long
                    cuts.append(last_boundary)
                    part_start = last_boundary
                last_boundary = boundary
            quotes += block.count(b'"', start)
            position += len(block)
    if source.size - part_start > budget:
        if last_boundary == part_start or source.size - last_boundary > budget:
            raise too_long
        cuts.append(last_boundary)
    return cuts


def _csv_header(source: Source) -> bytes:
    with source.open() as stream:
        line = stream.readline(1 * MB)
    if not line.endswith(b"\n"):
        raise PlanError("files", f"{source.name}: the CSV header row is longer than 1 MB or has no records")
    return line


def _names(sources: Sequence[Source], file_format: FileFormat) -> list[str]:
    """A unique, stable file name per input (its base name, with the input's position when two collide)."""
    bases = [posixpath.basename(s.name.rstrip("/")) or f"input-{i}" for i, s in enumerate(sources)]
    names = []
    for index, base in enumerate(bases):
        stem, ext = posixpath.splitext(base)
        ext = ext or _EXTENSIONS[file_format]
        names.append(f"{stem}-{index + 1}{ext}" if bases.count(base) > 1 else f"{stem}{ext}")
    return names


def _parts_of(index: int, name: str, cuts: list[int], end: int, header: bytes) -> list[Part]:
    """Parts of one input cut at ``cuts`` (the first is 0); every part after the first repeats ``header``."""
    if len(cuts) == 1:
        return [Part(name, index, 0, end)]
    stem, ext = posixpath.splitext(name)
    bounds = [*cuts, end]
    return [
        Part(f"{stem}.part-{n + 1:05d}{ext}", index, bounds[n], bounds[n + 1] - bounds[n], header if n else b"")
        for n in range(len(cuts))
    ]


def plan_parts(
    sources: Sequence[Source], file_format: FileFormat, chunk_size: int, *, multiline_json: bool = False
) -> list[Part]:
    """The batch's files for ``sources``; raises :class:`PlanError` naming the argument for input AEP refuses."""
    if not sources:
        raise PlanError("files", "must name at least one file")
    if sum(s.size for s in sources) > MAX_BATCH_BYTES:
        raise PlanError("files", f"add up to more than Adobe's largest batch ({MAX_BATCH_BYTES} bytes)")
    parts: list[Part] = []
    for index, (source, name) in enumerate(zip(sources, _names(sources, file_format), strict=True)):
        if source.size == 0:
            raise PlanError("files", f"{source.name} is empty (AEP rejects empty files with error 106)")
        _check_content(source, file_format, multiline_json)
        if source.size <= chunk_size:
            parts.append(Part(name, index, 0, source.size))
        elif file_format == "csv":
            header = _csv_header(source)
            cuts = _csv_cuts(source, chunk_size, len(header))
            parts.extend(_parts_of(index, name, cuts, source.size, header))
        elif file_format == "json" and not multiline_json:
            parts.extend(_parts_of(index, name, _line_cuts(source, chunk_size), source.size, b""))
        else:
            parts.append(Part(name, index, 0, source.size, large=True))
    if len(parts) > MAX_FILES_PER_BATCH:
        raise PlanError(
            "chunk_size",
            f"makes {len(parts)} files, more than the {MAX_FILES_PER_BATCH} one batch may hold; raise chunk_size",
        )
    return parts


def plan_digest(parts: Sequence[Part], sources: Sequence[Source]) -> str:
    """A fingerprint of the plan (names, ranges, input sizes): a retry compares it before resuming."""
    described = [{**asdict(p), "header": p.header.hex()} for p in parts]
    payload = json.dumps({"parts": described, "sizes": [s.size for s in sources]}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


__all__ = [
    "FILE_FORMATS",
    "MAX_FILES_PER_BATCH",
    "MAX_PATCH_BYTES",
    "MAX_PUT_BYTES",
    "FileFormat",
    "Part",
    "PartReader",
    "PlanError",
    "Source",
    "part_reader",
    "plan_digest",
    "plan_parts",
]
