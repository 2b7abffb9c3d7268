"""What deploy/ hands the gateway, run on the host `GATEWAY_HOST` names:
- the ConfigMap's config.yaml loads, its models are served, and a chat request goes through;
- the SpinApp's readiness and liveness paths answer 200;
- the runtime config spin-operator renders from the dev overlay's SpinApp (its file paths moved
  from the pod's volume to a temporary directory) starts the gateway, and the request log (and on
  real Spin the virtual keys) are in those files, so a new pod on the same volume still has them;
- on real Spin with a local redis-server, the runtime config rendered from the production
  SpinApp (Redis URL pointed at it) starts the gateway and serves a virtual key.
The repository's spin.toml and runtime-config.toml start as they are (the host refuses what Spin
refuses)."""

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from hosts import MASTER_KEY, Process, default_config, free_port, host_name, start_gateway, start_mock
from manifests import DEPLOY, LITELLM_CONFIG, one, operator_runtime_config, relocate, to_toml


def _configmap_config() -> str:
    """The gateway config as the ConfigMap carries it (kustomize makes it from this file)."""
    return (DEPLOY / "base" / "config.yaml").read_text()


def _call(url: str, key: str | None = MASTER_KEY, body: dict | None = None) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    if data:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, (json.loads(raw) if raw.startswith((b"{", b"[")) else raw)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def _get(url: str, key: str | None = None) -> dict:
    status, body = _call(url, key)
    assert status == 200, body
    return body


def _chat(base: str, key: str, model: str = "gpt-test") -> tuple[int, object]:
    return _call(f"{base}/v1/chat/completions", key,
                 {"model": model, "messages": [{"role": "user", "content": "hi"}]})


@pytest.fixture(scope="module")
def mock():
    process = start_mock()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def deployed(tmp_path_factory, mock):
    gateway = start_gateway(tmp_path_factory.mktemp(f"deploy-{host_name()}"), mock.url,
                            config=_configmap_config())
    yield gateway
    gateway.stop()


def test_configmap_config_loads_and_its_models_are_served(deployed):
    config = yaml.safe_load(_configmap_config())
    names = {m["model_name"] for m in config["model_list"]}
    health = _get(f"{deployed.url}/health")
    assert health["config"]["loaded"] is True, health
    served = {m["id"] for m in _get(f"{deployed.url}/v1/models", MASTER_KEY)["data"]}
    assert names <= served


def test_a_configmap_model_answers_through_its_provider(deployed):
    config = yaml.safe_load(_configmap_config())
    model = next(m["model_name"] for m in config["model_list"]
                 if m["litellm_params"]["model"].startswith("openai/"))
    status, answer = _chat(deployed.url, MASTER_KEY, model)
    assert status == 200, answer
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"]


def test_a_litellm_config_loads_as_it_is(tmp_path, mock):
    """The README's migration: a LiteLLM config.yaml with its usual sections (litellm_settings,
    router_settings, general_settings.master_key/database_url) loads unchanged."""
    config = LITELLM_CONFIG.read_text()
    gateway = start_gateway(tmp_path / "litellm", mock.url, config=config)
    try:
        health = _get(f"{gateway.url}/health")
        assert health["config"]["loaded"] is True, health
        served = {m["id"] for m in _get(f"{gateway.url}/v1/models", MASTER_KEY)["data"]}
        assert {m["model_name"] for m in yaml.safe_load(config)["model_list"]} <= served
        status, answer = _chat(gateway.url, MASTER_KEY, "gpt-4o")
        assert status == 200, answer
    finally:
        gateway.stop()


def test_the_spinapps_probe_paths_answer(deployed):
    """Probes carry no key: both paths answer 200 without one (the readiness check with the
    gateway's health JSON, the liveness check with Spin's own `OK`)."""
    app = yaml.safe_load((DEPLOY / "base" / "spinapp.yaml").read_text())
    for probe in ("readiness", "liveness"):
        path = app["spec"]["checks"][probe]["httpGet"]["path"]
        with urllib.request.urlopen(f"{deployed.url}{path}", timeout=10) as response:
            assert response.status == 200, (probe, path)
    readiness = _get(deployed.url + app["spec"]["checks"]["readiness"]["httpGet"]["path"])
    assert readiness["status"] == "healthy" and readiness["config"]["loaded"] is True


