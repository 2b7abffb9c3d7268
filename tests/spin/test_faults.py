"""Faults under real Spin and a real Redis (issue 10, "Faults to test").

One `redis-server` (loopback port, its own directory, append-only file fsynced on every write so
that keys survive a crash, as a production Redis keeps them), a streaming mock that paces its events
(so a stream is in flight long enough to kill a replica under it) and a gateway replica on
deploy/runtime-config.redis.toml pointed at that Redis. What is asserted:

- Redis refusing writes (a real Redis error, here `min-replicas-to-write` with no replica): a
  virtual key whose limits need a write gets a 503 with `retry-after` at once, OpenAI's error JSON
  (Anthropic's on /v1/messages) naming the store's error; the master key keeps working; the next
  request after Redis accepts writes again is answered.
- Redis stopped (killed) while serving: no virtual-key request is answered 200 while it is down
  (nothing is served unchecked), the master key keeps working (it touches no shared store), and
  virtual keys work again once Redis is back. Spin's Redis client does not fail fast: a request
  waits for its reconnect (see the test), so the requests are bounded by a client timeout here.
- One replica killed mid-stream: its client sees the connection break, the other replica's stream
  in flight ends normally and it keeps serving.
- A bad runtime config: Spin exits non-zero at once with its message, and binds no port (README,
  "Troubleshooting").
"""

import concurrent.futures
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hosts import MASTER_KEY, ROOT, Process, free_port, spin_binary, start_gateway, start_mock
from test_redis_replicas import generate, redis_runtime_config

# How long the test waits on one request while Redis is down before counting it as waiting.
OUTAGE_CLIENT_TIMEOUT_S = 5
# How long virtual keys may take to work again after Redis is back. Spin's Redis client retries
# its connection 1-2 s after the failure and then only every 60-120 s (see the test).
RECOVERY_DEADLINE_S = 200


class Redis:
    """A redis-server on a fixed loopback port that can be killed and started again on it."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.process: Process | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.workdir), "--save", "", "--appendonly", "yes",
                "--appendfsync", "always", "--daemonize", "no", "--protected-mode", "yes",
                "--logfile", str(self.workdir / "redis.log")]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.process = Process(self.url, proc, self.workdir / "redis.log")
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if self.command("PING").startswith(b"+PONG"):
                    return
            except OSError:
                pass
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not come up: {self.process.log_text()}")

    def kill(self) -> None:
        """As a crash: SIGKILL, no shutdown."""
        self.process.proc.kill()
        self.process.proc.wait(timeout=10)

    def running(self) -> bool:
        return self.process is not None and self.process.proc.poll() is None

    def stop(self) -> None:
        if self.process:
            self.process.stop()

    def command(self, *args: str) -> bytes:
        """One command in RESP; the raw reply."""
        payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(payload.encode())
            return s.recv(65536)


@pytest.fixture(scope="module")
def stack():
    """(Redis, mock URL, replica on Redis, runtime config text)."""
    if not shutil.which("redis-server"):
        pytest.skip("no redis-server (apt-get install redis-server; ./scripts/test does)")
    tmp = Path(tempfile.mkdtemp(prefix="gw-faults-"))
    redis = Redis(tmp / "redis")
    started: list = []
    try:
        redis.start()
        started.append(redis)
        # Streams paced at 200 ms an event (7 events with the usage chunk): about 1.4 s each.
        mock = start_mock(chunk_delay_ms=200, prefer_release=True)
        started.append(mock)
        config = redis_runtime_config(redis.url)
        replica = start_gateway(tmp / "a", mock.url, host="spin", runtime_config_text=config)
        started.append(replica)
        yield redis, mock.url, replica, config
    finally:
        for process in reversed(started):
            process.stop()
        shutil.rmtree(tmp, ignore_errors=True)


CHAT = {"model": "gpt-test", "messages": [{"role": "user", "content": "Say hello"}]}
STREAM = {**CHAT, "stream": True}
MESSAGES = {"model": "gpt-test", "max_tokens": 64,
            "messages": [{"role": "user", "content": "Say hello"}]}


def request(base: str, path: str, key: str, body: dict, timeout: float):
    """(status, headers, body bytes), or None when no answer came within `timeout` seconds."""
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("Authorization", f"Bearer {key}")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()
    except TimeoutError:
        return None
    except urllib.error.URLError as e:
        if isinstance(e.reason, TimeoutError):
            return None
        raise


def assert_store_refusal(answer, anthropic: bool) -> str:
    """A 503 with `retry-after` and the provider's error JSON naming the store; its message."""
    status, headers, raw = answer
    body = json.loads(raw)
    assert status == 503, (status, body)
    assert headers.get("retry-after", "").isdigit(), dict(headers)
    if anthropic:
        assert body["type"] == "error", body
        assert body["error"]["type"] == "api_error", body
    else:
        assert body["error"]["type"] == "server_error", body
        assert body["error"]["code"] == "auth_store_error", body
    message = body["error"]["message"]
    assert "key-value store is unavailable" in message, message
    return message


