"""`/metrics` parsed by Prometheus' own Python client: LiteLLM's metric names, values that match
the requests sent (whole, streamed, failed), histograms with LiteLLM's buckets, and no key in any
label."""

import urllib.error
import urllib.request

import openai
import pytest
from hosts import MASTER_KEY
from prometheus_client.parser import text_string_to_metric_families

LITELLM_BUCKETS = [0.005, 0.00625, 0.0125, 0.025, 0.05, 0.1, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5,
                   4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0, 7.5, 8.0, 8.5, 9.0, 9.5, 10.0, 15.0, 20.0,
                   25.0, 30.0, 60.0, 120.0, 180.0, 240.0, 300.0, float("inf")]


def scrape(gateway_url: str, token: str | None = MASTER_KEY) -> dict:
    request = urllib.request.Request(f"{gateway_url}/metrics")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.headers["content-type"].startswith("text/plain")
        text = r.read().decode()
    assert MASTER_KEY not in text
    return {f.name: f for f in text_string_to_metric_families(text)}


def total(families: dict, name: str, model: str, **labels) -> float:
    family = families.get(name)
    if family is None:
        return 0.0
    return sum(
        s.value for s in family.samples
        if s.labels.get("requested_model") == model
        and all(s.labels.get(k) == v for k, v in labels.items())
        and s.name in (f"{name}_total", name)
    )


def test_metrics_match_the_requests_sent(gateway_url):
    client = openai.OpenAI(base_url=f"{gateway_url}/v1", api_key=MASTER_KEY, max_retries=0)
    before = scrape(gateway_url)
    client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    list(client.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "hi"}], stream=True))
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="err-500", messages=[{"role": "user", "content": "x"}])
    after = scrape(gateway_url)

    def delta(name, model, **labels):
        return total(after, name, model, **labels) - total(before, name, model, **labels)

    requests = "litellm_proxy_total_requests_metric"
    assert after[requests].type == "counter"
    assert delta(requests, "gpt-test", status_code="200") == 2
    assert delta(requests, "err-500") == 1
    assert delta("litellm_proxy_failed_requests_metric", "err-500") == 1
    assert delta("litellm_proxy_failed_requests_metric", "gpt-test") == 0
    # The mock answers 19 prompt and 10 completion tokens.
    assert delta("litellm_input_tokens_metric", "gpt-test") == 38
    assert delta("litellm_output_tokens_metric", "gpt-test") == 20
    assert delta("litellm_total_tokens_metric", "gpt-test") == 58
    assert "litellm_spend_metric" in after

    latency = after["litellm_request_total_latency_metric"]
    assert latency.type == "histogram"
    buckets = sorted({float(s.labels["le"]) for s in latency.samples if s.name.endswith("_bucket")})
    assert buckets == LITELLM_BUCKETS
    assert after["litellm_llm_api_time_to_first_token_metric"].type == "histogram"
    # Routing state: a gauge per configured deployment (0 healthy, 2 cooling) and its cooldowns.
    state = after["litellm_deployment_state"]
    assert state.type == "gauge"
    assert "gpt-test" in {s.labels["litellm_model_name"] for s in state.samples}
    assert all(s.value in (0, 2) for s in state.samples)
    assert after["litellm_deployment_cooled_down"].type == "counter"
    deployment_labels = {"litellm_model_name", "model_id", "api_provider"}
    for family in after.values():
        for sample in family.samples:
            if family.name.startswith("litellm_deployment_"):
                assert set(sample.labels) == deployment_labels, sample
                continue
            assert set(sample.labels) <= {"requested_model", "model_id", "api_provider",
                                          "status_code", "api_key_alias", "le"}, sample


def test_metrics_are_not_open(gateway_url):
    for token in (None, "sk-wrong"):
        with pytest.raises(urllib.error.HTTPError) as e:
            scrape(gateway_url, token)
        assert e.value.code == 401
