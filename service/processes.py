"""Which process is this, and does a process named so still run?

Runs and server processes record their process as ``host:pid:start`` (``start``: when
the process started, in clock ticks since boot, from /proc), so that another process
can tell whether it still runs: on the same host directly (a later process reusing
the pid has another start), elsewhere not at all (callers fall back on heartbeats).
"""

from __future__ import annotations

import os
import socket


def _process_start(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot, from /proc), or "" where
    /proc is not there: with the pid it tells a process from a later one reusing its pid."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def process_identity() -> str:
    """``host:pid:start`` of this process, as stored in ``match_runs.owner``."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_process_start(pid)}"[:160]


def process_alive(owner: str) -> bool | None:
    """Whether the process ``owner`` names still runs: None when it ran on another host."""
    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    return not start or _process_start(pid) in ("", start)
