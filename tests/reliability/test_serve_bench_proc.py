"""``bench/serve_bench.py`` reads server processes' CPU from ``/proc/<pid>/stat`` through
one reader (``stat_fields``): command names with spaces and parentheses, and processes
that are gone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.serve_bench import descendants, proc_cpu, proc_started, stat_fields

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def test_fields_after_a_command_name_with_spaces_and_parentheses(tmp_path):
    stat = tmp_path / "stat"
    # pid (comm) state ppid ... utime(11) stime(12) ... starttime(19)
    rest = ["S", "41"] + [str(i) for i in range(2, 11)] + ["300", "200"]
    rest += [str(i) for i in range(13, 19)] + ["123456", "0"]
    stat.write_text(f"42 (a (b) c) {' '.join(rest)}\n")
    fields = stat_fields(stat)
    assert fields is not None
    assert fields[0] == "S" and fields[1] == "41"
    assert (fields[11], fields[12]) == ("300", "200")  # utime, stime
    assert fields[19] == "123456"
    assert stat_fields(tmp_path / "gone") is None


def test_a_live_process_and_its_child():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        me = os.getpid()
        assert child.pid in descendants(me)
        assert stat_fields(Path(f"/proc/{child.pid}/stat"))[1] == str(me)
        assert proc_started(child.pid) is not None and proc_cpu(me) > 0
    finally:
        child.kill()
        child.wait()
    assert proc_started(child.pid) is None and proc_cpu(child.pid) == 0.0
