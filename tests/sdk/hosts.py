"""Starting the mock upstream and the gateway as processes, on either host.

`GATEWAY_HOST` selects the host the gateway runs on:
- `test-host` (default): the project's wasmtime test host (`target/debug/test-host`);
- `spin`: real `spin up` (the `spin` on PATH; `./scripts/test` puts Spin 3.6.3 from ../shared/spin
  there, or `SPIN_BIN` names a binary).

Both run the repository's spin.toml with a copy of runtime-config.toml in a fresh directory that is
also the working directory and the state directory, so every gateway starts with empty stores.
"""

import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
OPENAI_KEY = "sk-test-openai-provider-key-0001"
ANTHROPIC_KEY = "sk-ant-test-provider-key-0002"
GEMINI_KEY = "AIza-test-gemini-provider-key-0003"
MASTER_KEY = "sk-master-test-key-0004"
HOSTS = ("test-host", "spin")


def host_name() -> str:
    host = os.environ.get("GATEWAY_HOST", "test-host")
    if host not in HOSTS:
        raise ValueError(f"GATEWAY_HOST must be one of {HOSTS}, not {host!r}")
    return host


def spin_binary() -> str | None:
    """The Spin CLI to run: `SPIN_BIN`, else `spin` on PATH."""
    return os.environ.get("SPIN_BIN") or shutil.which("spin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binary(name: str, prefer_release: bool = False) -> Path:
    profiles = ["release", "debug"] if prefer_release else ["debug", "release"]
    for profile in profiles:
        path = TARGET / profile / name
        if path.exists():
            return path
    raise FileNotFoundError(f"{name} is not built (cargo build -p {name})")


@dataclass
class Process:
    url: str
    proc: subprocess.Popen
    log: Path | None = None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""

    def log_summary(self, limit: int = 10) -> str:
        """The distinct ERROR/WARN lines of the log (timestamps dropped), most frequent first."""
        counts: dict[str, int] = {}
        for line in self.log_text().splitlines():
            if "ERROR" in line or "WARN" in line:
                line = re.sub(r"^\S*\d{4}-\d\d-\d\dT[\d:.]+Z?\s*", "", line.strip())
                counts[line] = counts.get(line, 0) + 1
        top = sorted(counts.items(), key=lambda kv: -kv[1])[:limit]
        return "\n".join(f"{n:>7} x {line[:300]}" for line, n in top) or "(none)"


def start_mock(chunk_delay_ms: int | None = None, prefer_release: bool = False) -> Process:
    args = [str(_binary("mock-providers", prefer_release)), "--listen", "127.0.0.1:0",
            "--openai-key", OPENAI_KEY, "--openai-key", "dummy-key",
            "--anthropic-key", ANTHROPIC_KEY, "--gemini-key", GEMINI_KEY]
    if chunk_delay_ms is not None:
        args += ["--chunk-delay-ms", str(chunk_delay_ms)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", line)
    if not match:
        proc.terminate()
        raise RuntimeError(f"mock did not announce its address: {line!r}")
    return Process(match.group(0), proc)


def default_config(mock: str, general_settings: str = "") -> str:
    config = f"""model_list:
  - model_name: gpt-test
    litellm_params: {{model: openai/gpt-4o-mini}}
  - model_name: llama-test
    litellm_params: {{model: hosted_vllm/meta-llama/Llama-3.1-8B-Instruct, api_base: {mock}/v1, api_key: dummy-key}}
  - model_name: claude-test
    litellm_params: {{model: anthropic/claude-sonnet-4-5}}
  - model_name: gemini-test
    litellm_params: {{model: gemini/gemini-2.5-flash}}
  - model_name: broken
    litellm_params: {{model: openai/mock-error-503}}
  - model_name: pair
    litellm_params: {{model: openai/mock-retry-after-30-pair}}
    model_info: {{id: pair-bad}}
  - model_name: pair
    litellm_params: {{model: openai/gpt-4o-mini}}
    model_info: {{id: pair-good}}
router_settings:
  fallbacks: [{{broken: [claude-test]}}]
"""
    if general_settings:
        config += f"general_settings: {general_settings}\n"
    return config


def start_gateway(workdir: Path, mock_url: str, config: str | None = None,
                  host: str | None = None, variables: dict | None = None,
                  timeout: float = 180, runtime_config_text: str | None = None) -> Process:
    """Starts the gateway on `host` (default: GATEWAY_HOST) in `workdir` and waits for /health.
    `runtime_config_text` replaces the copy of runtime-config.toml (e.g. stores on Redis)."""
    host = host or host_name()
    workdir.mkdir(parents=True, exist_ok=True)
    runtime_config = workdir / "runtime-config.toml"
    if runtime_config_text is None:
        shutil.copyfile(ROOT / "runtime-config.toml", runtime_config)
    else:
        runtime_config.write_text(runtime_config_text)
    state = workdir / "state"
    port = free_port()
    env = dict(os.environ)
    values = {
        "gateway_config": config if config is not None else default_config(mock_url),
        "openai_api_key": OPENAI_KEY,
        "anthropic_api_key": ANTHROPIC_KEY,
        "gemini_api_key": GEMINI_KEY,
        "master_key": MASTER_KEY,
        "openai_origin": mock_url,
        "anthropic_origin": mock_url,
        "gemini_origin": mock_url,
        "openai_compatible_origin": mock_url,
        **(variables or {}),
    }
    for name, value in values.items():
        env[f"SPIN_VARIABLE_{name.upper()}"] = value
    env.pop("RUNTIME_CONFIG_FILE", None)
    common = ["--listen", f"127.0.0.1:{port}", "--runtime-config-file", str(runtime_config),
              "--state-dir", str(state)]
    if host == "spin":
        spin = spin_binary()
        if not spin:
            raise RuntimeError("GATEWAY_HOST=spin but no spin binary (set SPIN_BIN or PATH)")
        args = [spin, "up", "--from", str(ROOT / "spin.toml"), *common]
    else:
        args = [str(_binary("test-host")), "--from", str(ROOT / "spin.toml"), *common]
    log = workdir / f"{host}.log"
    with open(log, "w") as log_file:
        proc = subprocess.Popen(args, env=env, cwd=workdir, stdout=log_file,
                                stderr=subprocess.STDOUT)
    gateway = Process(f"http://127.0.0.1:{port}", proc, log)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{gateway.url}/health", timeout=2)
            return gateway
        except Exception:
            if proc.poll() is not None:
                raise RuntimeError(f"{host} exited ({proc.returncode}): {gateway.log_text()}")
            time.sleep(0.2)
    gateway.stop()
    raise RuntimeError(f"gateway on {host} did not come up: {gateway.log_text()}")
