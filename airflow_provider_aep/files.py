"""The ``files`` argument of the batch operator as :class:`~airflow_provider_aep.client.batch_files.Source`s.

A local path (``str`` or ``os.PathLike``) or a ``file://`` URI is opened directly; an ``ObjectStoragePath`` or
any other URI (``s3://bucket/key``, ``gs://...``) goes through Airflow's object storage (fsspec), with
``storage_conn_id`` for URIs given as text. Each input is checked (exists, is a file) before anything is sent.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from airflow_provider_aep.client.batch_files import Source


class FileArgumentError(ValueError):
    """An input of ``files`` that cannot be read."""


def _local(path: str) -> Source:
    if not os.path.exists(path):
        raise FileArgumentError(f"{path} does not exist")
    if not os.path.isfile(path):
        raise FileArgumentError(f"{path} is not a file")
    return Source(name=path, size=os.path.getsize(path), open=lambda: open(path, "rb"))


def _object_storage(path: Any) -> Source:
    try:
        exists = path.exists()
    except Exception as err:  # a missing bucket, no credentials: say which input
        raise FileArgumentError(f"{path} cannot be read: {type(err).__name__}: {err}") from None
    if not exists:
        raise FileArgumentError(f"{path} does not exist")
    if not path.is_file():
        raise FileArgumentError(f"{path} is not a file")
    return Source(name=str(path), size=int(path.stat().st_size), open=lambda: path.open("rb"))


def as_source(item: Any, storage_conn_id: str | None = None) -> Source:
    """One input as a source; raises :class:`FileArgumentError` for anything unreadable."""
    if hasattr(item, "protocol") and hasattr(item, "open"):  # an ObjectStoragePath (a PathLike on some versions)
        return _object_storage(item)
    if isinstance(item, os.PathLike):
        return _local(os.fspath(item))
    if isinstance(item, str):
        text = item.strip()
        if not text:
            raise FileArgumentError("an empty path")
        if "://" not in text:
            return _local(text)
        parts = urlsplit(text)
        if parts.scheme == "file":
            return _local(unquote(parts.path))
        from airflow.sdk import ObjectStoragePath

        return _object_storage(ObjectStoragePath(text, conn_id=storage_conn_id))
    if hasattr(item, "open") and hasattr(item, "stat") and hasattr(item, "exists"):
        return _object_storage(item)
    raise FileArgumentError(f"{item!r} is not a path, a URI or an ObjectStoragePath")


def as_sources(files: Any, storage_conn_id: str | None = None) -> list[Source]:
    """Every input of ``files`` (one item or a list of them)."""
    items: Sequence[Any] = files if isinstance(files, (list, tuple)) else [files]
    return [as_source(item, storage_conn_id) for item in items]


def lineage_location(source: Source) -> tuple[str, str]:
    """``(namespace, name)`` of an input for OpenLineage: ``file`` + absolute path, or ``scheme://bucket`` + key."""
    if "://" not in source.name:
        return "file", os.path.abspath(source.name)
    parts = urlsplit(source.name)
    return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/") or "/"


__all__ = ["FileArgumentError", "as_source", "as_sources", "lineage_location"]
