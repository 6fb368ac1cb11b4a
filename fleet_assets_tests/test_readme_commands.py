"""Every command the README shows works, as written, after ``make dev``.

Commands are discovered, not listed here, so a command added to the README later
is checked too: every line of a ``bash``/``sh``/``shell``/``console`` code block,
and every inline code span that starts with a program (a lower-case word or path
followed by arguments, e.g. `fleet-storage query "…"`, `make help`). Python
blocks are API examples, not shell commands.

How each command is checked (``_check``); any command that fails its check fails
its test, including one whose program does not exist (that is how the old
`duckdb -readonly data/warehouse.duckdb "…"` failed: no DuckDB CLI is installed):

* ``make TARGET…``: ``make -n TARGET…`` (the target exists and its recipe expands).
  ``make dev`` itself is started for real by ``test_dev_command.py``; ``make test``
  is this suite.
* ``pip install PATH…``: each PATH is a project that ``make install`` installed
  from that very directory (its ``direct_url.json``); a real or dry-run install
  would need PyPI for the build backend, and tests stay off the internet.
* A *synopsis* (placeholders such as ``…``, ``HOST``, ``N``, ``<x>``, a device
  path absent here such as ``/media/usb``, ``[--optional]`` parts, or ``a | b``
  alternatives of subcommands): the program's ``--help`` and each named
  subcommand's ``--help`` exit 0 and list every ``--flag`` the README writes.
  A shortened form is never run (``run_all.py [--quick]`` would run for an hour).
* Anything else runs for real with ``bash -c`` in a temp checkout (top-level entries symlinked) laid out
  as ``make dev`` leaves it (``.venv`` activated, ``data/`` with the demo device
  key, one day of telemetry and its catalog, ``.dagster_home/dagster.yaml``), and
  must exit 0. A ``--port N`` / ``-p N`` is replaced by a free port; a command that is
  still running and answers HTTP on a port it listens on is a server: it passes
  and is stopped (SIGTERM to its process group).
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow as pa
import pytest

from fleet_assets.schema import TELEMETRY_SCHEMA
from fleet_assets.storage.catalog import build_catalog
from fleet_assets.storage.parquet_partitions import write_partition

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
VENV_BIN = Path(sys.executable).parent  # the venv running the tests (`make test`: .venv)
SHELL_LANGS = {"bash", "sh", "shell", "console"}
RUN_TIMEOUT_S = 90.0
DEMO_VIN = "1FTFW1E50PFA00001"  # scripts/dev.sh's default DEMO_VIN



# -- discovery --------------------------------------------------------------------------------------------------------
_FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```", re.S | re.M)
_SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
_PROGRAM = re.compile(r"^(?:\.|source|(?:\.{1,2}/|\.venv/bin/)?[a-z][a-z0-9_.-]*(?:/[a-z0-9_.-]+)*)$")


def _shell_lines(block: str, *, console: bool = False) -> list[str]:
    """Commands of a shell block; in a ``console`` block only the ``$ `` lines (the rest is output)."""
    commands, pending = [], ""
    for raw in block.splitlines():
        if console and not pending and not raw.startswith("$ "):
            continue
        line = re.sub(r"(^|\s)#\s.*$", "", raw).rstrip()  # comments (a '#' that starts a word)
        line = re.sub(r"^\$\s+", "", line)  # console prompt
        if pending:
            line = line.lstrip()
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            commands.append(line)
    return commands


def _is_command_span(text: str) -> bool:
    parts = text.split()
    words = [p for p in parts if not re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", p)]  # env assignments
    return (len(parts) >= 2 and len(words) >= 2 and bool(_PROGRAM.match(words[0]))
            and not re.match(r"^[=:]", words[1]))  # `provider = "edge"` is an assignment, not a command


def readme_commands(text: str) -> list[str]:
    """Shell commands shown in ``text`` (Markdown), in order of appearance, without duplicates."""
    found = []
    for lang, body in _FENCE.findall(text):
        if lang.lower() in SHELL_LANGS:
            found += _shell_lines(body, console=lang.lower() == "console")
    prose = _FENCE.sub("", text)
    found += [span.strip() for span in _SPAN.findall(prose) if _is_command_span(span.strip())]
    return list(dict.fromkeys(found))


COMMANDS = readme_commands(README.read_text())


# -- classification ---------------------------------------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"^(?:…|\.\.\.|<[^>]+>|[A-Z][A-Z0-9_]*)$|…|\.\.\.|(?:^|[/:@])[A-Z][A-Z0-9_]*(?=[/:]|$)")


def _tokens(command: str) -> list[str]:
    return shlex.split(command.replace("[", " [ ").replace("]", " ] "))


def _is_placeholder(token: str) -> bool:
    """``…``, ``N``, ``HOST`` in ``http://HOST:8700``, ``<x>``, or a device path absent here (``/media/usb``)."""
    if " " in token:
        return False  # a quoted argument such as SQL
    return bool(_PLACEHOLDER.search(token)) or (token.startswith("/") and not Path(token).exists())


