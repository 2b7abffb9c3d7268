"""The deploy tests that run the gateway use the process helpers of tests/sdk/hosts.py, on the host
`GATEWAY_HOST` names (`test-host` or `spin`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk"))
