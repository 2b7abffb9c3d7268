"""Fixtures: the mock upstream and the gateway (the real wasm components) as processes, on the host
`GATEWAY_HOST` names (`test-host`, the default, or `spin`: see hosts.py)."""

import pytest

from hosts import (  # noqa: F401  (re-exported for the test modules)
    ANTHROPIC_KEY, GEMINI_KEY, MASTER_KEY, OPENAI_KEY, host_name, start_gateway, start_mock,
)


def pytest_report_header(config):
    return f"gateway host: {host_name()}"


@pytest.fixture(scope="session")
def mock_url():
    mock = start_mock()
    yield mock.url
    mock.stop()


@pytest.fixture(scope="session")
def gateway_url(mock_url, tmp_path_factory):
    gateway = start_gateway(tmp_path_factory.mktemp(host_name()), mock_url)
    yield gateway.url
    gateway.stop()
