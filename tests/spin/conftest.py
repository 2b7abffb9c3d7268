"""Tests that need real Spin (`spin` on PATH or `SPIN_BIN`; ./scripts/test provides Spin 3.6.3 from
../shared/spin). They use the process helpers of tests/sdk/hosts.py."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk"))

from hosts import spin_binary  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if spin_binary():
        return
    skip = pytest.mark.skip(reason="no spin binary (put spin on PATH or set SPIN_BIN)")
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(skip)