def test_readiness_fails_while_the_config_does_not_load(tmp_path, mock, monkeypatch):
    """A ConfigMap that does not load keeps a new pod unready (503), so a rollout stops there."""
    app = yaml.safe_load((DEPLOY / "base" / "spinapp.yaml").read_text())
    path = app["spec"]["checks"]["readiness"]["httpGet"]["path"]
    # start_gateway waits for a 200 from /health; here the gateway is up once it answers at all.
    real_urlopen = urllib.request.urlopen

    def answered(url, *args, **kwargs):
        try:
            return real_urlopen(url, *args, **kwargs)
        except urllib.error.HTTPError as e:
            if e.code != 503:
                raise

    with monkeypatch.context() as patched:
        patched.setattr(urllib.request, "urlopen", answered)
        gateway = start_gateway(tmp_path / "bad", mock.url,
                                config="model_list: [{model_name: x}]\n")
    try:
        status, body = _call(gateway.url + path, key=None)
        assert status == 503 and body["config"]["loaded"] is False, body
        live = app["spec"]["checks"]["liveness"]["httpGet"]["path"]
        with urllib.request.urlopen(f"{gateway.url}{live}", timeout=10) as response:
            assert response.status == 200
    finally:
        gateway.stop()


def _runtime_config_text(objects: list[dict], data_dir: Path) -> str:
    """The runtime config spin-operator writes for the overlay's SpinApp, with the files of the
    pod's volume in `data_dir`. The test host does not implement `config_provider` (Spin's
    environment provider, which Spin uses by default anyway), so it is left out there."""
    app = one(objects, "SpinApp")
    rc = operator_runtime_config(app, objects)
    (mount,) = app["spec"]["volumeMounts"]
    rc = relocate(rc, mount["mountPath"], data_dir)
    if host_name() != "spin":
        rc.pop("config_provider")
    return to_toml(rc)


def test_dev_runtime_config_keeps_keys_and_request_log_on_the_volume(rendered, tmp_path, mock):
    data = tmp_path / "volume"
    text = _runtime_config_text(rendered["dev"], data)
    config = default_config(mock.url)
    first = start_gateway(tmp_path / "pod-1", mock.url, config=config, runtime_config_text=text)
    try:
        status, created = _call(f"{first.url}/key/generate", body={"models": ["gpt-test"]})
        assert status == 200, created
        key = created["key"]
        status, answer = _chat(first.url, key)
        assert status == 200, answer
        status, logs = _call(f"{first.url}/spend/logs")
        assert status == 200 and [r.get("model") for r in logs] == ["gpt-test"], logs
    finally:
        first.stop()
    assert (data / "request-log.db").stat().st_size > 0
    if host_name() == "spin":
        assert (data / "gateway-kv.db").stat().st_size > 0
    # A new pod (new working and state directories) on the same volume.
    second = start_gateway(tmp_path / "pod-2", mock.url, config=config, runtime_config_text=text)
    try:
        status, logs = _call(f"{second.url}/spend/logs")
        assert status == 200 and [r.get("model") for r in logs] == ["gpt-test"], logs
        if host_name() == "spin":
            # The test host keeps every key-value store in memory whatever its path; Spin keeps
            # `default` in the file, so the virtual key made on the first pod still works.
            status, answer = _chat(second.url, key)
            assert status == 200, answer
    finally:
        second.stop()


def _start_redis(workdir: Path) -> Process:
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
         "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile",
         str(workdir / "redis.log")], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    redis = Process(f"redis://127.0.0.1:{port}", proc, workdir / "redis.log")
    deadline = time.time() + 20
    while time.time() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return redis
        except OSError:
            time.sleep(0.1)
    redis.stop()
    raise RuntimeError(f"redis-server did not come up: {redis.log_text()}")


def test_production_runtime_config_runs_on_spin_with_redis(rendered, tmp_path, mock):
    if host_name() != "spin":
        pytest.skip("Redis stores run on real Spin only (the test host has in-memory stores)")
    if not shutil.which("redis-server"):
        pytest.skip("no redis-server (apt-get install redis-server; ./scripts/test does)")
    redis = _start_redis(tmp_path / "redis")
    try:
        text = _runtime_config_text(rendered["production"], tmp_path / "volume")
        production_url = "redis://redis.llm-gateway.svc.cluster.local:6379"
        assert text.count(production_url) == 2, text
        text = text.replace(production_url, redis.url)
        gateway = start_gateway(tmp_path / "pod", mock.url, config=default_config(mock.url),
                                runtime_config_text=text)
        try:
            status, created = _call(f"{gateway.url}/key/generate", body={"models": ["gpt-test"]})
            assert status == 200, created
            status, answer = _chat(gateway.url, created["key"])
            assert status == 200, answer
            status, logs = _call(f"{gateway.url}/spend/logs")
            assert status == 200 and [r.get("model") for r in logs] == ["gpt-test"], logs
        finally:
            gateway.stop()
        assert (tmp_path / "volume" / "request-log.db").stat().st_size > 0
        # The key lives in Redis, not in a file of the pod.
        assert not (tmp_path / "volume" / "gateway-kv.db").exists()
    finally:
        redis.stop()
