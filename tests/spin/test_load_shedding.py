"""Under real Spin, overload is answered by the gateway itself, never by failures (issue 9).

256 keep-alive connections send chat completions (master key) for 30 s to a gateway configured with
`general_settings.global_max_parallel_requests: 32`. Every answer must be a 200 with a valid chat
completion, or a deliberate refusal: 429/503 with OpenAI error JSON and `retry-after` (a 503's code
is `gateway_overloaded`). No other status, no connection error, no timeout; right after the load a
normal request is answered 200 within a few seconds. A behaviour test: no latency is asserted.
"""

import asyncio
import collections
import email.utils
import json
import time

import pytest
from hosts import MASTER_KEY, default_config, start_gateway, start_mock
from rawhttp import Connection, ConnectionFailed

CONNECTIONS = 256
DURATION_S = 30
LIMIT = 32
# Generous: a request that takes this long under load has hung.
REQUEST_TIMEOUT_S = 60


def _chat_body(stream: bool = False) -> bytes:
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": "Say hello"}]}
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


HEADERS = {"Authorization": f"Bearer {MASTER_KEY}", "Content-Type": "application/json"}


def _retry_after_ok(value: str | None) -> bool:
    if value is None:
        return False
    if value.strip().isdigit():
        return True
    return email.utils.parsedate_to_datetime(value) is not None


def classify(response) -> str | None:
    """None if the answer is a valid completion or a deliberate refusal, else what is wrong."""
    try:
        body = json.loads(response.body)
    except ValueError:
        return f"{response.status} with a non-JSON body {response.body[:200]!r}"
    if response.status == 200:
        choices = body.get("choices") if isinstance(body, dict) else None
        if (body.get("object") != "chat.completion" or not choices
                or not choices[0].get("message", {}).get("content")):
            return f"200 without a chat completion: {response.body[:200]!r}"
        return None
    if response.status in (429, 503):
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict) or not isinstance(error.get("message"), str) \
                or "type" not in error or "code" not in error:
            return f"{response.status} without OpenAI error JSON: {response.body[:200]!r}"
        if not _retry_after_ok(response.header("retry-after")):
            return f"{response.status} without a valid retry-after: {response.headers}"
        if response.status == 503 and error.get("code") != "gateway_overloaded":
            return f"503 that is not the gateway's overload refusal: {response.body[:200]!r}"
        return None
    return f"unexpected status {response.status}: {response.body[:200]!r}"


class Tally:
    def __init__(self):
        self.statuses = collections.Counter()
        self.problems = collections.Counter()
        self.samples: list[str] = []

    def problem(self, what: str) -> None:
        key = what.split(":")[0][:80]
        self.problems[key] += 1
        if len(self.samples) < 10:
            self.samples.append(what)

    def ok(self) -> int:
        return self.statuses[200]

    def refused(self) -> int:
        return self.statuses[429] + self.statuses[503]

    def summary(self) -> str:
        return (f"statuses {dict(self.statuses)}, problems {dict(self.problems)}, "
                f"samples {self.samples}")


async def drive(port: int, connections: int, duration: float, body: bytes,
                check=classify) -> Tally:
    tally = Tally()
    deadline = time.monotonic() + duration

    async def worker():
        conn = None
        while time.monotonic() < deadline:
            try:
                if conn is None:
                    conn = await Connection.open("127.0.0.1", port)
                response = await asyncio.wait_for(
                    conn.request("POST", "/v1/chat/completions", HEADERS, body),
                    REQUEST_TIMEOUT_S)
            except asyncio.TimeoutError:
                tally.problem(f"timeout: no answer in {REQUEST_TIMEOUT_S} s")
                await conn.close()
                conn = None
                continue
            except ConnectionFailed as e:
                tally.problem(f"connection error: {e}")
                if conn is not None:
                    await conn.close()
                conn = None
                await asyncio.sleep(0.05)
                continue
            tally.statuses[response.status] += 1
            wrong = check(response)
            if wrong:
                tally.problem(wrong)
            if response.close:
                await conn.close()
                conn = None
        if conn is not None:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return tally


async def answers_normally(port: int, within: float = 5.0) -> tuple[bool, list[str]]:
    """Whether a fresh request is answered 200 within `within` seconds (refusals retried)."""
    seen = []
    deadline = time.monotonic() + within
    while True:
        try:
            conn = await Connection.open("127.0.0.1", port)
            try:
                response = await asyncio.wait_for(
                    conn.request("POST", "/v1/chat/completions", HEADERS, _chat_body()),
                    max(0.1, deadline - time.monotonic()) + 5)
            finally:
                await conn.close()
            seen.append(str(response.status))
            if response.status == 200 and classify(response) is None:
                return True, seen
        except (ConnectionFailed, asyncio.TimeoutError) as e:
            seen.append(repr(e))
        if time.monotonic() >= deadline:
            return False, seen
        await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
def mock():
    mock = start_mock(prefer_release=True)
    yield mock
    mock.stop()


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_256_connections_get_answers_or_deliberate_refusals(mock, tmp_path):
    gateway = start_gateway(
        tmp_path / "spin", mock.url, host="spin",
        config=default_config(mock.url, f"{{global_max_parallel_requests: {LIMIT}}}"))
    try:
        port = _port(gateway.url)
        tally = asyncio.run(drive(port, CONNECTIONS, DURATION_S, _chat_body()))
        recovered, seen = asyncio.run(answers_normally(port))
        total = sum(tally.statuses.values())
        print(f"\n{CONNECTIONS} connections, {DURATION_S} s: {total} answers "
              f"({total / DURATION_S:.0f}/s), {tally.ok()} ok, {tally.refused()} refused; "
              f"{tally.summary()}; after: {seen}")
        log = gateway.log_summary()
        assert not tally.problems, f"{tally.summary()}\nSpin's errors:\n{log}"
        assert tally.ok() > 0, tally.summary()
        # 256 concurrent requests against a limit of 32: the gateway must have shed some.
        assert tally.refused() > 0, f"no deliberate refusals: {tally.summary()}"
        assert recovered, f"no 200 right after the load: {seen}\nSpin's errors:\n{log}"
    finally:
        gateway.stop()


def _check_stream(response) -> str | None:
    if response.status != 200:
        return classify(response)
    if "text/event-stream" not in (response.header("content-type") or ""):
        return f"stream without text/event-stream: {response.headers}"
    events = [line[6:] for line in response.body.decode(errors="replace").splitlines()
              if line.startswith("data: ")]
    if not events or events[-1] != "[DONE]":
        return f"stream not ended by [DONE]: {response.body[-200:]!r}"
    text = ""
    for event in events[:-1]:
        chunk = json.loads(event)
        if chunk.get("object") != "chat.completion.chunk":
            return f"stream event that is not a chunk: {event[:200]}"
        for choice in chunk.get("choices", []):
            text += choice.get("delta", {}).get("content") or ""
    return None if text else "stream without content"


def test_streams_at_a_few_connections_with_the_default_limit(mock, tmp_path):
    gateway = start_gateway(tmp_path / "spin", mock.url, host="spin")
    try:
        tally = asyncio.run(drive(_port(gateway.url), 4, 10, _chat_body(stream=True),
                                  check=_check_stream))
        print(f"\nstreams: {tally.summary()}")
        assert not tally.problems, f"{tally.summary()}\nSpin's errors:\n{gateway.log_summary()}"
        assert set(tally.statuses) == {200}, tally.summary()
    finally:
        gateway.stop()
