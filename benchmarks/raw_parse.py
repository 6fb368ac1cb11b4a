#!/usr/bin/env python
"""Benchmark: raw-store gunzip and JSON parse candidates on the same bytes (issue 14).

Input: one day from the ``pipeline_write.py`` generator (Motive locations and Samsara stats
as the raw store holds them, one shard). Every candidate gets the same bytes; "exact" means
the candidate's output equals the reference: for gunzip ``gzip.decompress``'s bytes, for the
parse the table of Arrow's reader (``arrow_ndjson_table``: values, nulls, row order, types).
Wall and CPU seconds (process time: all threads) are the best of ``--repeat`` runs; on a
shared machine CPU seconds are the steadier figure.

Candidates that need a package that is not installed are reported as skipped
(``pip install msgspec pysimdjson zlib-ng`` for all of them; polars comes with the test extra).

    python benchmarks/raw_parse.py --rows 1000000
"""

from __future__ import annotations

import argparse
import gzip
import io
import itertools
import operator
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyarrow as pa  # noqa: E402

from fleet_assets.transforms.wire import (  # noqa: E402
    MOTIVE_LOCATION_SCHEMA,
    SAMSARA_STATS_SCHEMA,
    arrow_ndjson_table,
    duckdb_ndjson_table,
)


def _best(fn, repeat: int):
    wall, cpu, out = [], [], None
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        out = fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu), out


# ------------------------------------------------------------------ gunzip candidates


def gunzip_candidates() -> dict:
    out = {"gzip.decompress (stdlib, before)": gzip.decompress}
    try:
        from isal import igzip

        out["isal.igzip.decompress (kept)"] = igzip.decompress
    except ImportError:
        out["isal.igzip.decompress (kept)"] = None
    try:
        from zlib_ng import gzip_ng

        out["zlib_ng.gzip_ng.decompress"] = gzip_ng.decompress
    except ImportError:
        out["zlib_ng.gzip_ng.decompress"] = None
    return out


# ------------------------------------------------------------------ parse candidates


def _msgspec_parser(schema: pa.Schema):
    """msgspec typed Structs (gc=False) decoded per line, then one Arrow array per leaf field."""
    import msgspec
    import numpy as np

    def py_type(t: pa.DataType, name: str):
        if pa.types.is_struct(t):
            return struct_type(t, name)
        if pa.types.is_list(t):
            return list[py_type(t.value_type, name + "_item")]
        return {pa.string(): str, pa.float64(): float, pa.int64(): int, pa.bool_(): bool}[t]

    def struct_type(t: pa.StructType, name: str):
        fields = [(f"f{i}", py_type(f.type, f"{name}_{i}") | None, None) for i, f in enumerate(t)]
        return msgspec.defstruct(name, fields, rename={f"f{i}": f.name for i, f in enumerate(t)}, gc=False)

    def build(values: list, t: pa.DataType) -> pa.Array:
        if pa.types.is_struct(t):
            mask = pa.array([v is None for v in values]) if None in values else None
            if mask is not None:
                children = [build([None if v is None else getattr(v, f"f{i}") for v in values], f.type) for i, f in enumerate(t)]
            else:
                children = [build(list(map(operator.attrgetter(f"f{i}"), values)), f.type) for i, f in enumerate(t)]
            return pa.StructArray.from_arrays(children, fields=list(t), mask=mask)
        if pa.types.is_list(t):
            offsets = np.zeros(len(values) + 1, dtype=np.int32)
            np.cumsum([0 if v is None else len(v) for v in values], out=offsets[1:])
            flat = list(itertools.chain.from_iterable(v for v in values if v is not None))
            mask = pa.array([v is None for v in values]) if None in values else None
            return pa.ListArray.from_arrays(pa.array(offsets), build(flat, t.value_type), type=t, mask=mask)
        return pa.array(values, t)

    row = pa.struct(list(schema))
    decoder = msgspec.json.Decoder(struct_type(row, "Row"))
    return lambda data: pa.Table.from_struct_array(build(decoder.decode_lines(data), row))


def _polars_parser(schema: pa.Schema):
    import polars as pl

    pl_schema = pl.from_arrow(schema.empty_table()).schema
    return lambda data: pl.read_ndjson(io.BytesIO(data), schema=pl_schema).to_arrow().cast(schema)


