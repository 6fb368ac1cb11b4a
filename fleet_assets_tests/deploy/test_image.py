"""The image's entrypoints work from the package as the Dockerfile installs it, not from the checkout.

No container runtime here, so the Dockerfile's build stage is replayed: its COPY sources go into a bare
build context, protocol + the platform are built as (non-editable) wheels and installed into a fresh venv,
and the entrypoints run from a directory outside the repository. Third-party dependencies are not
re-downloaded (tests stay offline): the fresh venv reads them from the test venv's site-packages, after
our own wheels, so a missing module or package-data file of ours still fails here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"


def _build_stage_copies() -> list[list[str]]:
    """The COPY lines of the first (build) stage: [src..., dest]."""
    stage = re.split(r"^FROM ", DOCKERFILE.read_text(), flags=re.M)[1]
    return [line.split()[1:] for line in stage.splitlines() if re.match(r"COPY\s+(?!--)", line)]


def _run(argv, cwd, env, timeout=240) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("image")
    context = root / "src"
    context.mkdir()
    for *sources, dest in _build_stage_copies():
        for src in sources:
            if (REPO / src).is_dir():
                shutil.copytree(REPO / src, context / dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                (context / dest).mkdir(parents=True, exist_ok=True)
                shutil.copy(REPO / src, context / dest / Path(src).name)
    wheels = root / "wheels"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                  "-w", str(wheels), "./protocol", "."], context, os.environ.copy())
    assert built.returncode == 0, built.stdout + built.stderr
    prefix = root / "opt" / "fleet"
    venv.EnvBuilder(with_pip=False).create(prefix)
    site = prefix / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    installed = _run([sys.executable, "-m", "pip", "--python", str(prefix / "bin" / "python"), "install",
                      "--no-deps", "--no-index", *map(str, sorted(wheels.glob("*.whl")))], root, os.environ.copy())
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # Third-party packages from the test venv, after ours (a plain path: its .pth files, such as our
    # editable installs, are not processed).
    (site / "zz_image_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return prefix


def _env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return {**env, "DAGSTER_HOME": str(tmp_path), "FLEET_DATA_DIR": str(tmp_path / "data")}


@pytest.mark.slow
def test_entrypoints_run_from_the_installed_package(image_venv, tmp_path):
    python, env = str(image_venv / "bin" / "python"), _env(tmp_path)
    where = _run([python, "-c", "import fleet_assets, fleet_protocol; print(fleet_assets.__file__); "
                  "print(fleet_protocol.__file__)"], tmp_path, env)
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(image_venv)) for line in where.stdout.split()), where.stdout
    # The code location loads from the installed package (package data included), as `dagster api grpc` will.
    validate = _run([python, "-m", "dagster", "definitions", "validate", "-m", "fleet_assets.definitions"],
                    tmp_path, env)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    grpc = _run([python, "-m", "dagster", "api", "grpc", "--help"], tmp_path, env)
    assert grpc.returncode == 0 and "--module-name" in grpc.stdout
    ingest = _run([str(image_venv / "bin" / "fleet-ingest-server"), "--help"], tmp_path, env)
    assert ingest.returncode == 0 and "usage: fleet-ingest-server" in ingest.stdout, ingest.stderr
    # What every process loading the deployed instance needs (the `deploy` extra).
    launcher = _run([python, "-c", "import dagster_k8s, dagster_postgres"], tmp_path, env)
    assert launcher.returncode == 0, launcher.stderr