def test_redis_refusing_writes_gives_503_with_retry_after_then_recovers(stack):
    redis, _, replica, _ = stack
    key = generate(replica.url, rpm_limit=1000)
    assert request(replica.url, "/v1/chat/completions", key, CHAT, 30)[0] == 200
    # A primary that may not write (no replica in sync): every write fails with NOREPLICAS, reads
    # still work. The RPM count is a write, so the key cannot be checked.
    assert redis.command("CONFIG", "SET", "min-replicas-to-write", "1").startswith(b"+OK")
    try:
        for path, body in (("/v1/chat/completions", CHAT), ("/v1/chat/completions", STREAM)):
            message = assert_store_refusal(request(replica.url, path, key, body, 30), False)
            assert "NOREPLICAS" in message, message
        message = assert_store_refusal(request(replica.url, "/v1/messages", key, MESSAGES, 30),
                                       True)
        assert "NOREPLICAS" in message, message
        # The master key touches no shared store.
        status, _, raw = request(replica.url, "/v1/chat/completions", MASTER_KEY, CHAT, 30)
        assert status == 200, raw
    finally:
        assert redis.command("CONFIG", "SET", "min-replicas-to-write", "0").startswith(b"+OK")
    status, _, raw = request(replica.url, "/v1/chat/completions", key, CHAT, 30)
    assert status == 200, raw