def _env_count(tokens: list[str]) -> int:
    """Leading ``NAME=value`` assignments."""
    n = 0
    while n < len(tokens) and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", tokens[n]):
        n += 1
    return n


def _program(tokens: list[str]) -> list[str]:
    """The words that name the program: ``edge-collector``, ``python -m pkg.mod``, ``.venv/bin/python x.py``."""
    env = _env_count(tokens)
    head = tokens[env:]
    if head and Path(head[0]).name.startswith("python"):
        return tokens[: env + (3 if head[1:2] == ["-m"] else 2)]
    return tokens[: env + 1]


def _strip_optional(tokens: list[str]) -> tuple[list[str], list[str]]:
    """(tokens without ``[ … ]`` groups, the tokens inside them)."""
    kept, optional, depth = [], [], 0
    for token in tokens:
        if token == "[":
            depth += 1
        elif token == "]":
            depth -= 1
        else:
            (optional if depth else kept).append(token)
    return kept, optional


# -- the prepared checkout ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    """A copy of the checkout as ``make dev`` leaves it, plus one materialized day and its catalog."""
    root = tmp_path_factory.mktemp("checkout")
    for entry in REPO.iterdir():
        if entry.name not in {"data", ".dagster_home", ".git", ".pytest_cache"}:
            (root / entry.name).symlink_to(entry)
    if not (root / ".venv").exists():  # `make test VENV=elsewhere`: the README's .venv is the running one
        (root / ".venv").symlink_to(VENV_BIN.parent)
    (root / ".dagster_home").mkdir()
    shutil.copy(REPO / "config" / "dagster.yaml", root / ".dagster_home" / "dagster.yaml")
    data = root / "data"
    data.mkdir()
    with open(data / "demo_device_key.txt", "w") as key_file:  # what scripts/dev.sh does on first start
        subprocess.run([str(VENV_BIN / "fleet-ingest-server"), "--data-dir", str(data), "--keys-file",
                        str(data / "ingest_keys.json"), "add-key", "--device", "demo-van", "--vin", DEMO_VIN],
                       stdout=key_file, check=True, timeout=RUN_TIMEOUT_S)
    day = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [{"provider": provider, "provider_vehicle_id": f"v{i % 3}", "vin": f"VIN{i % 3:014d}",
             "timestamp": day + timedelta(seconds=i), "latitude": 40.0, "longitude": -90.0, "speed_mph": 30.0}
            for i, provider in enumerate(["motive", "samsara", "samsara"])]
    write_partition(data / "parquet" / "telemetry", day.date(), pa.Table.from_pylist(rows, schema=TELEMETRY_SCHEMA))
    build_catalog(data / "parquet", data / "warehouse.duckdb")
    return root


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"MOTIVE_API_KEY", "SAMSARA_API_TOKEN", "SEC_AUTH_TOKEN",
                                                              "GRAPH_SERVICE_URL", "GRAPH_ENDPOINT", "PYTHONHOME"}}
    bin_dir = root / ".venv" / "bin"
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(root / ".venv"),
               FLEET_DATA_DIR=str(root / "data"), DAGSTER_HOME=str(root / ".dagster_home"))
    return env


