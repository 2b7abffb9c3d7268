"""The official `openai` Python SDK against the gateway, unchanged except for base_url and key."""

import openai
import pytest
from conftest import MASTER_KEY


@pytest.fixture
def client(gateway_url):
    return openai.OpenAI(base_url=f"{gateway_url}/v1", api_key=MASTER_KEY, max_retries=0)


@pytest.mark.parametrize("model", ["gpt-test", "llama-test"])
def test_chat_non_streamed(client, model):
    completion = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Say hello"}]
    )
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content
    assert completion.usage.total_tokens > 0


@pytest.mark.parametrize("model", ["gpt-test", "llama-test"])
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
