"""The test host's SQLite (`spin:sqlite/sqlite@3.0.0`, `fermyon:spin/sqlite@2.0.0`) answers like
real Spin's: a probe component (tests/spin/probe, built by ./scripts/test) runs the same statements
on both hosts and the answers (rows, columns, value types, errors, changes, last rowid, which
database labels open) must be identical."""

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hosts import ROOT, TARGET, free_port, spin_binary

PROBE = Path(__file__).resolve().parent / "probe"
WASM = TARGET / "wasm32-wasip2" / "release" / "sqlite_probe.wasm"


def _start(host: str, workdir: Path):
    workdir.mkdir(parents=True)
    shutil.copyfile(PROBE / "runtime-config.toml", workdir / "runtime-config.toml")
    port = free_port()
    common = ["--from", str(PROBE / "spin.toml"), "--listen", f"127.0.0.1:{port}",
              "--runtime-config-file", str(workdir / "runtime-config.toml"),
              "--state-dir", str(workdir / "state")]
    binary = spin_binary() if host == "spin" else str(TARGET / "debug" / "test-host")
    args = [binary, "up", *common] if host == "spin" else [binary, *common]
    log = open(workdir / "log", "w")
    proc = subprocess.Popen(args, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, data=b"{}", timeout=2)
            return proc, url
        except Exception:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"probe on {host} did not start: {(workdir / 'log').read_text()}")


def op(sql, *params):
    return {"sql": sql, "params": list(params)}


BLOB = {"blob": [0, 1, 255]}
SETUP = op("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, i INTEGER, r REAL, s TEXT, "
           "b BLOB, n, u TEXT UNIQUE)")

CASES = {
    "values round trip": {"ops": [
        SETUP,
        op("INSERT INTO t (i, r, s, b, n, u) VALUES (?, ?, ?, ?, ?, ?)",
           -7, 1.5, "héllo", BLOB, None, "a"),
        op("SELECT i, r, s AS label, b, n, typeof(r), 1 + 1 AS two FROM t WHERE u = 'a'"),
        op("UPDATE t SET i = i + 1"),
        op("SELECT count(*) FROM t"),
    ]},
    "insert returning": {"ops": [
        SETUP, op("INSERT INTO t (u) VALUES (?) RETURNING id, u", "returning")]},
    "several statements in one execute": {"ops": [
        op("CREATE TABLE multi (x); INSERT INTO multi VALUES (1); CREATE TABLE other (y)"),
        op("SELECT name FROM sqlite_master WHERE name IN ('multi', 'other') ORDER BY name"),
        op("SELECT count(*) FROM multi"),
        op("SELECT 1 AS one; SELECT 2 AS two"),
    ]},
    "empty statements": {"ops": [op(""), op("   "), op(";"), op("-- only a comment")]},
    "errors": {"ops": [
        SETUP,
        op("SELECT * FROM missing"),
        op("SELEKT 1"),
        op("SELECT ?"),
        op("SELECT ?", 1, 2),
        op("INSERT INTO t (u) VALUES ('dup')"),
        op("INSERT INTO t (u) VALUES ('dup')"),
    ]},
    "parameters": {"ops": [
        op("SELECT :a + :b AS s, ?3 AS third", 2, 3, "x"),
        op("SELECT $x, @y", 1, 2),
        op("SELECT ?2, ?1", "first", "second"),
    ]},
    "pragmas": {"ops": [
        op("PRAGMA journal_mode=WAL"),
        op("PRAGMA synchronous=NORMAL"),
        op("PRAGMA synchronous"),
        op("PRAGMA journal_mode"),
        op("PRAGMA busy_timeout"),
    ]},
    "default persists across connections": {"reopen": True, "ops": [
        op("CREATE TABLE IF NOT EXISTS kept (x)"),
        op("INSERT INTO kept VALUES (42)"),
        op("SELECT x FROM kept"),
    ]},
    "in-memory database is new per connection": {"db": "scratch", "reopen": True, "ops": [
        op("CREATE TABLE gone (x)"),
        op("SELECT * FROM gone"),
    ]},
    "in-memory database within one connection": {"db": "scratch", "ops": [
        op("CREATE TABLE kept (x)"), op("INSERT INTO kept VALUES (1)"), op("SELECT * FROM kept"),
        op("PRAGMA journal_mode"),
    ]},
    "label listed but not defined": {"db": "ghost", "ops": []},
    "label neither listed nor defined": {"db": "nope", "ops": []},
    "v2 interface": {"v2": True, "ops": [
        SETUP, op("SELECT typeof(?), ?", 1.25, BLOB), op("SELECT * FROM missing")]},
    "v2 label not allowed": {"v2": True, "db": "nope", "ops": []},
    "text that is not UTF-8": {"ops": [op("SELECT CAST(x'ff' AS TEXT)"), op("SELECT 1")]},
}


# A guest that traps before answering, and one that answers with an error code: Spin answers both
# with an empty 500.
FAILING = ["/trap", "/error-code"]


def _ask(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def answers(tmp_path_factory):
    if not WASM.exists():
        pytest.skip(f"{WASM} not built (./scripts/test builds tests/spin/probe)")
    out = {}
    for host in ("test-host", "spin"):
        proc, url = _start(host, tmp_path_factory.mktemp("probe") / host)
        try:
            out[host] = {}
            for name, body in CASES.items():
                try:
                    out[host][name] = _ask(url, body)
                except Exception as e:  # a failed instance: compare that too
                    out[host][name] = {"request failed": type(e).__name__}
            for path in FAILING:
                try:
                    with urllib.request.urlopen(url + path, timeout=30) as r:
                        out[host][path] = (r.status, r.read().decode())
                except urllib.error.HTTPError as e:
                    out[host][path] = (e.code, e.read().decode())
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_same_sqlite_answer_on_both_hosts(answers, case):
    test_host, spin = answers["test-host"][case], answers["spin"][case]
    assert test_host == spin, (f"\ntest host: {json.dumps(test_host, indent=1)}"
                               f"\nspin:      {json.dumps(spin, indent=1)}")


@pytest.mark.parametrize("path", FAILING)
def test_failing_guests_get_spins_answer(answers, path):
    assert answers["test-host"][path] == answers["spin"][path]


def test_the_probe_manifest_is_refused_by_both_hosts_without_its_runtime_config(tmp_path):
    """`scratch` is defined only by the runtime config: without it both hosts refuse to start."""
    outputs = {}
    for host in ("test-host", "spin"):
        binary = spin_binary() if host == "spin" else str(TARGET / "debug" / "test-host")
        args = ([binary, "up"] if host == "spin" else [binary]) + [
            "--from", str(PROBE / "spin.toml"), "--listen", f"127.0.0.1:{free_port()}",
            "--state-dir", str(tmp_path / host)]
        try:
            done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)
            outputs[host] = (done.returncode != 0, done.stdout + done.stderr)
        except subprocess.TimeoutExpired:
            outputs[host] = (False, "still running after 60 s")
    for host, (refused, output) in outputs.items():
        assert refused, f"{host} started: {output}"
        assert "Component probe uses database 'scratch'" in output, f"{host}: {output}"
