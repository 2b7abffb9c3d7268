"""Runtime models across two real-Spin replicas sharing Redis: a model added or deleted through
one replica's model API is served by the other within a second of its virtual-key requests (a
replica compares the shared version at most once a second, on requests that read the shared store
anyway; the list itself lives in the shared `default` store)."""

import time

from test_redis_replicas import call, cluster  # noqa: F401  (the two-replica fixture)

KEY = {}


def ask(base: str, model: str):
    return call(base, "/v1/chat/completions", KEY["key"],
                body={"model": model, "messages": [{"role": "user", "content": "Say hello"}]})


def eventually(check, seconds: float = 5.0):
    """The last answer of `check` once it passes, or after `seconds` (runtime changes reach the
    other replica within about a second)."""
    deadline = time.time() + seconds
    while True:
        ok, value = check()
        if ok or time.time() > deadline:
            return ok, value
        time.sleep(0.1)


def test_a_runtime_model_reaches_the_other_replica(cluster):  # noqa: F811
    a, b = cluster
    status, _, created = call(a.url, "/key/generate", body={"key_alias": "runtime-models"})
    assert status == 200, created
    KEY["key"] = created["key"]
    assert ask(b.url, "rt-shared")[0] == 404
    status, _, created = call(a.url, "/model/new", body={
        "model_name": "rt-shared", "litellm_params": {"model": "openai/gpt-4o-mini"}})
    assert status == 200, created
    assert ask(a.url, "rt-shared")[0] == 200, "at once on the replica that made the change"
    started = time.time()
    ok, answer = eventually(lambda: (ask(b.url, "rt-shared")[0] == 200, ask(b.url, "rt-shared")))
    assert ok, answer
    assert time.time() - started < 3
    status, _, info = call(b.url, f"/model/info?litellm_model_id={created['model_id']}")
    assert status == 200 and info["data"][0]["model_info"]["source"] == "runtime", info

    status, _, body = call(b.url, "/model/delete", body={"id": created["model_id"]})
    assert status == 200, body
    ok, answer = eventually(lambda: (ask(a.url, "rt-shared")[0] == 404, ask(a.url, "rt-shared")))
    assert ok, answer
