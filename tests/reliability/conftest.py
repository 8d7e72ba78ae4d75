"""Reliability tests: the app on a real loopback server, fuzzed, loaded, crashed.

The service fixtures (a small market in a real store, a trained model, one key per
role) come from ``tests/service/service_fixtures.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))

from service_fixtures import (  # noqa: E402, F401  (fixtures)
    frames,
    trained_model_dir,
)
