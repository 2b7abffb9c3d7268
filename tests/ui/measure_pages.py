"""Measures each console page's first load against a gateway whose request log holds
1,000,000 seeded requests (not a test: run by hand, prints a table).

    GATEWAY_HOST=spin target/sdk-venv/bin/python tests/ui/measure_pages.py [ROWS]

The gateway runs once to create its request-log schema; the rows are then written straight
into its SQLite file (20 keys, 8 models over 4 providers, 30 days, 3 % errors) and rolled up
into the minute/hour/day rollups the Overview reads, and it runs again on that state. Each page is opened in a fresh browser context (empty cache) with the
master key in sessionStorage; the time is from navigation start until the page shows its data
(or the API's error), as the page itself records it (a MutationObserver notes `performance.now()`
when the data is first in the DOM), with the navigation and resource timings; then, in one context,
the time from switching to each page inside the console until its data shows."""

import random
import sqlite3
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from hosts import MASTER_KEY, host_name, start_gateway, start_mock  # noqa: E402
from ui_support import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, ui_config  # noqa: E402

PAGES = {  # page: what shows once its data is there
    "overview": "main .cards, main .error",
    "requests": "main tbody tr, main .error",
    "keys": "main tbody tr, main .error",
    "models": "main section.group, main .error",
    "health": "main table, main .error",
    "try": "select[name=model] option, main .error",
}
API_CALLS = {  # page: the API call it waits for
    "overview": "usage/series?start_date={start}&end_date={end}&bucket=hour&group_by=model",
    "requests": "spend/logs?limit=50",
    "keys": "key/list?page=1&size=20",
    "models": "model/info",
    "health": "health",
    "try": "v1/models",
}
MODELS = [("gpt-4o", "openai"), ("gpt-4o-mini", "openai"), ("claude-sonnet", "anthropic"),
          ("claude-haiku", "anthropic"), ("gemini-flash", "gemini"), ("gemini-pro", "gemini"),
          ("llama-3.1-8b", "openai-compatible"), ("qwen-2.5", "openai-compatible")]


# Recorded by the page itself: the moment (ms since navigation start) its data is first in the
# DOM, seen by a MutationObserver (not by polling from outside, which adds its own delay).
SHOWN = """
new MutationObserver((_, observer) => {
  if (window.__shown === undefined && document.querySelector(READY)) {
    window.__shown = performance.now();
    observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""
# Where the time went: the HTML's response, the scripts parsed (DOMContentLoaded) and the page's
# API calls (resource timing), next to the moment the data showed.
TIMINGS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const api = performance.getEntriesByType('resource').filter(r => r.initiatorType === 'fetch');
  return {shown: window.__shown, html: nav.responseEnd, dcl: nav.domContentLoadedEventEnd,
          api: api.length ? Math.max(...api.map(r => r.responseEnd)) : null};
}"""


