"""The official `openai` Python SDK against the gateway, unchanged except for base_url and key."""

import json

import openai
import pytest
from hosts import MASTER_KEY

MODELS = ["gpt-test", "llama-test", "claude-test", "gemini-test"]


@pytest.fixture
def client(gateway_url):
    return openai.OpenAI(base_url=f"{gateway_url}/v1", api_key=MASTER_KEY, max_retries=0)


@pytest.mark.parametrize("model", MODELS)
def test_chat_non_streamed(client, model):
    completion = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Say hello"}]
    )
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content
    assert completion.usage.total_tokens > 0


@pytest.mark.parametrize("model", MODELS)
def test_chat_streamed(client, model):
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Say hello"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_models(client):
    ids = [m.id for m in client.models.list()]
    assert "gpt-test" in ids and "llama-test" in ids
    assert client.models.retrieve("gpt-test").id == "gpt-test"


def test_errors_are_typed(client):
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert err.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-test", messages="not a list")


def test_a_fallback_is_invisible_except_in_the_headers(client):
    """`broken` always fails (503): after its retries the gateway falls back to `claude-test`
    (Anthropic); the SDK sees an ordinary completion, and only the headers tell."""
    raw = client.chat.completions.with_raw_response.create(
        model="broken", messages=[{"role": "user", "content": "Say hello"}]
    )
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content
    assert raw.headers["x-litellm-model-group"] == "claude-test"
    assert raw.headers["x-litellm-attempted-fallbacks"] == "1"
    assert raw.headers["x-litellm-attempted-retries"] == "2"
    with client.chat.completions.with_streaming_response.create(
        model="broken", messages=[{"role": "user", "content": "Say hello"}], stream=True
    ) as response:
        assert response.headers["x-litellm-model-group"] == "claude-test"
        text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    assert text


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}


@pytest.mark.parametrize("model", MODELS)
def test_streamed_tool_call_and_result_round_trip(client, model):
    messages = [{"role": "user", "content": "What's the weather in Paris?"}]
    stream = client.chat.completions.create(
        model=model, messages=messages, tools=[WEATHER_TOOL], stream=True
    )
    calls = {}
    finish = None
    for chunk in stream:
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        for delta in choice.delta.tool_calls or []:
            call = calls.setdefault(delta.index, {"id": None, "name": "", "arguments": ""})
            call["id"] = delta.id or call["id"]
            if delta.function:
                call["name"] += delta.function.name or ""
                call["arguments"] += delta.function.arguments or ""
    assert finish == "tool_calls"
    assert list(calls) == [0]
    call = calls[0]
    assert call["id"] and call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == {"location": "Paris"}

    messages.append({
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": call["id"], "type": "function",
                        "function": {"name": call["name"], "arguments": call["arguments"]}}],
    })
    messages.append({"role": "tool", "tool_call_id": call["id"], "content": "21C, sunny"})
    answer = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    assert answer.choices[0].message.content


@pytest.mark.parametrize("model", ["claude-test", "gemini-test"])
def test_translated_errors_are_typed(client, model):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "x"}], logprobs=True
        )
    assert e.value.body["param"] == "logprobs"