# -- checks -----------------------------------------------------------------------------------------------------------
def _run(args: list[str] | str, root: Path, *, shell: bool = False) -> subprocess.CompletedProcess:
    argv = ["bash", "-c", args] if shell else args
    return subprocess.run(argv, cwd=root, env=_env(root), capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


@functools.cache
def _help_text(program: tuple[str, ...], sub: tuple[str, ...], root: Path) -> str:
    done = _run([*program, *sub, "--help"], root)
    assert done.returncode == 0, f"`{shlex.join([*program, *sub, '--help'])}` failed: {done.stderr.strip()[-500:]}"
    return done.stdout


def _check_synopsis(tokens: list[str], root: Path) -> None:
    program = _program(tokens)
    top = _help_text(tuple(program), (), root)
    subcommands = {name for group in re.findall(r"\{([\w,-]+)\}", top) for name in group.split(",")}
    subcommands |= set(re.findall(r"^ {4}([a-z][\w-]*)(?=\s|$)", top, re.M))  # argparse's listing (metavar COMMAND)
    rest = [t for t in tokens[len(program):] if t not in ("[", "]")]
    alternatives, current = [], []
    for token in rest:
        if token == "|":
            alternatives.append(current)
            current = []
        else:
            current.append(token)
    alternatives.append(current)
    for i, part in enumerate(alternatives):
        subs = [t for t in part if t in subcommands][:1]
        if i > 0:
            assert part and part[0] in subcommands, f"`{part[0] if part else ''}` is not a subcommand of {program}"
        known = top + (_help_text(tuple(program), tuple(subs), root) if subs else "")
        for flag in (t.split("=")[0] for t in part if re.match(r"^--?[a-zA-Z]", t)):
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", known), \
                f"{shlex.join(program + subs)} has no option {flag}"


def _listening_ports(pgid: int) -> set[int]:
    """TCP ports in LISTEN state owned by any process of the group (Linux /proc)."""
    inodes = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if int((proc / "stat").read_text().rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except (OSError, IndexError, ValueError):
            continue
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _run_for_real(command: str, root: Path, start, free_port) -> None:
    command = re.sub(r"(--port[ =]|-p )\d+", lambda m: m.group(1) + str(free_port()), command)
    proc = start(["bash", "-c", command], cwd=root, env=_env(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                 text=True)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while proc.poll() is None and time.monotonic() < deadline:
        for port in _listening_ports(proc.pid):
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                return  # a server that answers; the process_group fixture stops it
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    assert proc.poll() is not None, f"`{command}` neither finished nor served HTTP within {RUN_TIMEOUT_S:.0f} s"
    _, err = proc.communicate()
    assert proc.returncode == 0, f"`{command}` exited {proc.returncode}: {err.strip()[-800:]}"


def _check_installed_from(project: str, root: Path) -> None:
    """``make install`` installed this very directory (a dry-run install would need PyPI for the build backend)."""
    source = (root / project).resolve()
    assert (source / "pyproject.toml").is_file(), f"{project} has no pyproject.toml"
    pyproject = tomllib.loads((source / "pyproject.toml").read_text())
    name = pyproject["project"]["name"]
    direct_url = json.loads(importlib.metadata.distribution(name).read_text("direct_url.json") or "{}")
    assert direct_url.get("url") == source.as_uri(), f"{name} is not installed from {project}: {direct_url}"


def _kind(command: str) -> str:
    """Which check a command gets: 'make -n', 'installed', 'synopsis' or 'run' (see the module docstring)."""
    tokens = _tokens(command)
    exe = tokens[_env_count(tokens)]
    if exe == "make":
        return "make -n"
    if Path(exe).name == "pip" and tokens[1:2] == ["install"]:
        return "installed"
    kept, optional = _strip_optional(tokens)
    path = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    alternatives = any(kept[i] == "|" and not shutil.which(kept[i + 1], path=path) for i in range(len(kept) - 1))
    if optional or alternatives or any(_is_placeholder(t) for t in kept):
        return "synopsis"  # never run a shortened form: `run_all.py [--quick]` without --quick runs for an hour
    return "run"


def _check(command: str, root: Path, start, free_port) -> None:
    tokens = _tokens(command)
    env = _env_count(tokens)
    exe = tokens[env]
    kind = _kind(command)
    if kind == "make -n":
        targets, _ = _strip_optional(tokens[env + 1:])
        dry = shlex.join([*tokens[:env], "make", "-n", *targets])
        done = _run(dry, root, shell=True)
        assert done.returncode == 0, f"`{dry}`: {done.stderr.strip()}"
        return
    if kind == "installed":
        for project in tokens[2:]:
            _check_installed_from(project, root)
        return
    resolved = _run(["bash", "-c", 'type -t "$1"', "_", exe], root).stdout.strip()  # file, builtin (export, .), …
    assert resolved, f"`{command}`: {exe} is not installed (not on PATH with the venv active)"
    if kind == "synopsis":
        _check_synopsis(tokens, root)
    else:
        _run_for_real(command, root, start, free_port)


# -- the tests --------------------------------------------------------------------------------------------------------
def test_commands_are_discovered():
    """The discovery itself: it finds the commands of every kind the README uses."""
    assert len(COMMANDS) >= 10, COMMANDS
    assert "make dev" in COMMANDS and "make test" in COMMANDS
    assert any(c.startswith("edge-collector ") for c in COMMANDS) and any(c.startswith("fleet-") for c in COMMANDS)
    sample = ("x\n```bash\nfoo --a 1 \\\n  --b 2   # note\n```\n```python\nnot_a(command)\n```\n"
              "```console\n$ echo hi\nhi\n```\nrun `bar baz` or `qux`; `provider = \"edge\"`.")
    assert readme_commands(sample) == ["foo --a 1 --b 2", "echo hi", "bar baz"]


@pytest.mark.slow  # ~25 CLI start-ups, each importing its stack, and three servers: about a minute on 2 cores
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: f"{_kind(c)}: {c[:70]}")
def test_readme_command_works(command, checkout, process_group, free_port):
    _check(command, checkout, process_group, free_port)


@pytest.mark.slow
@pytest.mark.parametrize("command, message", [
    ('duckdb -readonly data/warehouse.duckdb "SELECT 1"', "duckdb is not installed"),
    ("fleet-storage prune --keep-days N --no-such-flag", "has no option --no-such-flag"),
    ("edge-collector run | replay | fly", "`fly` is not a subcommand"),
    ("fleet-storage query \"SELECT * FROM no_such_view\"", "exited 2"),
    ("make no-such-target", "make -n no-such-target"),
    ("export FLEET_X=1 && no-such-tool --help", "exited 127"),
    ("pip install ./fleet_assets", "./fleet_assets has no pyproject.toml"),
    ("fleet-ingest-server --data-dir data import-dir /no/such/usb --bogus", "has no option --bogus"),
])
def test_a_command_that_does_not_work_fails_its_check(command, message, checkout, process_group, free_port):
    with pytest.raises(AssertionError, match=re.escape(message)):
        _check(command, checkout, process_group, free_port)


def test_readme_says_how_to_reach_the_venv_tools():
    """Commands call console scripts by bare name, so the README must say how they get on PATH."""
    bare = [c for c in COMMANDS if (VENV_BIN / _tokens(c)[_env_count(_tokens(c))]).exists()]
    assert bare, "no venv tool found among the README commands"
    assert ". .venv/bin/activate" in COMMANDS or "source .venv/bin/activate" in COMMANDS, bare


def test_readme_documents_every_make_variable():
    """Each ``NAME ?= default`` of the Makefile (DAGSTER_PORT, INGEST_PORT, …) is in the README with its default."""
    makefile = (REPO / "Makefile").read_text()
    variables = dict(re.findall(r"^(?:export )?([A-Z_]+) \?= (.+)$", makefile, re.M))
    assert {"DAGSTER_PORT", "INGEST_PORT"} <= set(variables)
    text = README.read_text()
    for name, default in variables.items():
        row = re.search(rf"^\| `{name}` \|([^|]*)\|", text, re.M)
        assert row, f"Makefile variable {name} is not documented in the README's make-variables table"
        shown = row.group(1).strip().strip("`").removeprefix("./")
        assert shown in default.replace("$(CURDIR)/", ""), (name, shown, default)


def test_readme_states_the_default_status_of_every_sensor_and_schedule():
    """The README's table of sensors and schedules matches their ``default_status`` in the code."""
    from fleet_assets.definitions import defs

    repo = defs.get_repository_def()
    actual = {s.name: ("sensor", s.default_status.value.lower()) for s in repo.sensor_defs}
    actual |= {s.name: ("schedule", s.default_status.value.lower()) for s in repo.schedule_defs}
    documented = {name: (kind, starts) for name, kind, starts in re.findall(
        r"^\| `(\w+)` \| (sensor|schedule) \| (running|stopped) \|$", README.read_text(), re.M)}
    assert documented == actual
