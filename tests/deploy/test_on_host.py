"""What deploy/ hands the gateway runs on the host (`GATEWAY_HOST`): the ConfigMap's gateway.yaml
loads, its models are served, and a chat request goes through; the repository's spin.toml and
runtime-config.toml start as they are (the host refuses what Spin refuses)."""

import json
import urllib.request
from pathlib import Path

import pytest
import yaml
from hosts import MASTER_KEY, host_name, start_gateway, start_mock

ROOT = Path(__file__).resolve().parents[2]


def _configmap_config() -> str:
    docs = list(yaml.safe_load_all((ROOT / "deploy" / "configmap.yaml").read_text()))
    return docs[0]["data"]["gateway.yaml"]


def _get(url: str, key: str | None = None) -> dict:
    request = urllib.request.Request(url)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    mock = start_mock()
    gateway = start_gateway(tmp_path_factory.mktemp(f"deploy-{host_name()}"), mock.url,
                            config=_configmap_config())
    yield gateway
    gateway.stop()
    mock.stop()


def test_configmap_config_loads_and_its_models_are_served(deployed):
    config = yaml.safe_load(_configmap_config())
    names = {m["model_name"] for m in config["model_list"]}
    health = _get(f"{deployed.url}/health")
    assert health["config"]["loaded"] is True, health
    served = {m["id"] for m in _get(f"{deployed.url}/v1/models", MASTER_KEY)["data"]}
    assert names <= served


def test_a_configmap_model_answers_through_its_provider(deployed):
    config = yaml.safe_load(_configmap_config())
    model = next(m["model_name"] for m in config["model_list"]
                 if m["litellm_params"]["model"].startswith("openai/"))
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]}).encode()
    request = urllib.request.Request(
        f"{deployed.url}/v1/chat/completions", data=body, method="POST",
        headers={"Authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"]
