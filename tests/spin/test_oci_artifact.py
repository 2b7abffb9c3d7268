"""The gateway as an OCI artifact, run the way SpinKube's shim runs it (issue 10, item 3).

`scripts/package` pushes the app (components already built in target/) to a local registry
(Debian's `docker-registry` on a loopback port, its own storage directory and config); then real
Spin runs it with `spin up --from <reference>` from an empty directory: no spin.toml, no wasm, no
gateway.yaml on disk, only a runtime config file and the variables in the environment. It must
answer a chat completion through the mock upstream, a virtual key must work, and the request must
reach the request log.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hosts import (
    MASTER_KEY, OPENAI_KEY, ROOT, TARGET, Process, default_config, free_port, spin_binary,
    start_mock,
)

COMPONENTS = ("router", "auth", "provider_openai", "provider_anthropic", "provider_gemini")
# The request log: without a `[sqlite_database.default]` entry an app run from a registry (no
# state directory) gets a fresh in-memory database for every connection, and the log is lost.
SQLITE_LOG = """
[sqlite_database.default]
type = "spin"
path = "sqlite_db.db"
"""


def start_registry(workdir: Path) -> Process:
    port = free_port()
    storage = workdir / "storage"
    storage.mkdir(parents=True)
    config = workdir / "config.yml"
    config.write_text(f"""version: 0.1
log: {{level: warn}}
storage:
  filesystem: {{rootdirectory: {storage}}}
  delete: {{enabled: true}}
http:
  addr: 127.0.0.1:{port}
""")
    log = workdir / "registry.log"
    with open(log, "w") as log_file:
        proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log_file,
                                stderr=subprocess.STDOUT)
    registry = Process(f"127.0.0.1:{port}", proc, log)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://{registry.url}/v2/", timeout=1)
            return registry
        except Exception:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    registry.stop()
    raise RuntimeError(f"docker-registry did not come up: {registry.log_text()}")


def run(args: list[str], **kwargs) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def request(base: str, path: str, body: dict | None = None, key: str = MASTER_KEY):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data)
    req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


@pytest.fixture(scope="module")
def pulled_gateway():
    if not shutil.which("docker-registry"):
        pytest.skip("no docker-registry (apt-get install docker-registry; ./scripts/test does)")
    missing = [c for c in COMPONENTS
               if not (TARGET / "wasm32-wasip2" / "release" / f"{c}.wasm").exists()]
    if missing:
        pytest.skip(f"components not built ({missing}): run scripts/build-wasm")
    spin = spin_binary()
    tmp = Path(tempfile.mkdtemp(prefix="gw-oci-"))
    started: list[Process] = []
    try:
        registry = start_registry(tmp / "registry")
        started.append(registry)
        reference = f"{registry.url}/llm-gateway:test"
        env = dict(os.environ, SKIP_BUILD="1", PATH=f"{Path(spin).parent}:{os.environ['PATH']}")
        run([str(ROOT / "scripts" / "package"), reference, "--insecure",
             "--cache-dir", str(tmp / "push-cache")], env=env)

        mock = start_mock()
        started.append(mock)
        # What the shim has: the reference, a runtime config (from a Secret) and variables.
        run_dir = tmp / "run"
        run_dir.mkdir()
        runtime_config = tmp / "runtime-config" / "runtime-config.toml"
        runtime_config.parent.mkdir()
        runtime_config.write_text((ROOT / "runtime-config.toml").read_text() + SQLITE_LOG)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPIN_VARIABLE_")}
        for name, value in {
            "gateway_config": default_config(mock.url), "master_key": MASTER_KEY,
            "openai_api_key": OPENAI_KEY, "openai_origin": mock.url,
        }.items():
            env[f"SPIN_VARIABLE_{name.upper()}"] = value
        log = tmp / "spin.log"
        with open(log, "w") as log_file:
            proc = subprocess.Popen(
                [spin, "up", "--from", reference, "--insecure", "--cache-dir", str(tmp / "cache"),
                 "--listen", f"127.0.0.1:{port}", "--runtime-config-file", str(runtime_config)],
                cwd=run_dir, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        gateway = Process(f"http://127.0.0.1:{port}", proc, log)
        started.append(gateway)
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"{gateway.url}/health", timeout=2)
                break
            except Exception:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"spin up --from {reference} failed: {gateway.log_text()}")
                time.sleep(0.2)
        yield gateway, run_dir
    finally:
        for process in reversed(started):
            process.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_the_pulled_artifact_answers_a_chat_completion(pulled_gateway):
    gateway, run_dir = pulled_gateway
    status, body = request(gateway.url, "/key/generate", {"models": ["gpt-test"]})
    assert status == 200, body
    status, body = request(gateway.url, "/v1/chat/completions", {
        "model": "gpt-test", "messages": [{"role": "user", "content": "Say hello"}],
    }, key=body["key"])
    assert status == 200, body
    assert body["object"] == "chat.completion" and body["choices"][0]["message"]["content"]
    # The request reached the request log (the database the runtime config names).
    status, logs = request(gateway.url, "/spend/logs")
    assert status == 200, logs
    assert [row.get("model") for row in logs] == ["gpt-test"], logs
    # Nothing of the app came from local files: the run directory holds only the stores.
    assert not list(run_dir.glob("**/*.wasm")) and not (run_dir / "spin.toml").exists()
