"""Per-run overhead of a day's run of the ten daily assets, through a real Dagster instance.

    .venv/bin/python benchmarks/run_overhead.py                 # 1 day, the code location's own executor
    .venv/bin/python benchmarks/run_overhead.py --parallel 2    # 2 days at once (two runs, as a backfill would)

Each day runs exactly as ``dagster asset materialize -m fleet_assets.definitions --select <ten assets>
--partition <day>`` does (``execute_job`` of the implicit asset job, with the job's real executor) in its own
process, against a temp DAGSTER_HOME holding the repository's config/dagster.yaml and a temp FLEET_DATA_DIR per day,
on the embedded defaults (provider sandboxes, in-process analytics backend). Reported per run, from the
instance's own records: run wall time (RUN_START -> RUN_SUCCESS), the sum of the steps' compute time
(STEP_START -> STEP_SUCCESS of each step), their ratio, and the process wall time (including the CLI's imports).
The ratio is the overhead the issue measured (164 s run for ~10 s of step work under load).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEN_ASSETS = ("raw_motive", "raw_samsara", "normalized_motive", "normalized_samsara", "edge_events", "edge_dtcs",
              "trip_summaries", "normalized_edge", "telemetry", "analytics_upload")
FIRST_DAY = "2025-06-01"


def _env(home: Path, data: Path) -> dict:
    env = {**os.environ, "DAGSTER_HOME": str(home), "FLEET_DATA_DIR": str(data)}
    for name in ("MOTIVE_API_KEY", "SAMSARA_API_TOKEN", "SEC_AUTH_TOKEN", "GRAPH_SERVICE_URL", "GRAPH_ENDPOINT"):
        env.pop(name, None)
    return env


def run_days(days: list[str], workdir: Path) -> list[dict]:
    home = workdir / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(REPO / "config" / "dagster.yaml", home / "dagster.yaml")
    dagster = Path(sys.executable).with_name("dagster")
    # Create the instance's storage first: concurrent first starts race on SQLite schema creation.
    subprocess.run([str(dagster), "instance", "info"], env=_env(home, workdir / "data"), check=True,
                   stdout=subprocess.DEVNULL)
    procs = {}
    for day in days:
        command = [str(dagster), "asset", "materialize", "-m", "fleet_assets.definitions",
                   "--select", ",".join(TEN_ASSETS), "--partition", day]
        log = (workdir / f"{day}.log").open("w")
        # One data dir per day: concurrent days measure run overhead, not the shared analytics ledger.
        env = _env(home, workdir / f"data-{day}")
        procs[day] = (subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT),
                      time.perf_counter(), log)
    process_wall = {}
    for day, (proc, started, log) in procs.items():
        code = proc.wait()
        process_wall[day] = time.perf_counter() - started
        log.close()
        if code:
            raise SystemExit(f"run of {day} failed (exit {code}); log: {(workdir / f'{day}.log').read_text()[-3000:]}")
    return _measure(home, process_wall)


def _measure(home: Path, process_wall: dict[str, float]) -> list[dict]:
    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    rows = []
    with dg.DagsterInstance.get() as instance:
        for record in instance.get_run_records():
            run = record.dagster_run
            stats = instance.get_run_stats(run.run_id)
            steps = [s for s in instance.get_run_step_stats(run.run_id) if s.end_time and s.start_time]
            compute = sum(s.end_time - s.start_time for s in steps)
            wall = stats.end_time - stats.start_time
            day = run.tags["dagster/partition"]
            rows.append({"day": day, "status": run.status.value, "steps": len(steps), "run_wall_s": wall,
                         "step_compute_s": compute, "ratio": wall / compute if compute else float("nan"),
                         "process_wall_s": process_wall[day]})
    return sorted(rows, key=lambda row: row["day"])


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parallel", type=int, default=1, help="days run at once, each its own run (default 1)")
    parser.add_argument("--quick", action="store_true", help="accepted for run_all.py; the size is already minimal")
    args = parser.parse_args(argv)
    if args.parallel < 1:
        parser.error("--parallel must be >= 1")
    days = [f"2025-06-{day:02d}" for day in range(1, args.parallel + 1)]
    print(f"load average before: {_load()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="run_overhead_") as tmp:
        rows = run_days(days, Path(tmp))
    print(f"load average after:  {_load()}")
    print("| day | status | steps | run wall | sum of step compute | ratio | process wall |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['day']} | {row['status']} | {row['steps']} | {row['run_wall_s']:.1f} s | "
              f"{row['step_compute_s']:.1f} s | {row['ratio']:.1f}x | {row['process_wall_s']:.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
