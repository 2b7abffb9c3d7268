"""The gateway in front of a real OpenAI-compatible inference server no one here wrote: llama.cpp's
`llama-server` with SmolLM2-135M-Instruct, through the official openai SDK. The assertions are
on shape and behaviour, never on the model's words."""

import base64
import json
import struct
import time
import urllib.request

from hosts import MASTER_KEY


def test_chat_whole(client):
    r = client.chat.completions.create(
        model="smollm2", max_tokens=12,
        messages=[{"role": "user", "content": "Say hello."}])
    assert r.object == "chat.completion"
    assert isinstance(r.choices[0].message.content, str)
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0


def test_chat_streamed_arrives_incrementally(client):
    arrivals = []
    stream = client.chat.completions.create(
        model="smollm2", max_tokens=24, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Count from one to ten in words."}])
    usage = None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic())
        if chunk.usage:
            usage = chunk.usage
    assert len(arrivals) >= 3, "several content chunks"
    assert arrivals[-1] - arrivals[0] > 0.005, "chunks arrived over time, not all at once"
    assert usage is not None and usage.completion_tokens > 0


def test_completions_whole_and_streamed(client):
    r = client.completions.create(model="smollm2", prompt="Once upon a time", max_tokens=8)
    assert r.object == "text_completion"
    assert isinstance(r.choices[0].text, str) and r.choices[0].index == 0
    assert r.usage.total_tokens > 0
    pieces = [c.choices[0].text for c in client.completions.create(
        model="smollm2", prompt="The sky is", max_tokens=8, stream=True) if c.choices]
    assert len(pieces) >= 2
    assert all(isinstance(p, str) for p in pieces)


def test_embeddings_float_and_base64_byte_exact(client, gateway_url):
    # The SDK asks for base64 by default and decodes it.
    r = client.embeddings.create(model="smollm2-embed", input=["first text", "second text"])
    assert [d.index for d in r.data] == [0, 1]
    dims = len(r.data[0].embedding)
    assert dims > 0 and all(isinstance(x, float) for x in r.data[0].embedding)
    assert r.usage.prompt_tokens > 0

    def raw(encoding):
        body = json.dumps({"model": "smollm2-embed", "input": "same text", "encoding_format": encoding})
        req = urllib.request.Request(f"{gateway_url}/v1/embeddings", data=body.encode(), headers={
            "authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.load(resp)
    floats = raw("float")["data"][0]["embedding"]
    encoded = raw("base64")["data"][0]["embedding"]
    assert isinstance(floats, list) and isinstance(encoded, str)
    assert base64.b64decode(encoded) == struct.pack(f"<{len(floats)}f", *floats)


def test_responses_whole_and_streamed(client):
    r = client.responses.create(model="smollm2", input="Say hi.", max_output_tokens=16)
    assert r.object == "response"
    assert r.status in ("completed", "incomplete")
    assert r.output and r.output[-1].type == "message"
    assert isinstance(r.output_text, str)
    assert r.usage.input_tokens > 0
    types = [e.type for e in client.responses.create(
        model="smollm2", input="Say hi.", max_output_tokens=16, stream=True)]
    assert types[0] == "response.created"
    assert "response.output_text.delta" in types
    assert types[-1] in ("response.completed", "response.incomplete")


def test_usage_recorded_per_endpoint(client, gateway_url):
    client.embeddings.create(model="smollm2-embed", input="x")
    req = urllib.request.Request(f"{gateway_url}/spend/logs?limit=100",
                                 headers={"authorization": f"Bearer {MASTER_KEY}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        rows = json.load(resp)
    routes = {r.get("route") for r in rows if r.get("prompt_tokens", 0) > 0}
    for route in ("/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses"):
        assert route in routes, (route, routes)



def test_responses_follow_up_through_the_kept_conversation(client):
    # llama-server implements the Responses API (passed through) but refuses previous_response_id:
    # the gateway continues the conversation it kept through chat. (The SDK's strict
    # `responses.stream()` helper rejects llama-server's own stream: its text deltas carry no
    # `content_index`.)
    first = client.responses.create(model="smollm2", input="Say hi.", max_output_tokens=8)
    follow = client.responses.create(model="smollm2", input="Again.", max_output_tokens=8,
                                     previous_response_id=first.id)
    assert follow.object == "response" and follow.output
    assert follow.usage.input_tokens > first.usage.input_tokens, "the earlier turn was included"