def call(url, path, body=None):
    request = urllib.request.Request(f"{url}/{path}", data=body, headers={
        "authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as r:
        return r.read()


# LiteLLM's latency buckets of the rollups' histograms (crates/auth-core/src/histogram.rs).
BOUNDS_MS = [5, 6.25, 12.5, 25, 50, 100, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000,
             5500, 6000, 6500, 7000, 7500, 8000, 8500, 9000, 9500, 10000, 15000, 20000, 25000,
             30000, 60000, 120000, 180000, 240000, 300000]


def in_bucket(col: str, i: int) -> str:
    low = f"{col} > {BOUNDS_MS[i - 1]} AND " if i else ""
    high = f"{col} <= {BOUNDS_MS[i]}" if i < len(BOUNDS_MS) else f"{col} IS NOT NULL"
    return f"SUM(CASE WHEN {low}{high} THEN 1 ELSE 0 END)"


def roll_up(con: sqlite3.Connection):
    """Rebuilds the minute, hour and day rollups from the rows, as the gateway's backfill
    migration does (crates/auth-core/src/schema.rs); the gateway keeps them current after."""
    con.execute("DELETE FROM usage_rollup")
    buckets = range(len(BOUNDS_MS) + 1)
    hist = [f"lat_{i}" for i in buckets] + [f"ttft_{i}" for i in buckets]
    for grain in (60, 3600, 86400):
        con.execute(
            "INSERT INTO usage_rollup (grain, bucket_start, key_id, key_alias, team, model,"
            " deployment_id, provider, status, requests, errors, prompt_tokens, completion_tokens,"
            " cached_tokens, reasoning_tokens, spend, latency_sum_ms, ttft_count, ttft_sum_ms, "
            + ", ".join(hist) + f") SELECT {grain}, (started_at_ms / {grain * 1000}) * {grain},"
            " key_id, COALESCE(key_alias, ''), COALESCE(team, ''), model, deployment_id, provider,"
            " status, COUNT(*), SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(prompt_tokens),"
            " SUM(completion_tokens), SUM(cached_tokens), SUM(reasoning_tokens), SUM(cost_usd),"
            " SUM(latency_ms), COUNT(ttft_ms), COALESCE(SUM(ttft_ms), 0), "
            + ", ".join([in_bucket("latency_ms", i) for i in buckets]
                        + [in_bucket("ttft_ms", i) for i in buckets])
            + " FROM request_log GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9")


def seed(db: Path, rows: int):
    now = int(time.time() * 1000)
    rng = random.Random(7)
    con = sqlite3.connect(db)
    start = time.time()

    def generate():
        for i in range(rows):
            model, provider = MODELS[i % len(MODELS)]
            k = i % 20
            status = 200 if rng.random() > 0.03 else rng.choice([429, 500, 503])
            error = None if status == 200 else {429: "rate_limit", 500: "upstream_error", 503: "unavailable"}[status]
            p, c = rng.randint(10, 2000), rng.randint(5, 800)
            yield (f"seed-{i}", now - rng.randint(0, 30 * 86_400_000), f"key_seed{k:02d}",
                   f"team-{k}", None, model, provider, model, "/v1/chat/completions", status,
                   p, c, 0, (p * 2.5 + c * 10) / 1e6, rng.randint(80, 4000), rng.randint(50, 900), 1,
                   f"{model}-0", model, error, 1)
    con.executemany(
        "INSERT INTO request_log (call_id, started_at_ms, key_id, key_alias, team, model, provider,"
        " upstream_model, route, status, prompt_tokens, completion_tokens, cached_tokens, cost_usd,"
        " latency_ms, ttft_ms, stream, deployment_id, model_group, error_class, attempts)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", generate())
    seeded = time.time()
    roll_up(con)
    con.commit()
    con.close()
    print(f"seeded {rows:,} rows in {seeded - start:.1f} s, rolled up in {time.time() - seeded:.1f} s")


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="console-measure-"))
    mock = start_mock()
    gateway = start_gateway(work, mock.url, config=ui_config(mock.url))
    call(gateway.url, "v1/chat/completions", b'{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}')
    for i in range(20):
        call(gateway.url, "key/generate", f'{{"key_alias":"team-{i}"}}'.encode())
    call(gateway.url, "spend/logs?limit=1")  # flushes the queue: the schema exists
    gateway.stop()
    seed(work / "state" / "sqlite_db.db", rows)
    gateway = start_gateway(work, mock.url, config=ui_config(mock.url))
    results, switches, apis = {}, {}, {}
    try:
        # The gateway's share: each page's main API call, p50 of 5 sequential calls, ms.
        now = int(time.time())
        for name, path in API_CALLS.items():
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                call(gateway.url, path.format(start=now - 86_400, end=now))
                times.append((time.perf_counter() - t0) * 1000)
            apis[name] = sorted(times)[2]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            for name, ready in PAGES.items():
                times = []
                for _ in range(3):
                    context = browser.new_context(viewport=VIEWPORT)
                    context.add_init_script(
                        f"sessionStorage.setItem('llm-gateway.master-key', '{MASTER_KEY}')")
                    context.add_init_script(SHOWN.replace("READY", repr(ready)))
                    page = context.new_page()
                    page.goto(f"{gateway.url}/ui/#/{name}")
                    page.wait_for_selector(ready, state="attached", timeout=60_000)
                    times.append(page.evaluate(TIMINGS))
                    context.close()
                results[name] = times
            # Switching pages inside the console (what an operator does after the first load).
            context = browser.new_context(viewport=VIEWPORT)
            context.add_init_script(f"sessionStorage.setItem('llm-gateway.master-key', '{MASTER_KEY}')")
            page = context.new_page()
            page.goto(f"{gateway.url}/ui/#/health")
            page.wait_for_selector(PAGES["health"], state="attached")
            for name, ready in PAGES.items():
                start = "health" if name != "health" else "try"
                page.evaluate("name => { location.hash = '#/' + name; }", start)
                page.wait_for_selector(PAGES[start], state="attached", timeout=60_000)
                page.evaluate("name => { window.t0 = performance.now(); location.hash = '#/' + name; }", name)
                page.wait_for_selector(ready, state="attached", timeout=60_000)
                switches[name] = page.evaluate("performance.now() - window.t0")
            context.close()
            browser.close()
    finally:
        gateway.stop()
        mock.stop()
    print(f"host: {host_name()}, {rows:,} logged requests; first load of each page, ms (3 fresh contexts)")
    print("| page | first load: data shown (3 fresh contexts) | HTML received / scripts run / last API answer (median run) | switch to it in the console | its API call (p50) |")
    print("|---|---:|---:|---:|---:|")
    for name, times in results.items():
        mid = sorted(times, key=lambda t: t["shown"])[len(times) // 2]
        api = "–" if mid["api"] is None else f"{mid['api']:.0f}"
        print(f"| {name} | " + " / ".join(f"{t['shown']:.0f}" for t in times)
              + f" | {mid['html']:.0f} / {mid['dcl']:.0f} / {api} | {switches[name]:.0f} | {apis[name]:.1f} |")


if __name__ == "__main__":
    main()
