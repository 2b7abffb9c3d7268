"""Fixtures: the mock upstream and the gateway (real wasm components on the test host), as processes."""

import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
OPENAI_KEY = "sk-test-openai-provider-key-0001"
ANTHROPIC_KEY = "sk-ant-test-provider-key-0002"
GEMINI_KEY = "AIza-test-gemini-provider-key-0003"
MASTER_KEY = "sk-master-test-key-0004"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(mock: str) -> str:
    return f"""model_list:
  - model_name: gpt-test
    litellm_params: {{model: openai/gpt-4o-mini}}
  - model_name: llama-test
    litellm_params: {{model: hosted_vllm/meta-llama/Llama-3.1-8B-Instruct, api_base: {mock}/v1, api_key: dummy-key}}
  - model_name: claude-test
    litellm_params: {{model: anthropic/claude-sonnet-4-5}}
  - model_name: gemini-test
    litellm_params: {{model: gemini/gemini-2.5-flash}}
"""


@pytest.fixture(scope="session")
def mock_url():
    proc = subprocess.Popen(
        [str(TARGET / "debug" / "mock-providers"), "--listen", "127.0.0.1:0",
         "--openai-key", OPENAI_KEY, "--openai-key", "dummy-key",
         "--anthropic-key", ANTHROPIC_KEY, "--gemini-key", GEMINI_KEY],
        stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", line)
    assert match, f"mock did not announce its address: {line!r}"
    yield match.group(0)
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def gateway_url(mock_url, tmp_path_factory):
    port = _free_port()
    env = dict(os.environ)
    variables = {
        "gateway_config": _config(mock_url),
        "openai_api_key": OPENAI_KEY,
        "anthropic_api_key": ANTHROPIC_KEY,
        "gemini_api_key": GEMINI_KEY,
        "master_key": MASTER_KEY,
        "openai_origin": mock_url,
        "anthropic_origin": mock_url,
        "gemini_origin": mock_url,
        "openai_compatible_origin": mock_url,
    }
    for name, value in variables.items():
        env[f"SPIN_VARIABLE_{name.upper()}"] = value
    log = tmp_path_factory.mktemp("host") / "host.log"
    with open(log, "w") as log_file:
        proc = subprocess.Popen(
            [str(TARGET / "debug" / "test-host"), "--from", str(ROOT / "spin.toml"),
             "--listen", f"127.0.0.1:{port}"],
            env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2)
            break
        except Exception:
            if proc.poll() is not None:
                raise RuntimeError(f"test-host exited: {log.read_text()}")
            time.sleep(0.2)
    else:
        raise RuntimeError(f"gateway did not come up: {log.read_text()}")
    yield url
    proc.terminate()
    proc.wait(timeout=10)
