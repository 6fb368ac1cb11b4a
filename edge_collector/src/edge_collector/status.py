"""A small JSON status file the running collector rewrites (atomically) for ``edge-collector status``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from edge_collector.fsutil import atomic_write_bytes


def write_status(path: Path, data: dict) -> None:
    # No fsync: it is rewritten every second and is worthless after a power cut anyway.
    payload = {"pid": os.getpid(), **data}
    atomic_write_bytes(Path(path), json.dumps(payload, indent=2, default=str).encode(), fsync=False)


def read_status(path: Path) -> dict | None:
    """The last status, with ``running`` telling whether the writing process is still alive."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return {"error": f"unreadable status file {path}: {exc}", "running": False}
    data["running"] = _alive(data.get("pid")) and data.get("state") != "stopped"
    return data


def _alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