def _orjson_parser(schema: pa.Schema):
    import orjson

    return lambda data: pa.Table.from_pylist([orjson.loads(line) for line in data.splitlines() if line.strip()], schema=schema)


def _simdjson_parser(schema: pa.Schema):
    import simdjson

    parser = simdjson.Parser()
    return lambda data: pa.Table.from_pylist([parser.parse(line).as_dict() for line in data.splitlines() if line.strip()],
                                             schema=schema)


def parse_candidates(schema: pa.Schema) -> dict:
    out = {"Arrow read_json, explicit schema (before; reference)": _arrow_variants(schema, before=True),
           "DuckDB read_json, explicit columns (kept)": lambda data: duckdb_ndjson_table(data, schema)}
    for name, make in (("msgspec typed Structs -> Arrow arrays", _msgspec_parser),
                       ("Polars read_ndjson(schema) -> Arrow", _polars_parser),
                       ("orjson per line -> Table.from_pylist", _orjson_parser),
                       ("pysimdjson per line -> Table.from_pylist", _simdjson_parser)):
        try:
            out[name] = make(schema)
        except ImportError:
            out[name] = None
    return out


def _arrow_variants(schema: pa.Schema, before: bool = False):
    """Cheaper uses of Arrow's own reader (block size, threads); ``before``: the call ndjson_to_table made before."""
    import pyarrow.json as pajson

    def read(block_size: int, threads: bool = True):
        return lambda data: pajson.read_json(
            io.BytesIO(data), read_options=pajson.ReadOptions(block_size=block_size, use_threads=threads),
            parse_options=pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"))

    if before:
        return read(16 << 20)
    return {"Arrow, block_size 4 MB": read(4 << 20), "Arrow, block_size 64 MB": read(64 << 20),
            "Arrow, one thread": read(16 << 20, threads=False)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="points in the generated day (default 1M: one shard per provider)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per candidate (best is reported)")
    parser.add_argument("--skip-slow", action="store_true", help="skip the per-line Python parsers (orjson, pysimdjson)")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be positive")
    from pipeline_write import machine, write_sharded_raw

    from fleet_assets.storage.raw_store import SUFFIX, read_raw

    print(f"# machine: {machine()}; load average {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-parse-") as tmp:
        day = "2026-02-01"
        write_sharded_raw(Path(tmp), args.rows, max(2, args.rows // 2500), day, shard_rows=args.rows)
        inputs = {}
        for provider, name, schema in (("motive", "locations", MOTIVE_LOCATION_SCHEMA), ("samsara", "stats", SAMSARA_STATS_SCHEMA)):
            fetch = read_raw(Path(tmp), provider, day)
            inputs[name] = (fetch.location.store.read(fetch.location.key(f"{name}{SUFFIX}")), schema)
    for name, (gz, schema) in inputs.items():
        reference_bytes = gzip.decompress(gz)
        print(f"\n## {name}: {len(gz) / 1e6:.1f} MB gzip -> {len(reference_bytes) / 1e6:.1f} MB NDJSON", flush=True)
        for cand, fn in gunzip_candidates().items():
            if fn is None:
                print(f"gunzip | {cand} | skipped (not installed)")
                continue
            wall, cpu, out = _best(lambda: fn(gz), args.repeat)
            print(f"gunzip | {cand} | wall {wall:.3f} s | cpu {cpu:.3f} s = {len(out) / cpu / 1e6:,.0f} MB/s | exact {out == reference_bytes}", flush=True)
        reference = arrow_ndjson_table(reference_bytes, schema, name)  # also warms up the memory pool
        candidates = {**parse_candidates(schema), **_arrow_variants(schema)}
        for cand, fn in candidates.items():
            if fn is None or (args.skip_slow and "per line" in cand):
                print(f"parse | {cand} | skipped")
                continue
            wall, cpu, table = _best(lambda: fn(reference_bytes), args.repeat)
            exact = table is not None and table.schema.equals(schema) and table.equals(reference)
            print(f"parse | {cand} | wall {wall:.3f} s = {len(reference_bytes) / wall / 1e6:,.0f} MB/s | "
                  f"cpu {cpu:.3f} s = {len(reference_bytes) / cpu / 1e6:,.0f} MB/s | exact {exact}", flush=True)
    print(f"\n# load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
