"""The official `anthropic` Python SDK against the gateway's /v1/messages, unchanged except for
base_url and key: natively on an Anthropic model, translated on an OpenAI model."""

import anthropic
import pytest
from hosts import MASTER_KEY

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
}


@pytest.fixture
def client(gateway_url):
    return anthropic.Anthropic(base_url=gateway_url, api_key=MASTER_KEY, max_retries=0)


@pytest.mark.parametrize("model", ["claude-test", "gpt-test", "gemini-test"])
def test_message(client, model):
    message = client.messages.create(
        model=model, max_tokens=256, system="Be terse.",
        messages=[{"role": "user", "content": "Say hello"}],
    )
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.content[0].type == "text"
    assert message.content[0].text.startswith("Hello from mock")
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 19 and message.usage.output_tokens == 10


@pytest.mark.parametrize("model", ["claude-test", "gpt-test"])
def test_streamed_text(client, model):
    with client.messages.stream(
        model=model, max_tokens=256, messages=[{"role": "user", "content": "Say hello"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.startswith("Hello from mock")
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 10


@pytest.mark.parametrize("model", ["claude-test", "gpt-test"])
def test_streamed_tool_use_and_result(client, model):
    messages = [{"role": "user", "content": "What's the weather in Paris?"}]
    with client.messages.stream(
        model=model, max_tokens=256, tools=[WEATHER_TOOL], messages=messages
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    tool_use = [b for b in final.content if b.type == "tool_use"][0]
    assert tool_use.name == "get_weather"
    assert tool_use.input == {"location": "Paris"}

    messages.append({"role": "assistant", "content": [b.model_dump() for b in final.content]})
    messages.append({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": tool_use.id, "content": "21C, sunny"}]})
    answer = client.messages.create(model=model, max_tokens=256, tools=[WEATHER_TOOL], messages=messages)
    assert answer.content[0].type == "text"


@pytest.mark.parametrize("model,expected", [("claude-test", 10 + 5 + 20), ("gemini-test", 3 + 2 + 10), ("gpt-test", None)])
def test_count_tokens(client, model, expected):
    counted = client.messages.count_tokens(
        model=model, system="Be terse.", tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "What's the weather in Paris?"}],
    )
    if expected is None:  # OpenAI-format providers: the gateway's estimate
        assert 20 < counted.input_tokens < 200
    else:  # the mock provider's own count, passed back
        assert counted.input_tokens == expected


def test_errors_are_typed(client):
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="no-such-model", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    bad = anthropic.Anthropic(base_url=client.base_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(model="claude-test", max_tokens=5, messages=[{"role": "user", "content": "x"}])
