"""The official `openai` SDK on the rest of the OpenAI surface: embeddings, legacy completions and
the Responses API (`create`, streamed and not, and the strict `responses.stream()` helper), for
every provider."""

import openai
import pytest
from hosts import MASTER_KEY

MODELS = ["gpt-test", "llama-test", "claude-test", "gemini-test"]
WEATHER_TOOL = {"type": "function", "name": "get_weather", "description": "Weather of a city",
                "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                               "required": ["location"]}}


@pytest.fixture
def client(gateway_url):
    return openai.OpenAI(base_url=f"{gateway_url}/v1", api_key=MASTER_KEY, max_retries=0)


@pytest.mark.parametrize("model", ["gpt-test", "llama-test", "gemini-test"])
def test_embeddings_default_base64_and_float(client, model):
    # The SDK asks for base64 by default and decodes it to floats.
    r = client.embeddings.create(model=model, input=["a", "b", "c"], dimensions=4)
    assert [d.index for d in r.data] == [0, 1, 2]
    assert all(len(d.embedding) == 4 for d in r.data)
    floats = client.embeddings.create(model=model, input=["a", "b", "c"], dimensions=4,
                                      encoding_format="float")
    assert [d.embedding for d in floats.data] == [d.embedding for d in r.data]
    assert r.usage.prompt_tokens > 0


def test_embeddings_on_anthropic_is_a_bad_request(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model="claude-test", input="x")
    assert e.value.body["param"] == "model"


@pytest.mark.parametrize("model", MODELS)
def test_completions(client, model):
    r = client.completions.create(model=model, prompt=["one", "two"], max_tokens=20)
    assert r.object == "text_completion"
    assert [c.index for c in r.choices] == [0, 1]
    assert all(c.text for c in r.choices)
    chunks = list(client.completions.create(model=model, prompt="one", max_tokens=20, stream=True,
                                            stream_options={"include_usage": True}))
    assert "".join(c.choices[0].text for c in chunks if c.choices)
    assert chunks[-1].usage.total_tokens > 0


@pytest.mark.parametrize("model", MODELS)
def test_responses_create(client, model):
    r = client.responses.create(model=model, input="Say hello", instructions="Be brief.")
    assert r.object == "response" and r.status == "completed"
    assert r.output_text
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    events = list(client.responses.create(model=model, input="Say hello", stream=True))
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") \
        == events[-1].response.output_text


@pytest.mark.parametrize("model", MODELS)
def test_responses_stream_helper(client, model):
    with client.responses.stream(model=model, input="Say hello") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text and final.output_text == text


@pytest.mark.parametrize("model", ["claude-test", "gemini-test"])
def test_responses_stream_helper_with_a_tool_call_only_turn(client, model):
    with client.responses.stream(model=model, input="What is the weather in Paris?",
                                 tools=[WEATHER_TOOL]) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    assert "response.function_call_arguments.done" in kinds
    calls = [o for o in final.output if o.type == "function_call"]
    assert calls and calls[0].name == "get_weather" and calls[0].call_id
    # The tool's answer continues the conversation the gateway kept.
    follow = client.responses.create(
        model=model, previous_response_id=final.id,
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny"}])
    assert follow.status == "completed" and follow.output_text


def test_responses_get_and_delete(client):
    r = client.responses.create(model="claude-test", input="Say hello")
    assert client.responses.retrieve(r.id).id == r.id
    client.responses.delete(r.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(r.id)
