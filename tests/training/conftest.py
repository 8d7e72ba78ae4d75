"""Fixtures of the training tests; the toy market itself is in toy_market.py."""

from __future__ import annotations

import pytest
from toy_market import build, toy_frames

from matcher.data.dataset import Dataset


@pytest.fixture
def toy() -> Dataset:
    return build(toy_frames())
