"""In-process ELM327-emulator for ``replay --obd emulator`` and tests (test-only dependency).

ELM327-emulator is CC-BY-NC-SA-4.0: it is never a runtime dependency and is
imported only here, only when asked for.
"""

from __future__ import annotations

import os
import tempfile
import time

_QUIET_LOGGING = "version: 1\nincremental: true\n"  # leave the host's logging alone


class EmulatorUnavailable(RuntimeError):
    pass


def start_emulator(scenario: str = "car"):
    """Start ``elm.Elm`` on a fresh pty; returns the emulator (``.get_pty()``, ``.terminate()``)."""
    if "ELM_LOG_CFG" not in os.environ:
        cfg = os.path.join(tempfile.gettempdir(), "edge_collector_elm_quiet.yaml")
        with open(cfg, "w") as handle:
            handle.write(_QUIET_LOGGING)
        os.environ["ELM_LOG_CFG"] = cfg  # otherwise Elm reconfigures root logging and writes ./elm.log
    try:
        from elm import Elm
    except ImportError:
        raise EmulatorUnavailable(
            "ELM327-emulator is not installed; it is a test-only extra: pip install './edge_collector[test]'"
        ) from None
    emu = Elm(batch_mode=True)
    emu.__enter__()
    deadline = time.monotonic() + 10
    while emu.threadState == emu.THREAD.STARTING:
        if time.monotonic() > deadline:
            emu.terminate()
            raise EmulatorUnavailable("ELM327-emulator did not start within 10 s")
        time.sleep(0.02)
    emu.set_sorted_obd_msg(scenario)
    return emu


def set_pid(emu, name: str, mode_pid: str, data: list[int]) -> None:
    """Make the emulator answer ``name`` with fixed bytes (``set_pid(emu, "SPEED", "41 0D", [52])``)."""
    payload = " ".join(f"{b:02X}" for b in data)
    emu.answer[name] = f"<header>7E8</header><size>{len(data) + 2:02X}</size><data>{mode_pid} {payload}</data>"
