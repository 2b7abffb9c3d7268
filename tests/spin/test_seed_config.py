"""The seed platform team's LiteLLM ConfigMap (tests/fixtures/seed-configmap.yaml) as pasted, on
real Spin: it loads, the OpenAI entry (with OpenAI's own `api_base`) goes through `provider-openai`
with its key, and `provider-openai-compatible` runs with a wildcard origin over the cluster's
services (`http://*.llm-models.svc.cluster.local`, several InferenceServices), which Spin accepts
in `allowed_outbound_hosts`: the KServe entry is tried there (outside a cluster the host does not
resolve, and the 502 names the provider and the host)."""

import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hosts import ROOT, start_gateway, start_mock
from test_redis_replicas import call


@pytest.fixture(scope="module")
def seeded():
    configmap = yaml.safe_load((ROOT / "tests/fixtures/seed-configmap.yaml").read_text())
    config = configmap["data"]["config.yaml"]
    tmp = Path(tempfile.mkdtemp(prefix="gw-seed-"))
    mock = start_mock()
    gateway = None
    try:
        gateway = start_gateway(tmp, mock.url, config=config, host="spin", variables={
            "openai_compatible_origin": "http://*.llm-models.svc.cluster.local"})
        yield gateway
    finally:
        if gateway:
            gateway.stop()
        mock.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def chat(base: str, model: str):
    return call(base, "/v1/chat/completions",
                body={"model": model, "messages": [{"role": "user", "content": "Say hello"}]})


def test_each_seed_model_goes_through_its_provider(seeded):
    status, headers, body = chat(seeded.url, "gpt-5.4-mini")
    assert status == 200, body
    assert headers["x-litellm-model-group"] == "gpt-5.4-mini"
    status, _, body = chat(seeded.url, "gemini-3.1-flash-lite-preview")
    assert status == 200, body
    status, _, body = chat(seeded.url, "llama-3.1-8b-instruct")
    assert status == 502, body
    message = body["error"]["message"]
    assert message.startswith("openai-compatible:"), message
    assert "llama-3-1-8b-instruct-predictor.llm-models.svc.cluster.local" in message
    status, _, health = call(seeded.url, "/health")
    assert health["config"]["deployments"] == 3
    assert health["config"]["ignored_settings"] == ["litellm_settings.set_verbose"]
