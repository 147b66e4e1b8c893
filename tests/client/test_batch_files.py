"""Cutting inputs into batch files: record boundaries, CSV headers and quotes, limits named by argument."""

from __future__ import annotations

import csv
import io
import json
import random

import pytest

from airflow_provider_aep.client.batch_files import PlanError, Source, part_reader, plan_digest, plan_parts


def source(name: str, data: bytes) -> Source:
    return Source(name, len(data), lambda: io.BytesIO(data))


def read_parts(sources, parts) -> list[bytes]:
    out = []
    for part in parts:
        reader = part_reader(sources[part.source], part)
        chunks = iter(lambda r=reader: r.read(7), b"")
        data = b"".join(chunks)
        assert len(data) == part.size == len(reader)
        out.append(data)
    return out


def json_lines(count: int) -> bytes:
    rng = random.Random(7)
    return b"".join(json.dumps({"i": i, "pad": "x" * rng.randint(0, 60)}).encode() + b"\n" for i in range(count))


@pytest.mark.parametrize("chunk_size", [120, 333, 4096, 10**6])
def test_json_lines_are_cut_at_newlines_into_parts_no_larger_than_the_chunk(chunk_size):
    data = json_lines(400)
    sources = [source("exports/customers.json", data)]
    parts = plan_parts(sources, "json", chunk_size)
    pieces = read_parts(sources, parts)
    assert b"".join(pieces) == data
    assert all(len(p) <= chunk_size and p.endswith(b"\n") for p in pieces)
    if len(parts) > 1:
        assert parts[0].name == "customers.part-00001.json"
    else:
        assert parts[0].name == "customers.json"


@pytest.mark.parametrize("chunk_size", [120, 700, 10**6])
def test_csv_parts_repeat_the_header_and_never_cut_a_quoted_newline(chunk_size):
    rows = [[str(i), f'say "hi" {i}', f"line one\nline two {i}"] for i in range(200)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "quote", "note"])
    writer.writerows(rows)
    data = buffer.getvalue().encode()
    sources = [source("c.csv", data)]
    pieces = read_parts(sources, plan_parts(sources, "csv", chunk_size))
    seen = []
    for piece in pieces:
        assert len(piece) <= chunk_size
        parsed = list(csv.reader(io.StringIO(piece.decode())))
        assert parsed[0] == ["id", "quote", "note"]
        seen.extend(parsed[1:])
    assert seen == rows


def test_arrays_and_parquet_over_the_chunk_stay_whole_for_the_large_file_calls():
    array = json.dumps([{"i": i} for i in range(100)]).encode()
    parquet = b"PAR1" + b"\0" * 500 + b"PAR1"
    assert [(p.large, p.size) for p in plan_parts([source("a.json", array)], "json", 100, multiline_json=True)] == [
        (True, len(array))
    ]
    assert [(p.large, p.size) for p in plan_parts([source("p.parquet", parquet)], "parquet", 100)] == [
        (True, len(parquet))
    ]


@pytest.mark.parametrize(
    ("inputs", "file_format", "chunk_size", "argument", "words"),
    [
        ([], "json", 100, "files", "at least one"),
        ([("e.json", b"")], "json", 100, "files", "empty"),
        ([("a.json", b'[{"i": 1}]')], "json", 100, "files", "JSON lines"),
        ([("p.parquet", b"not parquet")], "parquet", 100, "files", "PAR1"),
        ([("h.csv", b"\na,b\n")], "csv", 100, "files", "header"),
        ([("long.json", b'{"i": "' + b"x" * 200 + b'"}\n' * 2)], "json", 100, "chunk_size", "longer than"),
        ([(f"f{i}.json", b'{"i": 1}\n') for i in range(1501)], "json", 100, "chunk_size", "1500"),
    ],
)
def test_input_aep_would_refuse_is_refused_before_any_call_naming_the_argument(
    inputs, file_format, chunk_size, argument, words
):
    with pytest.raises(PlanError) as caught:
        plan_parts([source(n, d) for n, d in inputs], file_format, chunk_size)
    assert caught.value.argument == argument
    assert words in str(caught.value)


def test_same_input_same_plan_and_digest_other_input_other_digest():
    data = json_lines(50)
    sources = [source("x.json", data), source("other/x.json", data)]
    first = plan_parts(sources, "json", 500)
    assert plan_parts(sources, "json", 500) == first
    assert len({p.name for p in first}) == len(first)  # two inputs with one base name get distinct names
    changed = [source("x.json", data + b'{"i": 9}\n'), sources[1]]
    assert plan_digest(first, sources) == plan_digest(plan_parts(sources, "json", 500), sources)
    assert plan_digest(first, sources) != plan_digest(plan_parts(changed, "json", 500), changed)
