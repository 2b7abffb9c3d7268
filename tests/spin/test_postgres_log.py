"""The request log on a real PostgreSQL server (Debian's `postgresql`, started here on a loopback
port by scripts/pg-test, own data directory, stopped afterwards), with `log_store = postgres`:
rows and rollups arrive (checked in the database itself with psql, and through the usage API); a
stopped database changes no answer, and the rows written while it was down arrive once it is
back. On real Spin (3.6.3 from ./scripts/test) and on the test host (its `spin:postgres` talks to
the same server)."""

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hosts import MASTER_KEY, ROOT, default_config, free_port, start_gateway, start_mock

PG_TEST = ROOT / "scripts" / "pg-test"


def psql_bin() -> str:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))
    if not found:
        pytest.skip("PostgreSQL is not installed")
    return str(found[-1])


@pytest.fixture(scope="module")
def postgres():
    port = free_port()
    try:
        out = subprocess.run([str(PG_TEST), "start", str(port)], check=True, capture_output=True,
                             text=True, timeout=120).stdout.splitlines()
    except subprocess.CalledProcessError as e:
        pytest.skip(f"no PostgreSQL server: {e.stderr}")
    directory, url = out[0], out[1]
    yield {"dir": directory, "port": port, "url": url}
    subprocess.run([str(PG_TEST), "stop", directory], check=False, timeout=60)


def sql(pg: dict, dbname: str, statement: str) -> list[str]:
    url = pg["url"].replace("dbname=postgres", f"dbname={dbname}")
    out = subprocess.run([psql_bin(), url, "-At", "-c", statement], check=True,
                         capture_output=True, text=True, timeout=30).stdout
    return out.splitlines()


def call(url: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"{url}{path}", data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def chat(model: str, stream: bool = False) -> dict:
    return {"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}


def answers(url: str) -> list[tuple[int, str]]:
    """Whole, streamed and failed requests: statuses and the answers' text."""
    out = []
    for model, stream in (("gpt-test", False), ("gpt-test", True), ("err-500", False)):
        status, body = call(url, "/v1/chat/completions", chat(model, stream))
        text = body.decode()
        if status == 200 and not stream:
            text = json.loads(text)["choices"][0]["message"]["content"]
        elif status == 200:
            text = "".join(
                (json.loads(line[6:])["choices"] or [{}])[0].get("delta", {}).get("content") or ""
                for line in text.splitlines()
                if line.startswith("data: {"))
        else:
            text = json.loads(text)["error"]["code"] or ""
        out.append((status, text))
    return out


@pytest.mark.parametrize("host", ["spin", "test-host"])
def test_rows_and_rollups_reach_postgres_and_an_outage_changes_no_answer(
        postgres, host, tmp_path):
    db = f"gateway_{host.replace('-', '_')}"
    sql(postgres, "postgres", f"DROP DATABASE IF EXISTS {db}")
    sql(postgres, "postgres", f"CREATE DATABASE {db}")
    mock = start_mock()
    # Prompts and answers kept too: their columns round-trip through PostgreSQL's TEXT.
    config = default_config(mock.url, "{store_prompts_in_spend_logs: true}").replace("router_settings:", (
        "  - model_name: err-500\n    litellm_params: {model: openai/mock-error-500}\n"
        "router_settings:"))
    gateway = start_gateway(tmp_path / host, mock.url, config=config, host=host, variables={
        "log_store": "postgres",
        "postgres_url": postgres["url"].replace("dbname=postgres", f"dbname={db}"),
        "postgres_host": f"127.0.0.1:{postgres['port']}",
    }, timeout=600)
    try:
        first = answers(gateway.url)
        assert [s for s, _ in first] == [200, 200, 502], first
        status, body = call(gateway.url, "/spend/logs?limit=100")
        assert status == 200, body
        rows = json.loads(body)
        assert len(rows) == 3 and {r["status"] for r in rows} == {200, 502}, rows
        for r in rows:
            assert r["messages"] == {"messages": [{"role": "user", "content": "hi"}]}, r
        whole = next(r for r in rows if r["status"] == 200 and not r["stream"])
        assert whole["response"]["choices"][0]["message"]["content"] == first[0][1], whole
        assert sql(postgres, db, "SELECT count(*) FROM request_log") == ["3"]
        for grain in (60, 3600, 86400):
            sums = sql(postgres, db, "SELECT sum(requests), sum(errors), sum(prompt_tokens), "
                                     f"sum(completion_tokens) FROM usage_rollup WHERE grain = {grain}")
            raw = sql(postgres, db, "SELECT count(*), sum(CASE WHEN status >= 400 THEN 1 ELSE 0 END), "
                                    "sum(prompt_tokens), sum(completion_tokens) FROM request_log")
            assert sums == raw, (grain, sums, raw)

        # The database stops: every answer is what it was; the rows wait in the replica's queue.
        subprocess.run([str(PG_TEST), "halt", postgres["dir"]], check=True, timeout=60)
        assert answers(gateway.url) == first
        status, body = call(gateway.url, "/spend/logs")
        assert status == 500 and b"request log" in body, body

        # Back: the queued rows arrive, once each.
        subprocess.run([str(PG_TEST), "resume", postgres["dir"], str(postgres["port"])],
                       check=True, timeout=60)
        status, body = call(gateway.url, "/spend/logs?limit=100")
        assert status == 200, body
        assert len(json.loads(body)) == 6
        assert sql(postgres, db, "SELECT count(*), count(DISTINCT call_id) FROM request_log") == ["6|6"]
        assert sql(postgres, db, "SELECT sum(requests) FROM usage_rollup WHERE grain = 60") == ["6"]
        status, body = call(gateway.url, "/global/activity")
        assert status == 200 and json.loads(body)["sum_api_requests"] == 6, body
    finally:
        gateway.stop()
        mock.stop()