def test_redis_stopped_while_serving_then_back(stack):
    redis, _, replica, _ = stack
    key = generate(replica.url, rpm_limit=1000)
    assert request(replica.url, "/v1/chat/completions", key, CHAT, 30)[0] == 200
    redis.kill()
    try:
        # The master key keeps working while Redis is down.
        started = time.time()
        status, _, raw = request(replica.url, "/v1/chat/completions", MASTER_KEY, CHAT, 30)
        assert status == 200, raw
        assert time.time() - started < 10
        # Virtual keys: never answered 200 while the store is down (it would have skipped the
        # limit check); a refusal is a 503 with retry-after; no answer within the timeout means
        # the request is waiting for the store.
        calls = [("/v1/chat/completions", CHAT, False), ("/v1/chat/completions", STREAM, False),
                 ("/v1/messages", MESSAGES, True)]
        with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
            answers = list(pool.map(
                lambda c: request(replica.url, c[0], key, c[1], OUTAGE_CLIENT_TIMEOUT_S), calls))
        waiting = 0
        for (path, _, anthropic), answer in zip(calls, answers):
            if answer is None:
                waiting += 1
            else:
                assert_store_refusal(answer, anthropic)
        # The gateway remembers the unanswered call: once one has waited 3 s, new virtual-key
        # requests are refused at once (503 with retry-after) instead of joining the wait. (The
        # first request after a recent success may itself become the call that waits.)
        refused = None
        for _ in range(3):
            asked = time.time()
            answer = request(replica.url, "/v1/chat/completions", key, CHAT,
                             OUTAGE_CLIENT_TIMEOUT_S)
            if answer is not None and time.time() - asked < 2:
                refused = answer
                break
        assert refused is not None, "no virtual-key request was refused at once"
        message = assert_store_refusal(refused, False)
        assert "has not answered" in message, message
        status, _, raw = request(replica.url, "/v1/chat/completions", MASTER_KEY, CHAT, 30)
        assert status == 200, raw
    finally:
        down_at = time.time()
        redis.start()
    # Back: the key (kept by Redis's append-only file) works again.
    deadline = down_at + RECOVERY_DEADLINE_S
    answer = None
    while time.time() < deadline:
        answer = request(replica.url, "/v1/chat/completions", key, CHAT,
                         max(1.0, deadline - time.time()))
        if answer is not None and answer[0] == 200:
            break
        if answer is not None:
            assert_store_refusal(answer, False)
            time.sleep(1)
    assert answer is not None and answer[0] == 200, answer
    recovered_after = time.time() - down_at
    print(f"virtual keys answered again {recovered_after:.1f} s after Redis was back")
    status, headers, _ = request(replica.url, "/v1/chat/completions", key, CHAT, 10)
    assert status == 200 and headers.get("x-ratelimit-limit-requests") == "1000"
    if waiting:
        # Spin 3.6.3 and 4.0.2 (crates/key-value-redis) keep one redis-rs 0.32.5
        # ConnectionManager per store, with no connection or response timeout; on a broken
        # connection it reconnects with backon's exponential backoff where the factor (100) acts
        # as the exponent base: retries after 1-2 s, then 60-120 s each, 6 tries. Every command
        # meanwhile awaits that reconnect, inside a synchronous key-value call the component
        # cannot time out: a request waits until Redis is back and the next retry connects, or
        # fails (503 auth_store_error) once a whole round has failed (8 and 16 minutes measured).
        pytest.xfail(
            f"{waiting} of {len(calls)} virtual-key requests made as the outage began were still "
            "waiting (later ones were refused at once) after "
            f"{OUTAGE_CLIENT_TIMEOUT_S} s with Redis down (Spin's Redis client waits for its "
            f"reconnect: 1 s, then 60-120 s steps); answered again {recovered_after:.0f} s after "
            "Redis was back")


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _open_stream(base: str, key: str):
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("POST", "/v1/chat/completions", json.dumps(STREAM),
                 {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200, response.read()
    return conn, response


def _content(sse: bytes) -> str:
    text = ""
    for line in sse.decode().splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            for choice in json.loads(line[6:]).get("choices", []):
                text += choice.get("delta", {}).get("content") or ""
    return text


def test_a_replica_killed_mid_stream_leaves_the_other_serving(stack, tmp_path):
    redis, mock_url, survivor, config = stack
    assert redis.running()
    key = generate(survivor.url)
    victim = start_gateway(tmp_path / "victim", mock_url, host="spin",
                           runtime_config_text=config)
    pids = [*_children(victim.proc.pid), victim.proc.pid]
    try:
        # One stream on each replica, both under way (first event received).
        v_conn, v_stream = _open_stream(victim.url, key)
        s_conn, s_stream = _open_stream(survivor.url, key)
        v_first = v_stream.readline()
        s_first = s_stream.readline()
        assert v_first.startswith(b"data: ") and s_first.startswith(b"data: ")
        # `spin up` serves from a child process (`spin trigger http`): kill both, as a crash.
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        victim.proc.wait(timeout=10)
        with pytest.raises((http.client.HTTPException, OSError)):
            rest = v_stream.read()
            # A clean end is no answer either: the stream must not look complete.
            assert b"[DONE]" not in rest
            raise http.client.IncompleteRead(rest)
        v_conn.close()
        # The survivor's stream in flight ends normally.
        s_rest = s_stream.read()
        s_conn.close()
        assert s_rest.rstrip().endswith(b"data: [DONE]"), s_rest[-200:]
        assert _content(s_first + s_rest) == "Hello from mock openai"
        # And it keeps serving, streams and whole answers, with the same shared key.
        conn, response = _open_stream(survivor.url, key)
        assert _content(response.read()) == "Hello from mock openai"
        conn.close()
        status, _, raw = request(survivor.url, "/v1/chat/completions", key, CHAT, 30)
        assert status == 200, raw
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", int(victim.url.rsplit(":", 1)[1])),
                                     timeout=2).close()
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        victim.stop()


# Runtime configs Spin must refuse, with (part of) the message Spin 3.6.3 prints. README,
# "Troubleshooting", names them.
BAD_RUNTIME_CONFIGS = {
    "unknown store type": (
        '[key_value_store.local]\ntype = "memcached"\n[key_value_store.limits]\ntype = "spin"\n',
        ["could not configure key-value store with label 'local'",
         "the store type 'memcached' was not registered"]),
    "missing local label": (
        '[key_value_store.limits]\ntype = "spin"\n',
        ['unknown key_value_stores label "local" for component "router"']),
    "misspelled section": (
        '[key_value_stores.local]\ntype = "spin"\n[key_value_store.limits]\ntype = "spin"\n',
        ["unused runtime config key(s): key_value_stores"]),
    "redis without url": (
        '[key_value_store.local]\ntype = "spin"\n[key_value_store.limits]\ntype = "redis"\n',
        ["could not configure key-value store with label 'limits'", "missing field `url`"]),
    "redis url of another scheme": (
        '[key_value_store.local]\ntype = "spin"\n[key_value_store.limits]\ntype = "redis"\n'
        'url = "http://127.0.0.1:6379"\n',
        ["could not configure key-value store with label 'limits'", "Invalid Redis URL"]),
}


@pytest.mark.parametrize("case", sorted(BAD_RUNTIME_CONFIGS))
def test_spin_refuses_a_bad_runtime_config(case, tmp_path):
    text, messages = BAD_RUNTIME_CONFIGS[case]
    config = tmp_path / "runtime-config.toml"
    config.write_text(text)
    port = free_port()
    env = {**os.environ, "SPIN_VARIABLE_MASTER_KEY": MASTER_KEY}
    result = subprocess.run(
        [spin_binary(), "up", "--from", str(ROOT / "spin.toml"), "--listen", f"127.0.0.1:{port}",
         "--runtime-config-file", str(config), "--state-dir", str(tmp_path / "state")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for message in messages:
        assert message in output, output
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
