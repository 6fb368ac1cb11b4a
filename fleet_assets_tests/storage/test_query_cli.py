"""``fleet-storage query``: the catalog queried read-only from the shell (no DuckDB CLI is installed)."""

import subprocess
import sys
import textwrap

import pytest

from fleet_assets.storage.catalog import build_catalog, connect_catalog_readonly
from fleet_assets.storage.parquet_partitions import write_partition


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "fleet_assets.storage.cli", *args], capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def data_dir(tmp_path, make_rows):
    root = tmp_path / "data"
    write_partition(root / "parquet" / "telemetry", "2026-01-01", make_rows("2026-01-01", 7))
    write_partition(root / "parquet" / "telemetry", "2026-01-02", make_rows("2026-01-02", 3, provider="motive"))
    build_catalog(root / "parquet", root / "warehouse.duckdb")
    return root


def test_query_prints_a_table(data_dir):
    result = _cli("--data-dir", str(data_dir), "query",
                  "SELECT provider, count(*) AS n FROM telemetry GROUP BY 1 ORDER BY 1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("provider" in line and "n" in line for line in lines[:3])
    assert any("motive" in line and line.rstrip("│ ").endswith("3") for line in lines), result.stdout
    assert any("samsara" in line and line.rstrip("│ ").endswith("7") for line in lines), result.stdout


def test_query_csv_prints_every_row(data_dir):
    result = _cli("--data-dir", str(data_dir), "query", "--csv",
                  "SELECT date, count(*) AS n FROM telemetry GROUP BY 1 ORDER BY 1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["date,n", "2026-01-01,7", "2026-01-02,3"]


@pytest.mark.parametrize("sql, message", [
    ("SELEC 1", "error: Parser Error: syntax error at or near \"SELEC\""),
    ("SELECT * FROM no_such_view", "error: Catalog Error: Table with name no_such_view does not exist!"),
    ("DROP VIEW telemetry", "read-only mode"),
    ("CREATE TABLE t AS SELECT 1", "read-only mode"),
])
def test_bad_or_writing_sql_is_one_line_and_changes_nothing(data_dir, sql, message):
    catalog = data_dir / "warehouse.duckdb"
    before = catalog.read_bytes()
    result = _cli("--data-dir", str(data_dir), "query", sql)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert catalog.read_bytes() == before
    assert sorted(p.name for p in data_dir.iterdir()) == ["parquet", "warehouse.duckdb"]  # no .wal, no temp file


def test_missing_catalog_is_one_line_and_creates_nothing(tmp_path):
    result = _cli("--data-dir", str(tmp_path / "data"), "query", "SELECT 1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'data' / 'warehouse.duckdb'} does not exist yet: run `fleet-storage rebuild-catalog` "
        "or materialize warehouse_catalog"]
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("flag", ["--max-rows=0", "--max-width=x"])
def test_bad_option_is_one_line(data_dir, flag):
    result = _cli("--data-dir", str(data_dir), "query", flag, "SELECT 1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "expected a positive integer" in result.stderr.strip().splitlines()[-1]


def test_query_while_another_process_reads_and_the_catalog_is_rebuilt(data_dir, make_rows):
    """Read-only on both sides: a reader never blocks a query, and neither blocks the writer.

    A read-write open would fail here with DuckDB's "Could not set lock" because
    the holder process keeps the catalog open.
    """
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, duckdb
        con = duckdb.connect({str(data_dir / 'warehouse.duckdb')!r}, read_only=True)
        print(con.execute("SELECT count(*) FROM telemetry").fetchone()[0], flush=True)
        sys.stdin.read()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "10"
        assert _cli("--data-dir", str(data_dir), "query", "--csv", "SELECT count(*) AS n FROM telemetry").stdout == "n\n10\n"
        write_partition(data_dir / "parquet" / "edge_events", "2026-01-01", make_rows("2026-01-01", 2))
        rebuilt = _cli("--data-dir", str(data_dir), "rebuild-catalog")
        assert rebuilt.returncode == 0, rebuilt.stderr
        after = _cli("--data-dir", str(data_dir), "query", "--csv", "SELECT count(*) AS n FROM edge_events")
        assert after.returncode == 0 and after.stdout == "n\n2\n", after.stderr
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    with connect_catalog_readonly(data_dir / "warehouse.duckdb") as con:
        assert con.execute("SELECT count(*) FROM telemetry").fetchone()[0] == 10


def test_a_file_that_is_not_a_catalog_is_one_line_and_left_alone(tmp_path):
    catalog = tmp_path / "warehouse.duckdb"
    catalog.write_bytes(b"not a database\n" * 100)
    result = _cli("--data-dir", str(tmp_path), "query", "SELECT 1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: "), result.stderr
    assert catalog.read_bytes() == b"not a database\n" * 100
    assert [p.name for p in tmp_path.iterdir()] == ["warehouse.duckdb"]
